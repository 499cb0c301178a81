"""The hashtags job over replayed published datasets equals the job over the same tweets
given as Streamwatch JSONL.

The tweets are split over the five shapes of ``tests/tweet_shapes.py`` (Airline
Sentiment CSV, Sentiment140, X API v1.1 lines, v2 lines, a saved v2 response),
each file also holding rows that cannot be read. Every file goes through
:class:`ReplaySource` as ``streamwatch tweets --source replay:FILE --speed 0``
would run it; what it emits (the feed's records) is the job's input. The other
run reads the original tweets as JSONL. Both runs must publish the same windows,
tags, counts, ranks and sentiment.
"""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streamwatch.producers.tweets.replay import ReplayConfig, ReplaySource
from tests.tweet_shapes import SHAPES, Src, snowflake

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TAGS = ["Spark", "spark", "SPARK", "Streaming", "data", "Café", "2026", "x_y", "ÉtéChaud"]
MOODS = ["great", "awful", "ok", "love it", "hate this", 'so "good", really']
#: a line each shape cannot read, and where it goes in the file
BROKEN = {"airline": 1, "sentiment140": 1, "v11": 1, "v2_lines": 1, "v2_response": 1}


def make_tweets(n: int = 600) -> list[Src]:
    rng = random.Random(22)
    tweets = []
    for i in range(n):
        tags = " ".join("#" + rng.choice(TAGS) for _ in range(rng.randint(0, 3)))
        when = T0 + timedelta(seconds=i)
        tweets.append(Src(snowflake(when, i % 4096), when, f"user{i % 37}", "en",
                          f"{rng.choice(MOODS)} {tags}".strip()))
    return tweets


def add_broken_record(shape: str, path: Path) -> None:
    """One unreadable record in the middle of the file, as real dumps have them."""
    data = path.read_bytes()
    if shape == "v2_response":
        doc = orjson.loads(data)
        doc["data"].insert(3, {"id": "1", "author_id": "2"})  # no text, no usable time
        path.write_bytes(orjson.dumps(doc, option=orjson.OPT_INDENT_2))
        return
    eol = b"\r" if shape == "sentiment140" else b"\n"
    lines = data.split(eol)
    bad = {"airline": b"12,neutral,1.0,,,United,,x,,0,text,,not a date,,",
           "sentiment140": b'"4","42","Mon May 11 03:17:40 UTC 2009","NO_QUERY"',
           "v11": b'{"id_str": "3", "created_at": "Wed Oct 10 20:19:24 +0000 2018"',
           "v2_lines": b'{"data": {"id": "5", "text": 17}}'}[shape]
    lines.insert(4, bad)
    path.write_bytes(eol.join(lines))


def replay(path: Path) -> tuple[list[bytes], int]:
    """The records ``streamwatch tweets --source replay:PATH --speed 0`` would serve."""
    emitted: list[bytes] = []
    source = ReplaySource(ReplayConfig(path, speed=0), registry=CollectorRegistry())
    source.run(lambda feed, payloads: emitted.extend(payloads), threading.Event())
    return emitted, source.stats.malformed


def run_hashtags(spark: Any, source: Path, tmp: Path) -> list[dict[str, Any]]:
    from streamwatch.processor.cli import job_args
    from streamwatch.processor.hashtags import job as hashtags

    out = tmp / "out"
    args = job_args("hashtags", [
        "--source", f"file:{source}", "--sink", f"jsonl:{out}",
        "--checkpoint", str(tmp / "ck"), "--trigger", "available-now",
        "--window", "120s", "--slide", "60s", "--watermark", "60s", "--top", "5",
        "--sentiment-window", "120s"])
    before = {q.id for q in spark.streams.active}
    queries = hashtags.start(spark, args)
    started = before | {q.id for q in queries}
    mine = [*queries, *(q for q in spark.streams.active if q.id not in started)]
    try:
        for q in mine:
            q.awaitTermination(240)
            assert q.exception() is None
    finally:
        for q in mine:
            q.stop()
    return [orjson.loads(x) for p in sorted(out.rglob("*.jsonl"))
            for x in p.read_bytes().splitlines()]


def by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["window_start"], r.get("hashtag", "*")): r for r in rows}


@pytest.mark.spark
@pytest.mark.slow
def test_hashtags_over_replayed_datasets_equal_the_same_tweets_as_jsonl(
        spark: Any, tmp_path: Path) -> None:
    tweets = make_tweets()
    shapes = list(SHAPES)
    replayed: list[bytes] = []
    for k, shape in enumerate(shapes):
        name, writer = SHAPES[shape]
        path = tmp_path / "published" / name
        path.parent.mkdir(exist_ok=True)
        writer(path, tweets[k::len(shapes)])
        add_broken_record(shape, path)
        records, malformed = replay(path)
        assert (len(records), malformed) == (len(tweets[k::len(shapes)]), BROKEN[shape])
        replayed += records
    (tmp_path / "replayed").mkdir()
    (tmp_path / "replayed" / "tweets.jsonl").write_bytes(b"\n".join(replayed) + b"\n")
    (tmp_path / "own").mkdir()
    (tmp_path / "own" / "tweets.jsonl").write_bytes(
        b"\n".join(orjson.dumps(t.tweet()) for t in tweets) + b"\n")

    got = by_key(run_hashtags(spark, tmp_path / "replayed" / "tweets.jsonl",
                              tmp_path / "job-replayed"))
    want = by_key(run_hashtags(spark, tmp_path / "own" / "tweets.jsonl", tmp_path / "job-own"))
    # 10:00-10:09:59, 60 s watermark: 8 closed 2-minute trend windows (09:59-10:06) of 5
    # tags each (of 6), and 4 closed tumbling sentiment windows
    assert len([k for k in want if k[1] != "*"]) == 8 * 5
    assert len([k for k in want if k[1] == "*"]) == 4
    assert {"spark", "café", "étéchaud"} <= {k[1] for k in want}
    assert got.keys() == want.keys()
    for key, row in want.items():
        assert {k: v for k, v in got[key].items() if k != "sentiment"} == {
            k: v for k, v in row.items() if k != "sentiment"}, key
        assert got[key]["sentiment"] == pytest.approx(row["sentiment"], abs=1e-9), key
