"""Processor benchmarks: hashtags job events/s, feed source vs Spark's socket source.

Key concepts:
- ``hashtags``: N synthetic tweets (500 per second of event time, 0-3 tags
  each) in FILES JSONL files; the hashtags job runs ``available-now`` in
  ``local[2]`` with two files per micro-batch (2M tweets: ten batches of
  200k). The figure is the *sustained* rate: rows / summed batch time over
  every data batch but the first (which pays Python worker start-up and code
  generation), after one warm-up run of the job on 400k tweets (the JIT
  compiles the JVM's hot paths over the first batches of a session; a job
  that has run for a minute has paid that). It runs at several
  ``--sentiment-sample`` values (0 = counting only; VADER costs 30-80 us a text)
  and, counting only, at window/slide ratios 1, 5 and 15 (the pane design
  should make the ratio nearly free).
- Baseline, same input, same session, same batches: a query that only reads
  and parses the tweets (``sources.read_stream`` into the ``noop`` sink), the
  physical limit of any job over this source on these cores; and ``orjson``
  parsing the same lines on every core.
- ``feed vs socket``: the same N JSON lines served by an in-process server
  speaking the feed API and by a TCP line server; the same word-count query
  reads each; rows/s from the sum of ``numInputRows`` over the time until all
  N were processed. Goal: feed/socket >= 1.0.

Usage::

    python -m bench.bench_processor            # 2M tweets, ~9 minutes
    python -m bench.bench_processor --quick    # 30k tweets, ~1 minute (make test)

Expected output: a summary (``print_figures``) and
``bench/results/processor.json`` (``processor-quick.json``) in the format of
``bench/common.py``.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import random
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
from werkzeug.wrappers import Request, Response

from bench.common import (
    batch_rate_points,
    ratio,
    record,
    result,
    series,
    utc_now,
)

logging.getLogger("werkzeug").setLevel(logging.WARNING)

WORDS = ("spark", "streaming", "data", "fast", "great", "awful", "love", "hate", "launch",
         "day", "model", "cloud", "query", "stream", "window", "watermark", "state")
TAGS = ("Spark", "streaming", "data", "AI", "ML", "cloud", "bigdata", "python", "Café")
GOAL_EPS = 100_000
WARM_TWEETS = 400_000  # two batches of the hashtags job, before any measurement


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


def write_files(directory: Path, lines: list[bytes], files: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    per = -(-len(lines) // files)
    for i in range(files):
        chunk = lines[i * per:(i + 1) * per]
        (directory / f"part-{i:04d}.jsonl").write_bytes(b"\n".join(chunk) + b"\n")


def _steady(progress: list[dict[str, Any]]) -> dict[str, Any]:
    """Sustained rows/s over the data batches after the first, plus per-batch points."""
    data = [p for p in progress if p["numInputRows"]]
    steady = data[1:] if len(data) > 1 else data
    rows = sum(p["numInputRows"] for p in steady)
    ms = sum(p["durationMs"]["triggerExecution"] for p in steady)
    return {"eps": round(rows / ms * 1000) if ms else None, "batches": len(data),
            "first_batch_s": data[0]["durationMs"]["triggerExecution"] / 1000 if data else None,
            "points": batch_rate_points(data)}


def bench_hashtags(spark: Any, data: Path, work: Path, *, sample: float, window: str,
                   slide: str) -> dict[str, Any]:
    from streamwatch.processor.cli import job_args
    from streamwatch.processor.hashtags import job as hashtags

    name = f"h-{sample}-{window}-{slide}"
    args = job_args("hashtags", [
        "--source", f"file:{data}", "--sink", f"jsonl:{work / name / 'out'}",
        "--checkpoint", str(work / name / "ck"), "--trigger", "available-now",
        "--sentiment-sample", str(sample), "--window", window, "--slide", slide,
        "--max-files-per-trigger", "2"])
    before = {q.id for q in spark.streams.active}
    t0 = time.perf_counter()
    (query,) = hashtags.start(spark, args)
    for q in [query, *(q for q in spark.streams.active if q.id not in before)]:
        q.awaitTermination()
    out = _steady(list(query.recentProgress))
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


def bench_parse_only(spark: Any, data: Path, work: Path) -> dict[str, Any]:
    """The baseline: read and parse the same tweets, same batches, nothing else."""
    from streamwatch.contracts.events import Tweet
    from streamwatch.processor.io.sources import read_stream

    df = read_stream(spark, f"file:{data}", Tweet.DDL, options={"maxFilesPerTrigger": "2"})
    query = (df.writeStream.format("noop").trigger(availableNow=True)
             .option("checkpointLocation", str(work / "parse-ck")).start())
    query.awaitTermination()
    return _steady(list(query.recentProgress))


def _orjson_worker(lines: list[bytes], seconds: float, out: Any) -> None:
    n, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for line in lines:
            orjson.loads(line)
        n += len(lines)
    out.put(n / seconds)


def orjson_all_cores(lines: list[bytes], seconds: float) -> float:
    cores = os.cpu_count() or 1
    queue: Any = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_orjson_worker, args=(lines[:20_000], seconds, queue))
             for _ in range(cores)]
    for p in procs:
        p.start()
    total = sum(queue.get() for _ in procs)
    for p in procs:
        p.join()
    return total


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
    from streamwatch.core.http import Server
    from streamwatch.processor.io.sources import read_lines
    from streamwatch.processor.wordcount.job import word_counts

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
    done = threading.Event()

    def serve() -> None:
        conn, _ = tcp.accept()
        with conn:
            conn.sendall(b"".join(x + b"\n" for x in lines))
            done.wait(600)

    threading.Thread(target=serve, daemon=True).start()
    df = read_lines(spark, f"socket:127.0.0.1:{tcp.getsockname()[1]}")
    q = (word_counts(df).writeStream.outputMode("update").format("noop")
         .option("checkpointLocation", str(work / "socket-ck")).start())
    socket_rps = _rate_until(q, len(lines))
    q.stop()
    done.set()
    tcp.close()
    return feed_rps, socket_rps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_processor", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30k tweets, one sample, ~1 min")
    parser.add_argument("--tweets", type=int, default=2_000_000)
    parser.add_argument("--files", type=int, default=20, help="input files (2 per batch)")
    parser.add_argument("--lines", type=int, default=200_000, help="feed vs socket lines")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--samples", default="0,0.1,1.0",
                        help="--sentiment-sample values to run (comma separated)")
    parser.add_argument("--ratios", default="1,5,15",
                        help="window/slide ratios to run counting only (slide 1m)")
    args = parser.parse_args(argv)
    if args.quick:  # proves the code paths, not a measurement
        args.tweets, args.files, args.lines = 30_000, 3, 10_000
        args.samples, args.ratios = "0.1", ""
    started_at, t0 = utc_now(), time.monotonic()

    from streamwatch.processor.session import build_session

    spark = build_session(args.master, "bench-processor")
    figures: dict[str, Any] = {"tweets": args.tweets, "master": args.master}
    baseline: dict[str, Any] = {}
    ratios: dict[str, Any] = {}
    plotted: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-processor-") as tmp:
        work = Path(tmp)
        tweets = make_tweets(args.tweets)
        write_files(work / "tweets", tweets, args.files)
        if not args.quick:
            # The first queries of a JVM pay JIT compilation of the parse, state store and
            # aggregation paths for several batches; a running job has long paid it.
            bench_parse_only(spark, work / "tweets", work / "warm")
            write_files(work / "warm-tweets", tweets[:WARM_TWEETS], 4)
            bench_hashtags(spark, work / "warm-tweets", work / "warm", sample=0.0,
                           window="5m", slide="1m")
        parse = bench_parse_only(spark, work / "tweets", work)
        baseline["parse_only_eps"] = parse["eps"]
        baseline["orjson_parse_all_cores_per_s"] = round(orjson_all_cores(tweets, 3.0))
        runs: dict[tuple[float, str], dict[str, Any]] = {}  # one run per configuration

        def hashtags_run(sample: float, window: str) -> dict[str, Any]:
            if (sample, window) not in runs:
                runs[sample, window] = bench_hashtags(spark, work / "tweets", work,
                                                      sample=sample, window=window, slide="1m")
            return runs[sample, window]

        for s in [float(x) for x in args.samples.split(",")]:
            run = hashtags_run(s, "5m")
            key = f"hashtags_eps_sample_{s:g}"
            figures[key] = run["eps"]
            figures[f"hashtags_first_batch_s_sample_{s:g}"] = run["first_batch_s"]
            ratios[f"{key}_vs_parse_only"] = ratio(run["eps"], parse["eps"])
            plotted.append(series(f"hashtags sample {s:g}", run["points"], unit="events/s",
                                  plot="hashtags_batches"))
            details[key] = run
        for r in [int(x) for x in args.ratios.split(",") if x]:
            run = hashtags_run(0.0, f"{r}m")
            figures[f"hashtags_eps_window_over_slide_{r}"] = run["eps"]
            details[f"ratio_{r}"] = run
        feed_rps, socket_rps = bench_wordcount(spark, make_tweets(args.lines, 2), work)
    spark.stop()
    figures.update(feed_rps=round(feed_rps), socket_rps=round(socket_rps))
    ratios["feed_over_socket"] = ratio(feed_rps, socket_rps)
    goals: dict[str, dict[str, float]] = {
        k: {"min": GOAL_EPS} for k in figures if k.startswith("hashtags_eps_sample_")}
    goals["feed_over_socket"] = {"min": 1.0}
    doc = result(
        "processor", quick=args.quick, started_at=started_at,
        seconds=round(time.monotonic() - t0, 1), figures=figures, baseline=baseline,
        ratios=ratios, goals=goals, series=plotted,
        notes=["hashtags_eps_*: sustained rows/s over every data batch but the first "
               "(2 input files per batch), after a warm-up run of the job in the same "
               "session; job defaults otherwise (5m/1m windows, dedup by id, in-memory "
               "state store).",
               "parse_only_eps: the same input read and parsed into the noop sink, same batches.",
               "feed/socket: the same word-count query over the feed Data Source and over "
               "Spark's socket source."],
        extra={"details": details})
    record(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
