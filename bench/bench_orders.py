"""Orders job benchmark: events/s counting per minute and status, next to parse-only.

Key concepts:
- Input: N order events from the order simulator (``--order-rate`` 2,000
  orders a second of event time, ``--time-scale 14400`` so shipments and deliveries follow
  within the run, 2 % resends, 3 s of disorder), appended to the product's feed log and
  served by the feed HTTP app (``bench.paced_producer``, a child process on 127.0.0.1):
  the source a deployment reads.
- ``orders`` (the headline, ``orders_eps``): ``streamwatch process orders`` with its
  default flags over that feed, ``available-now``, batches of ``--batch`` records (200k;
  the job's default is no limit), in ``local[2]``, in a fresh session (no warm-up): parse
  in the JVM, each batch as Arrow to the minute store (late events, dedup by event_id,
  counts per minute/status/category/region, time-since-purchase percentiles), rows to a
  JSONL sink. rows / summed batch time over every data batch, the first included;
  ``orders_steady_eps`` leaves the first (Python and JIT start-up) out.
- Baseline, same feed, same batches, same session, right after: a query that only reads
  and parses the events (``sources.read_stream`` into the ``noop`` sink), the limit of any
  job over this source on these cores. It runs warm, so the ratio flatters the baseline
  by the headline's start-up (compare ``orders_steady_eps``).

Usage::

    python -m bench.bench_orders            # 1M events, ~2 minutes
    python -m bench.bench_orders --quick    # 30k events, ~1 minute (make test-bench)

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

from bench.bench_processor import bench_parse_only, run_job
from bench.common import load_text, ratio, record, result, series, utc_now
from bench.paced_producer import PacedProducer

logging.getLogger("py4j").setLevel(logging.WARNING)

GOAL_EPS = 100_000


def bench_orders_job(spark: Any, spec: str, work: Path, name: str, *,
                     batch: int) -> dict[str, Any]:
    """The orders job over ``spec`` with its default flags, available-now, ``batch`` rows
    a batch."""
    out, _ = run_job(spark, "orders", spec, work, name, batch=batch)
    out["rows_written"] = sum(1 for p in (work / name / "out").glob("*.jsonl")
                              for _ in p.open("rb"))
    return out


def _line(label: str, run: dict[str, Any]) -> str:
    return (f"{label}: {run['eps']:,} events/s over {run['batches']} batches "
            f"({run['rows']:,} rows, first batch {run['first_batch_s']:.1f} s; "
            f"{run['steady_eps']:,}/s without it); {load_text(run['load'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_orders", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30k events, ~1 min")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=200_000,
                        help="records a micro-batch (--max-records-per-trigger)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--order-rate", type=float, default=2000.0,
                        help="orders purchased per second of event time in the input")
    args = parser.parse_args(argv)
    if args.quick:  # proves the code paths, not a measurement
        # a slow stream, so that its ~3 minutes of event time make minutes final
        args.events, args.batch, args.order_rate = 30_000, 10_000, 50.0
    started_at, t0 = utc_now(), time.monotonic()

    from streamwatch.contracts.events import OrderEvent
    from streamwatch.processor.session import build_session

    with tempfile.TemporaryDirectory(prefix="bench-orders-") as tmp:
        work = Path(tmp)
        with PacedProducer(work / "feed", pool="orders", feed="orders", pool_size=args.events,
                           seed=1, order_rate=args.order_rate) as producer:
            filled = producer.fill(args.events)
            print(f"feed holds {filled['latest']:,} order events ({filled['seconds']:.1f} s to "
                  f"append); batches of {args.batch:,}", flush=True)
            spark = build_session(args.master, "bench-orders")
            try:
                job = bench_orders_job(spark, producer.feed_spec, work, "orders",
                                       batch=args.batch)
                print(_line("orders, default flags", job), flush=True)
                parse = bench_parse_only(spark, producer.feed_spec, work, batch=args.batch,
                                         ddl=OrderEvent.DDL)
                print(_line("parse only (baseline)", parse), flush=True)
            finally:
                spark.stop()
    label = (f"default flags, feed server, {args.events:,} events in batches of "
             f"{args.batch:,}, first batch counted, cold session")
    figures = {"events": args.events, "master": args.master, "source": "feed (FeedLog + "
               "feed HTTP app, 127.0.0.1)", "batch_records": args.batch,
               "orders_eps": job["eps"], "orders_steady_eps": job["steady_eps"],
               "orders_first_batch_s": job["first_batch_s"],
               "orders_rows_written": job["rows_written"],
               "orders_load1_mean": job["load"]["load1_mean"],
               "parse_only_load1_mean": parse["load"]["load1_mean"]}
    doc = result(
        "orders", quick=args.quick, started_at=started_at,
        seconds=round(time.monotonic() - t0, 1), figures=figures,
        baseline={"parse_only_eps": parse["eps"], "parse_only_steady_eps": parse["steady_eps"]},
        ratios={"orders_eps_vs_parse_only": ratio(job["eps"], parse["eps"])},
        goals={"orders_eps": {"min": GOAL_EPS}},
        series=[series("orders job", job["points"], unit="events/s", plot="orders_batches"),
                series("parse only", parse["points"], unit="events/s",
                       plot="orders_batches")],
        notes=[f"orders_eps (the headline): the orders job with its default flags (1 min "
               f"watermark, 1 h lifecycle horizon) over the product's feed server, "
               f"available-now, batches of {args.batch:,} (--max-records-per-trigger; the "
               "job's default is no limit); rows / summed batch time over every data batch, "
               "the first included, in a fresh session. orders_steady_eps leaves the first "
               "batch out.",
               "parse_only_eps: the same feed read and parsed into the noop sink, same "
               "batches, right after the job in the same session (warm).",
               f"load: orders {load_text(job['load'])}; parse only "
               f"{load_text(parse['load'])}."],
        extra={"goal_labels": {"orders_eps": label},
               "details": {"orders": {k: v for k, v in job.items() if k != "points"},
                           "parse_only": {k: v for k, v in parse.items() if k != "points"}}})
    record(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
