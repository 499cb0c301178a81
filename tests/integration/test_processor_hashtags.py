"""The hashtags job equals an independent exact count of the same input.

The input has duplicate deliveries (same id), repeated tags in one tweet,
mixed case, non-ASCII tags and malformed lines. The reference below counts
in plain Python: dedupe by id, extract tags, assign each tweet to every
sliding window that contains it, count, rank by (count desc, tag asc).
The job runs with ``available-now``; every window whose end is at or before
the final watermark (max event time - watermark) must be emitted, exactly.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from streamwatch.contracts.events import format_ts
from streamwatch.processor.hashtags.rule import extract_hashtags

WINDOW, SLIDE, WATERMARK, TOP = 120, 60, 60, 3
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
TAGS = ["Spark", "spark", "Streaming", "data", "Café", "ﬁre", "2026", "x_y"]


def make_input(path: Path, n: int = 1_200) -> list[dict]:
    rng = random.Random(7)
    tweets = []
    for i in range(n):
        tags = " ".join("#" + rng.choice(TAGS) for _ in range(rng.randint(0, 3)))
        mood = rng.choice(["great", "awful", "ok", "love it", "hate this"])
        ts = T0 + timedelta(seconds=i * 0.5 + rng.random() * 0.4)
        tweets.append({"id": f"t{i}", "created_at": format_ts(ts), "user": "u",
                       "lang": "en", "text": f"{mood} {tags} {tags.split(' ')[0]}"})
    lines = [orjson.dumps(t) for t in tweets]
    lines += [orjson.dumps(t) for t in tweets[::50]]  # redelivered tweets
    rng.shuffle(lines)
    lines += [b"{not json", b'{"id": null, "text": "#x"}']
    path.write_bytes(b"\n".join(lines) + b"\n")
    return tweets


def windows_of(ts: datetime) -> list[datetime]:
    epoch = int(ts.timestamp())
    last = epoch - epoch % SLIDE
    return [datetime.fromtimestamp(s, UTC) for s in range(last - WINDOW + SLIDE, last + 1, SLIDE)
            if s <= epoch < s + WINDOW]


def reference(tweets: list[dict]) -> dict[tuple[str, str], tuple[int, int, float]]:
    vader = SentimentIntensityAnalyzer()
    counts: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    max_ts = max(datetime.fromisoformat(t["created_at"].replace("Z", "+00:00")) for t in tweets)
    for t in tweets:
        ts = datetime.fromisoformat(t["created_at"].replace("Z", "+00:00"))
        score = vader.polarity_scores(t["text"])["compound"]
        for tag in extract_hashtags(t["text"]):
            for w in windows_of(ts):
                counts[(w, tag)].append(score)
    closed = max_ts - timedelta(seconds=WATERMARK)
    by_window: dict[datetime, list[tuple[str, list[float]]]] = defaultdict(list)
    for (w, tag), scores in counts.items():
        if w + timedelta(seconds=WINDOW) <= closed:
            by_window[w].append((tag, scores))
    out = {}
    for w, items in by_window.items():
        items.sort(key=lambda it: (-len(it[1]), it[0]))
        for rank, (tag, scores) in enumerate(items[:TOP], start=1):
            out[(w.strftime("%Y-%m-%dT%H:%M:%SZ"), tag)] = (
                len(scores), rank, sum(scores) / len(scores))
    return out


def overall_reference(tweets: list[dict], length: int) -> dict[str, tuple[int, float]]:
    """Tweets and mean VADER score per closed tumbling window of ``length`` seconds."""
    vader = SentimentIntensityAnalyzer()
    times = [datetime.fromisoformat(t["created_at"].replace("Z", "+00:00")) for t in tweets]
    closed = max(times) - timedelta(seconds=WATERMARK)
    scores: dict[datetime, list[float]] = defaultdict(list)
    for t, ts in zip(tweets, times, strict=True):
        epoch = int(ts.timestamp())
        scores[datetime.fromtimestamp(epoch - epoch % length, UTC)].append(
            vader.polarity_scores(t["text"])["compound"])
    return {w.strftime("%Y-%m-%dT%H:%M:%SZ"): (len(s), sum(s) / len(s))
            for w, s in scores.items() if w + timedelta(seconds=length) <= closed}


@pytest.mark.spark
@pytest.mark.slow
@pytest.mark.parametrize("sentiment_window", [900, 120])
def test_hashtags_equal_an_exact_reference_count(spark, tmp_path, sentiment_window) -> None:
    from streamwatch.processor.cli import job_args
    from streamwatch.processor.hashtags import job as hashtags

    tweets = make_input(tmp_path / "tweets.jsonl")
    out = tmp_path / "out"
    args = job_args("hashtags", [
        "--source", f"file:{tmp_path / 'tweets.jsonl'}", "--sink", f"jsonl:{out}",
        "--checkpoint", str(tmp_path / "ck"), "--trigger", "available-now",
        "--window", f"{WINDOW}s", "--slide", f"{SLIDE}s", "--watermark", f"{WATERMARK}s",
        "--top", str(TOP), "--sentiment-window", f"{sentiment_window}s",
    ])
    before = {q.id for q in spark.streams.active}
    queries = hashtags.start(spark, args)
    # the job's queries plus its dead-letter side query, not queries of other tests
    started = before | {q.id for q in queries}
    mine = [*queries, *(q for q in spark.streams.active if q.id not in started)]
    try:
        for q in mine:
            q.awaitTermination(240)
            assert q.exception() is None
    finally:
        for q in spark.streams.active:
            q.stop()

    rows = [orjson.loads(x) for p in sorted(out.glob("*.jsonl"))
            for x in p.read_bytes().splitlines()]
    assert all(set(r) == {"window_start", "window_end", "hashtag", "count", "rank",
                          "sentiment"} for r in rows)
    got = {(r["window_start"], r["hashtag"]): (r["count"], r["rank"], r["sentiment"])
           for r in rows}
    want = reference(tweets)
    assert {k: v[:2] for k, v in got.items()} == {k: v[:2] for k, v in want.items()}
    for key, (_c, _r, sentiment) in want.items():
        assert got[key][2] == pytest.approx(sentiment, abs=1e-3)

    dead = [orjson.loads(x) for p in (tmp_path / "ck" / "dead-letter").glob("*.jsonl")
            for x in p.read_bytes().splitlines()]
    assert sorted(d["value"] for d in dead) == ['{"id": null, "text": "#x"}', "{not json"]
    overall = [orjson.loads(x) for p in (out / "sentiment").glob("*.jsonl")
               for x in p.read_bytes().splitlines()]
    want_overall = overall_reference(tweets, sentiment_window)
    # 15 minutes: still open at the end of the input, nothing final yet; 2 minutes: 4 windows
    assert len(want_overall) == (0 if sentiment_window == 900 else 4)
    assert {r["window_start"]: r["tweets"] for r in overall} == {
        w: n for w, (n, _s) in want_overall.items()}
    for r in overall:
        assert r["sentiment"] == pytest.approx(want_overall[r["window_start"]][1], abs=1e-3)


def test_bad_source_spec_is_a_cli_message(tmp_path) -> None:
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "streamwatch.processor.cli", "hashtags", "--source",
         "mqtt:topic", "--checkpoint", str(tmp_path)],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "feed:http://127.0.0.1:7101/tweets" in proc.stderr
