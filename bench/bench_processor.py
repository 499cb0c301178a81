"""Processor benchmarks: hashtags job events/s, feed source vs Spark's socket source.

Key concepts:
- ``hashtags``: N synthetic tweets in a JSONL file, the hashtags job with
  ``available-now`` in ``local[2]``; events/s = N / wall time of the run
  (session start excluded). Run at ``--sentiment-sample`` 1.0 and 0.1.
- ``feed vs socket``: the same N JSON lines served by an in-process server
  speaking the feed API and by a TCP line server; the same word-count query
  reads each; rows/s from the sum of ``numInputRows`` over the time until
  all N were processed. Goal: feed/socket >= 1.0.

Usage::

    .venv/bin/python bench/bench_processor.py --tweets 200000 --lines 200000

Expected output: one JSON document with the figures, e.g.
``{"hashtags_eps": {"1.0": ..., "0.1": ...}, "feed_rps": ..., "socket_rps": ...,
"feed_over_socket": ...}``.
"""

from __future__ import annotations

import argparse
import random
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from werkzeug.wrappers import Request, Response

WORDS = ("spark", "streaming", "data", "fast", "great", "awful", "love", "hate", "launch",
         "day", "model", "cloud", "query", "stream", "window", "watermark", "state")
TAGS = ("Spark", "streaming", "data", "AI", "ML", "cloud", "bigdata", "python", "Café")


def make_tweets(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(8)) + " " + " ".join(
            "#" + rng.choice(TAGS) for _ in range(rng.randint(0, 3)))
        ms = i * 2  # 500 tweets per second of event time
        out.append(orjson.dumps({
            "id": str(i), "created_at": f"2026-11-20T{10 + ms // 3_600_000:02d}:"
            f"{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z",
            "user": "u", "lang": "en", "text": text}))
    return out


def bench_hashtags(spark: Any, path: Path, n: int, sample: float, work: Path) -> float:
    from streamwatch_processor.cli import job_args
    from streamwatch_processor.jobs import hashtags

    args = job_args("hashtags", [
        "--source", f"file:{path}", "--sink", f"jsonl:{work / 'out'}",
        "--checkpoint", str(work / "ck"), "--trigger", "available-now",
        "--sentiment-sample", str(sample)])
    t0 = time.perf_counter()
    for q in hashtags.start(spark, args):
        q.awaitTermination()
    for q in spark.streams.active:
        q.awaitTermination()
    return n / (time.perf_counter() - t0)


class _Feed:
    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def __call__(self, environ: dict, start_response: Any) -> Any:
        req = Request(environ)
        if req.path.endswith("/offsets"):
            resp = Response(orjson.dumps({"earliest": 0, "latest": len(self.lines)}))
        else:
            start, end = int(req.args["start"]), int(req.args["end"])
            stop = min(end, len(self.lines), start + 10_000)
            resp = Response(b"".join(x + b"\n" for x in self.lines[start:stop]),
                            headers={"X-Streamwatch-End": str(stop)})
        return resp(environ, start_response)


def _rate_until(query: Any, n: int, timeout: float = 600) -> float:
    deadline = time.monotonic() + timeout
    seen, t0 = 0, None
    while seen < n and time.monotonic() < deadline:
        progress = query.recentProgress
        seen = sum(p["numInputRows"] for p in progress)
        if t0 is None and progress:
            t0 = time.perf_counter() - progress[0]["durationMs"].get("triggerExecution", 0) / 1e3
        time.sleep(0.2)
    elapsed = time.perf_counter() - (t0 or time.perf_counter())
    return seen / elapsed if elapsed > 0 else 0.0


def bench_wordcount(spark: Any, lines: list[bytes], work: Path) -> tuple[float, float]:
    from streamwatch.httpkit import Server
    from streamwatch_processor.jobs.wordcount import word_counts
    from streamwatch_processor.sources import read_lines

    server = Server(_Feed(lines), "127.0.0.1", 0).start()
    try:
        df = read_lines(spark, f"feed:http://127.0.0.1:{server.port}/tweets")
        q = (word_counts(df).writeStream.outputMode("update").format("noop")
             .option("checkpointLocation", str(work / "feed-ck")).start())
        feed_rps = _rate_until(q, len(lines))
        q.stop()
    finally:
        server.stop()

    tcp = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = tcp.accept()
        with conn:
            conn.sendall(b"".join(x + b"\n" for x in lines))
            time.sleep(600)

    threading.Thread(target=serve, daemon=True).start()
    df = read_lines(spark, f"socket:127.0.0.1:{tcp.getsockname()[1]}")
    q = (word_counts(df).writeStream.outputMode("update").format("noop")
         .option("checkpointLocation", str(work / "socket-ck")).start())
    socket_rps = _rate_until(q, len(lines))
    q.stop()
    tcp.close()
    return feed_rps, socket_rps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tweets", type=int, default=200_000)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--samples", default="1.0,0.1")
    opts = parser.parse_args()

    from streamwatch_processor.session import build_session

    spark = build_session(opts.master, "bench-processor")
    result: dict[str, Any] = {"master": opts.master, "tweets": opts.tweets, "lines": opts.lines}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "tweets.jsonl"
        data.write_bytes(b"\n".join(make_tweets(opts.tweets)) + b"\n")
        result["hashtags_eps"] = {
            s: round(bench_hashtags(spark, data, opts.tweets, float(s), work / f"h{s}"))
            for s in opts.samples.split(",")}
        feed_rps, socket_rps = bench_wordcount(spark, make_tweets(opts.lines, 2), work)
        result.update(feed_rps=round(feed_rps), socket_rps=round(socket_rps),
                      feed_over_socket=round(feed_rps / socket_rps, 2) if socket_rps else None)
    spark.stop()
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
