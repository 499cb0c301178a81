"""Feed throughput: events appended by a producer, and records/s read over HTTP.

Three figures, each from real components on 127.0.0.1:

1. ``log_append`` -- :class:`streamwatch.feed.log.FeedLog` alone (default fsync
   policy, batches of 1,000 realistic transaction payloads), in this process;
2. ``producer_append`` -- the real producer process (``streamwatch txns``, or
   ``streamwatch tweets`` with ``--service tweets``) asked for far more than it
   can make; the rate is the growth of ``latest`` seen through the HTTP API,
   from a warm-up after its first append (its start-up and RSS are recorded
   beside it);
3. ``http_range_read`` -- the same producer, restarted almost idle on the data
   it wrote, read front to back through ``GET /v1/feeds/{feed}/records`` in
   pages of ``--max-records-per-request`` by ``--readers`` client threads.

4. ``orjson_parse`` -- the physical limit of a source on these cores: the same
   transaction JSON parsed with ``orjson.loads`` on every core (one process per
   core), next to ``http_range_read`` (what the feed source has to fetch) so the
   ratio feed read / parse limit is measured in one run.

Goals (issue 3): >= 50,000 events/s appended, >= 200,000 records/s range read.

Usage::

    python -m bench.bench_feed            # ~1.5 minutes
    python -m bench.bench_feed --quick    # ~15 s, what `make test-bench` runs

Prints a table and writes ``bench/results/feed.json`` (``feed-quick.json``), in
the format of ``bench/common.py``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import requests

from bench.common import ratio, record, result, rss_bytes, utc_now
from bench.ports import free_port
from streamwatch.cli import SUBCOMMANDS
from streamwatch.feed.client import FeedClient, FeedError
from streamwatch.feed.log import FeedLog

HERE = Path(__file__).resolve().parent
GOALS = {"producer_append": 50_000, "http_range_read": 200_000}
FEED_OF = {"txns": "transactions", "tweets": "tweets"}
_TXN = (b'{"txn_id":"t-%09d","event_time":"2026-11-20T10:15:03.120Z","card_id":"c-004211",'
        b'"customer_id":"u-004211","amount":"42.10","currency":"USD","merchant_id":"m-00071",'
        b'"merchant_category":"grocery","channel":"pos","lat":40.71,"lon":-74.01,'
        b'"country":"US"}')


# Runs one subcommand's module directly (its add_arguments + main, exactly what
# `streamwatch <service>` runs), so the benchmark does not depend on every other
# subcommand being importable.
_LAUNCH = """
import argparse, importlib, sys
module = importlib.import_module(sys.argv[1])
parser = argparse.ArgumentParser()
module.add_arguments(parser)
sys.exit(module.main(parser.parse_args(sys.argv[2:])))
"""


class _Producer:
    """``streamwatch <service>`` as a child process on free ports."""

    def __init__(self, service: str, data_dir: Path, rate: float, log_path: Path,
                 new_world: bool = False) -> None:
        self.http_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCH, SUBCOMMANDS[service][0], "--seed", "1",
             "--rate", str(rate), "--http-port", str(self.http_port),
             "--socket-port", str(free_port()), "--data-dir", str(data_dir),
             "--retention-bytes", "0", *(["--new-world"] if new_world else [])],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"producer exited {self.proc.returncode}; see {log_path}")
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"producer did not become ready; see {log_path}")
            time.sleep(0.1)

    def latest(self, feed: str) -> int:
        with FeedClient(self.url, feed, timeout=5) as client:
            return client.end_offset()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=30)
        self._log.close()
        return code


def bench_log_append(seconds: float, data_dir: Path) -> dict[str, Any]:
    batch = [_TXN % i for i in range(1000)]
    with FeedLog.open(data_dir, "bench", fsync="interval") as log:
        started = time.perf_counter()
        appended = 0
        while time.perf_counter() - started < seconds:
            log.append_many(batch)
            appended += len(batch)
        log.flush()
        elapsed = time.perf_counter() - started
        size = log.size_bytes
    return {"events": appended, "seconds": elapsed, "per_second": appended / elapsed,
            "bytes_per_event": size / appended}


def bench_producer_append(service: str, seconds: float, warmup: float, data_dir: Path,
                          log_path: Path, rate: float) -> dict[str, Any]:
    """The producer's sustained append rate, counted from ``warmup`` seconds after its
    first append: the window must not hold the start-up, which at a high --rate is a
    population of millions of cards whose memory is first touched in the first seconds
    of generating (measured: ~20k/s for ~10 s, then 50-65k/s, at 100,000/s asked)."""
    feed = FEED_OF[service]
    producer = _Producer(service, data_dir, rate=rate, log_path=log_path)
    try:
        ready = time.perf_counter()
        deadline = ready + 120
        while producer.latest(feed) == 0:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"producer appended nothing in 120 s; see {log_path}")
            time.sleep(0.05)
        first_append_s = time.perf_counter() - ready
        time.sleep(warmup)
        first, t0 = producer.latest(feed), time.perf_counter()
        time.sleep(seconds)
        last, t1 = producer.latest(feed), time.perf_counter()
        rss = rss_bytes(producer.proc.pid) / 2**20
    finally:
        code = producer.stop()
    return {"service": service, "feed": feed, "events": last - first, "seconds": t1 - t0,
            "per_second": (last - first) / (t1 - t0), "exit_code": code,
            "ready_to_first_append_s": first_append_s, "warmup_s": warmup,
            "rss_mib": rss}


def bench_http_read(service: str, data_dir: Path, readers: int, max_records: int,
                    log_path: Path) -> dict[str, Any]:
    feed = FEED_OF[service]
    # serves the feed the append run wrote; at another --rate that is another world
    producer = _Producer(service, data_dir, rate=1, log_path=log_path, new_world=True)
    try:
        end = min(producer.latest(feed), max_records)
        share = -(-end // readers)
        counts = [0] * readers
        errors: list[str] = []

        def read(i: int) -> None:
            # the client the feed source reads with, so the figure includes its checks
            with FeedClient(producer.url, feed, timeout=30) as client:
                try:
                    for page in client.pages(i * share, min((i + 1) * share, end)):
                        counts[i] += len(page.lines)
                except FeedError as exc:
                    errors.append(str(exc)[:300])

        threads = [threading.Thread(target=read, args=(i,)) for i in range(readers)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
    finally:
        producer.stop()
    if errors:
        raise RuntimeError(f"range reads failed: {errors[:3]}")
    total = sum(counts)
    return {"records": total, "seconds": elapsed, "per_second": total / elapsed,
            "readers": readers, "feed": feed}


def _parse_worker(seconds: float, queue: Any) -> None:
    lines = [_TXN % i for i in range(1000)]
    loads = orjson.loads
    parsed = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for line in lines:
            loads(line)
        parsed += len(lines)
    queue.put((parsed, time.perf_counter() - started))


def bench_orjson_parse(seconds: float, workers: int) -> dict[str, Any]:
    """``orjson.loads`` of a transaction event in ``workers`` processes at once."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_parse_worker, args=(seconds, queue)) for _ in range(workers)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    total = sum(n for n, _ in results)
    return {"events": total, "workers": workers, "per_second": sum(n / t for n, t in results),
            "per_second_per_core": sum(n / t for n, t in results) / workers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_feed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short run (~15 s)")
    parser.add_argument("--service", choices=sorted(FEED_OF), default="txns",
                        help="producer to measure (default: txns)")
    parser.add_argument("--rate", type=float, default=100_000,
                        help="--rate asked of the producer; above what it can make, so the "
                        "figure is its ceiling (default: 100000)")
    parser.add_argument("--readers", type=int, default=1, help="concurrent HTTP readers")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for the JSON result (default bench/results or "
                             "$STREAMWATCH_BENCH_RESULTS)")
    args = parser.parse_args(argv)
    seconds = 3.0 if args.quick else 10.0
    # the producer appends in blocks (up to a second of event time each), so its window
    # is longer than the others' to hold many blocks
    producer_seconds, producer_warmup = (3.0, 1.0) if args.quick else (30.0, 15.0)
    read_cap = 200_000 if args.quick else 2_000_000
    started_at, t0 = utc_now(), time.monotonic()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="bench-feed-") as tmp:
        work = Path(tmp)
        results["log_append"] = bench_log_append(seconds, work / "log")
        results["producer_append"] = bench_producer_append(
            args.service, producer_seconds, producer_warmup, work / "producer",
            work / "producer.log", args.rate)
        results["http_range_read"] = bench_http_read(
            args.service, work / "producer", args.readers, read_cap, work / "reader.log")
    results["orjson_parse"] = bench_orjson_parse(seconds, os.cpu_count() or 1)
    figures = {
        "log_append_per_s": results["log_append"]["per_second"],
        "producer_append": results["producer_append"]["per_second"],
        "http_range_read": results["http_range_read"]["per_second"],
        "bytes_per_event": results["log_append"]["bytes_per_event"],
        "producer_ready_to_first_append_s":
            results["producer_append"]["ready_to_first_append_s"],
        "producer_rss_mib": results["producer_append"]["rss_mib"],
        "readers": args.readers, "service": args.service,
    }
    baseline = {
        "orjson_parse_all_cores_per_s": results["orjson_parse"]["per_second"],
        "orjson_parse_per_core_per_s": results["orjson_parse"]["per_second_per_core"],
    }
    ratios = {
        "http_range_read_vs_orjson_parse": ratio(figures["http_range_read"],
                                                 baseline["orjson_parse_all_cores_per_s"]),
        "producer_append_vs_goal": ratio(figures["producer_append"],
                                         GOALS["producer_append"]),
        "http_range_read_vs_goal": ratio(figures["http_range_read"],
                                         GOALS["http_range_read"]),
    }
    doc = result("feed", quick=args.quick, started_at=started_at,
                 seconds=round(time.monotonic() - t0, 1), figures=figures, baseline=baseline,
                 ratios=ratios, goals={k: {"min": v} for k, v in GOALS.items()},
                 notes=["orjson_parse: the same transaction JSON parsed with orjson.loads in one "
                        "process per core, the ceiling for any source that has to parse it; "
                        "http_range_read: one client thread reading the feed API front to back.",
                        "producer_append is sustained, from a warm-up after the first append: "
                        "the default population at a high --rate is millions of cards "
                        "(producer_rss_mib), whose memory is first touched in the first "
                        "seconds of generating, which run at a fraction of the figure."],
                 extra={"details": results, "goal_labels": {
                     "producer_append": f"`streamwatch {args.service}` with its default flags "
                                        f"asked for {args.rate:,.0f}/s, more than it can make "
                                        "(its default population for that rate); "
                                        f"{producer_seconds:g} s from {producer_warmup:g} s "
                                        "after its first append, latest offset read over "
                                        "HTTP",
                     "http_range_read": f"{args.readers} client thread(s) reading the feed "
                                        "front to back over the HTTP API, default page size"}})
    print(f"{'measure':<18} {'rate':>14}   goal")
    for key, unit in (("log_append", "events/s"), ("producer_append", "events/s"),
                      ("http_range_read", "records/s"), ("orjson_parse", "events/s")):
        goal = GOALS.get(key)
        rate = results[key]["per_second"]
        verdict = "" if goal is None else f">= {goal:,} {'met' if rate >= goal else 'MISSED'}"
        print(f"{key:<18} {rate:>14,.0f}   {unit} {verdict}")
    out = args.out
    record(doc, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
