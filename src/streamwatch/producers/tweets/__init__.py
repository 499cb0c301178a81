"""tweet-ingester: turns synthetic, recorded or live X tweets into the ``tweets`` feed.

Sources (each a :class:`streamwatch.feed.sources.Source` emitting to ``tweets``):

- :mod:`streamwatch.producers.tweets.synthetic` — seedable generator with a long-tail hashtag
  distribution, scheduled trending bursts and multilingual, mixed-sentiment text;
- :mod:`streamwatch.producers.tweets.replay` — tweet datasets as published (CSV, Sentiment140,
  X API v1.1/v2 JSON), paced by ``created_at``;
- :mod:`streamwatch.producers.tweets.xapi` — the X API v2 filtered stream.

``streamwatch tweets`` (:mod:`streamwatch.producers.tweets.cli`) puts one of them behind the
shared producer runtime (feed log, feed HTTP API, line socket).
"""
