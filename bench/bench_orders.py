"""Orders job benchmark: events/s counting per minute and status, next to parse-only.

Key concepts:
- Input: N order events from the order simulator (``--order-rate`` 2,000
  orders a second of event time, ``--time-scale 14400`` so shipments and deliveries follow within
  the run, 2 % resends, 3 s of disorder) in FILES JSONL files, one file per
  micro-batch (1M events: five batches of 200k).
- ``orders``: ``streamwatch process orders`` on those files, ``available-now``
  in ``local[2]``: parse in the JVM, each batch as Arrow to the minute store
  (late events, dedup by event_id, counts per minute/status/category/region,
  time-since-purchase percentiles), rows to a JSONL sink. The figure is the
  *sustained* rate: rows / summed batch time over every data batch but the
  first (Python and JIT start-up), after one warm-up run in the same session
  (full run only).
- Baseline, same input, same session, same batches: a query that only reads
  and parses the events (``sources.read_stream`` into the ``noop`` sink), the
  limit of any job over this source on these cores.

Usage::

    python -m bench.bench_orders            # 1M events, a few minutes
    python -m bench.bench_orders --quick    # 30k events, ~1 minute (make test)

Expected output: a summary (``print_figures``) and ``bench/results/orders.json``
(``orders-quick.json``) in the format of ``bench/common.py``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import batch_rate_points, ratio, record, result, series, utc_now

logging.getLogger("py4j").setLevel(logging.WARNING)

GOAL_EPS = 100_000


def make_events(n: int, rate: float, seed: int = 1) -> list[bytes]:
    from streamwatch.contracts.events import parse_ts
    from streamwatch.producers.orders.simulator import OrderConfig, OrderGenerator

    config = OrderConfig(seed=seed, rate=rate, time_scale=14_400, duplicate_rate=0.02,
                         disorder_s=3,
                         anchor_ms=int(parse_ts("2026-11-20T10:00:00Z").timestamp() * 1000))
    return OrderGenerator(config).take(n)


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


def bench_orders_job(spark: Any, data: Path, work: Path, name: str) -> dict[str, Any]:
    from streamwatch.processor.cli import job_args
    from streamwatch.processor.orders import job as orders

    args = job_args("orders", [
        "--source", f"file:{data}", "--sink", f"jsonl:{work / name / 'out'}",
        "--checkpoint", str(work / name / "ck"), "--trigger", "available-now",
        "--max-files-per-trigger", "1"])
    before = {q.id for q in spark.streams.active}
    t0 = time.perf_counter()
    (query,) = orders.start(spark, args)
    for q in [query, *(q for q in spark.streams.active if q.id not in before)]:
        q.awaitTermination()
    out = _steady(list(query.recentProgress))
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    out["rows_written"] = sum(1 for p in (work / name / "out").glob("*.jsonl")
                              for _ in p.open("rb"))
    return out


def bench_parse_only(spark: Any, data: Path, work: Path, name: str) -> dict[str, Any]:
    """The baseline: read and parse the same events, same batches, nothing else."""
    from streamwatch.contracts.events import OrderEvent
    from streamwatch.processor.io.sources import read_stream

    df = read_stream(spark, f"file:{data}", OrderEvent.DDL, options={"maxFilesPerTrigger": "1"})
    query = (df.writeStream.format("noop").trigger(availableNow=True)
             .option("checkpointLocation", str(work / name)).start())
    query.awaitTermination()
    return _steady(list(query.recentProgress))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_orders", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30k events, ~1 min")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--files", type=int, default=5, help="input files (1 per batch)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--order-rate", type=float, default=2000.0,
                        help="orders purchased per second of event time in the input")
    args = parser.parse_args(argv)
    if args.quick:  # proves the code paths, not a measurement
        # a slow stream, so that its ~3 minutes of event time make minutes final
        args.events, args.files, args.order_rate = 30_000, 3, 50.0
    started_at, t0 = utc_now(), time.monotonic()

    from streamwatch.processor.session import build_session

    spark = build_session(args.master, "bench-orders")
    with tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp:
        work = Path(tmp)
        write_files(work / "events", make_events(args.events, args.order_rate), args.files)
        if not args.quick:
            # the first queries of a JVM pay JIT compilation for several batches
            bench_parse_only(spark, work / "events", work, "warm-parse")
            bench_orders_job(spark, work / "events", work, "warm-orders")
        parse = bench_parse_only(spark, work / "events", work, "parse")
        job = bench_orders_job(spark, work / "events", work, "orders")
    spark.stop()
    figures = {"events": args.events, "master": args.master, "orders_eps": job["eps"],
               "orders_first_batch_s": job["first_batch_s"],
               "orders_rows_written": job["rows_written"]}
    doc = result(
        "orders", quick=args.quick, started_at=started_at,
        seconds=round(time.monotonic() - t0, 1), figures=figures,
        baseline={"parse_only_eps": parse["eps"]},
        ratios={"orders_eps_vs_parse_only": ratio(job["eps"], parse["eps"])},
        goals={"orders_eps": {"min": GOAL_EPS}},
        series=[series("orders job", job["points"], unit="events/s", plot="orders_batches"),
                series("parse only", parse["points"], unit="events/s",
                       plot="orders_batches")],
        notes=["orders_eps: sustained rows/s over every data batch but the first (one input "
               "file per batch), after a warm-up run of the job in the same session; job "
               "defaults (1 min watermark, 1 h lifecycle horizon).",
               "parse_only_eps: the same input read and parsed into the noop sink, same "
               "batches."],
        extra={"details": {"orders": job, "parse_only": parse}})
    record(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
