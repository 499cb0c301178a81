"""The same tweets written as the public tweet datasets publish them.

Each ``write_*`` function writes a list of :class:`Src` tweets in one shape, byte
for byte as the dataset (or API) delivers it, and returns what replaying that
file must give: the tweet dicts of the Streamwatch schema, in file order.
The shapes and their quirks:

- Twitter US Airline Sentiment CSV: header of 15 columns, ``tweet_created`` as
  ``2015-02-24 11:35:52 -0800``, the user in ``name``, no language.
- Sentiment140: no header, every field quoted, ``Mon May 11 03:17:40 UTC 2009``
  dates, Latin-1 bytes, CR line endings; no language.
- X API v1.1 statuses, one per line: ``created_at`` as ``Wed Oct 10 20:19:24
  +0000 2018``, numeric ``id`` and ``id_str``, nested ``user``, ``entities``.
- X API v2 stream messages, one per line: ``{"data", "includes"}``.
- An X API v2 search response, pretty-printed: ``data`` list, ``includes.users``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from streamwatch.contracts.events import format_ts

TWITTER_EPOCH_MS = 1288834974657


def snowflake(when: datetime, seq: int = 0) -> int:
    """A tweet id as Twitter issues them: ms since the Twitter epoch << 22, plus a sequence."""
    return ((int(when.timestamp() * 1000) - TWITTER_EPOCH_MS) << 22) | seq


@dataclass(frozen=True)
class Src:
    id: int
    when: datetime  # whole seconds: most shapes carry no milliseconds
    user: str
    lang: str
    text: str

    def tweet(self, user: str | None = None, lang: str | None = None) -> dict[str, Any]:
        return {"id": str(self.id), "created_at": format_ts(self.when),
                "user": self.user if user is None else user,
                "lang": self.lang if lang is None else lang, "text": self.text}


def tags_of(text: str) -> list[str]:
    """The words after ``#`` as written (the API's ``entities.hashtags``)."""
    from streamwatch.processor.hashtags.rule import extract_hashtags

    return extract_hashtags(text)


AIRLINE_HEADER = ["tweet_id", "airline_sentiment", "airline_sentiment_confidence",
                  "negativereason", "negativereason_confidence", "airline",
                  "airline_sentiment_gold", "name", "negativereason_gold", "retweet_count",
                  "text", "tweet_coord", "tweet_created", "tweet_location", "user_timezone"]
PACIFIC = timezone(timedelta(hours=-8))


def write_airline(path: Path, tweets: list[Src]) -> list[dict[str, Any]]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")  # pandas' to_csv, as the Kaggle file was made
    w.writerow(AIRLINE_HEADER)
    for t in tweets:
        local = t.when.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M:%S -0800")
        w.writerow([t.id, "neutral", "1.0", "", "", "Virgin America", "", t.user, "", 0,
                    t.text, "", local, "San Francisco", "Pacific Time (US & Canada)"])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return [t.tweet(lang="und") for t in tweets]


def write_sentiment140(path: Path, tweets: list[Src]) -> list[dict[str, Any]]:
    buf = io.StringIO()
    w = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r")
    for i, t in enumerate(tweets):
        date = t.when.astimezone(UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
        w.writerow([(0, 2, 4)[i % 3], t.id, date, "NO_QUERY", t.user, t.text])
    path.write_bytes(buf.getvalue().encode("latin-1"))
    return [t.tweet(lang="und") for t in tweets]


def v11_status(t: Src) -> dict[str, Any]:
    return {
        "created_at": t.when.astimezone(UTC).strftime("%a %b %d %H:%M:%S +0000 %Y"),
        "id": t.id, "id_str": str(t.id), "text": t.text, "truncated": False,
        "entities": {"hashtags": [{"text": tag, "indices": [0, 0]} for tag in tags_of(t.text)],
                     "urls": [], "user_mentions": []},
        "user": {"id": 6253282, "id_str": "6253282", "name": t.user.title(),
                 "screen_name": t.user}, "lang": t.lang, "retweet_count": 0,
    }


def write_v11(path: Path, tweets: list[Src]) -> list[dict[str, Any]]:
    path.write_bytes(b"\n".join(orjson.dumps(v11_status(t)) for t in tweets) + b"\n")
    return [t.tweet() for t in tweets]


def v2_tweet(t: Src, author_id: str) -> dict[str, Any]:
    return {"id": str(t.id), "text": t.text, "author_id": author_id, "lang": t.lang,
            "created_at": format_ts(t.when), "edit_history_tweet_ids": [str(t.id)],
            "entities": {"hashtags": [{"start": 0, "end": 0, "tag": tag}
                                      for tag in tags_of(t.text)]}}


def write_v2_lines(path: Path, tweets: list[Src]) -> list[dict[str, Any]]:
    lines = []
    for i, t in enumerate(tweets):
        author = str(1000 + i)
        lines.append(orjson.dumps({"data": v2_tweet(t, author), "includes": {"users": [
            {"id": author, "name": t.user.title(), "username": t.user}]},
            "matching_rules": [{"id": "1", "tag": "spark"}]}))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return [t.tweet() for t in tweets]


def write_v2_response(path: Path, tweets: list[Src]) -> list[dict[str, Any]]:
    authors = {u: str(2000 + i) for i, u in enumerate(dict.fromkeys(t.user for t in tweets))}
    doc = {"data": [v2_tweet(t, authors[t.user]) for t in tweets],
           "includes": {"users": [{"id": a, "name": u.title(), "username": u}
                                  for u, a in authors.items()]},
           "meta": {"result_count": len(tweets), "newest_id": str(tweets[-1].id)}}
    path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
    return [t.tweet() for t in tweets]


#: shape name -> (file name, writer)
SHAPES = {
    "airline": ("Tweets.csv", write_airline),
    "sentiment140": ("training.1600000.processed.noemoticon.csv", write_sentiment140),
    "v11": ("statuses.jsonl", write_v11),
    "v2_lines": ("stream.jsonl", write_v2_lines),
    "v2_response": ("search.json", write_v2_response),
}
