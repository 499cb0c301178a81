"""Trending hashtags from the replayable tweet feed, printed per closed window.

Key concepts: the feed data source (exactly-once with the checkpoint), the
hashtags job's streaming aggregation, and a console sink.

Run locally (the tweet-ingester must be running on 7101)::

    streamwatch tweets &
    python -m streamwatch.processor.examples.structured_feed_hashtags \\
        http://127.0.0.1:7101 /tmp/structured_feed_hashtags

Expected output, once the watermark passes a window's end::

    --- trends batch 5: 10 rows
    {"window_start":"2026-11-20T10:10:00Z","window_end":"2026-11-20T10:15:00Z",
     "hashtag":"spark","count":42,"rank":1,"sentiment":0.31}
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: structured_feed_hashtags.py FEED_URL CHECKPOINT_DIR", file=sys.stderr)
        return 2
    from streamwatch.processor.cli import parse_settings
    from streamwatch.processor.hashtags import job as hashtags
    from streamwatch.processor.session import build_session
    from streamwatch.processor.settings import HashtagsSettings

    spark = build_session("local[2]", "structured_feed_hashtags")
    settings = parse_settings(HashtagsSettings, [
        "--source", f"feed:{argv[0].rstrip('/')}/tweets", "--sink", "console",
        "--checkpoint", argv[1]])
    try:
        for query in hashtags.start(spark, settings):
            query.awaitTermination()
    except KeyboardInterrupt:
        pass
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
