"""Kafka source vs feed source: the fraud job over the same records through each.

Key concepts:
- One ``streamwatch txns --kafka`` producer makes N transactions: its feed log
  serves them over HTTP (``feed:``) and its publisher copies them, exactly once,
  to a topic of a real KRaft broker on 127.0.0.1 (``kafka:``). The records are
  the same bytes in both.
- The fraud job (default flags, ``local[2]``, ``available-now``) reads each
  source at ``--batch`` records a micro-batch (``--max-records-per-trigger``),
  one run per source and batch size, in one SparkSession with the connector.
  The figure is the steady rate: rows / summed batch time over every data
  batch but the first (Python worker start-up; reported as ``first_batch_s``).
- Baseline: the feed source, measured in the same run on the same records; the
  ratio kafka / feed is reported first.
- Also recorded: the producer's publish rate to Kafka (records committed / s
  from its first to its last commit, exactly-once transactions included).
- Latency (not in ``--quick``): the end-to-end chain of ``bench_e2e_latency``
  (``txns --rate 5000`` -> fraud job -> alerting -> a verifying webhook receiver)
  once through the feed and once through the topic, same trigger and rate, one
  after the other; "produced" is when the record became readable on the
  producer's feed in both, so the Kafka figure includes the copy to Kafka.

Usage::

    python -m bench.bench_kafka                 # 400k tx, 5k and 50k a batch; latency 120 s each
    python -m bench.bench_kafka --quick         # 20k tx, 10k a batch (~1 minute)

Expected output: a summary and ``bench/results/kafka.json`` (``kafka-quick.json``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from bench.common import (
    Service,
    batch_rate_points,
    command_line,
    ratio,
    record,
    result,
    series,
    utc_now,
)
from bench.kafka_broker import KafkaBroker, available
from bench.ports import free_port


def wait_published(feed: str, n: int, timeout: float) -> float:
    """Seconds until the producer has ``n`` records in its feed and all of them in Kafka."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        metrics = requests.get(f"{feed}/metrics", timeout=5).text
        published = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                        if line.startswith('streamwatch_kafka_published_records_total{feed="'
                                           'transactions"}'))
        if published >= n:
            return time.monotonic() - start
        time.sleep(0.5)
    raise TimeoutError(f"the producer did not publish {n} records in {timeout} s")


def run_job(spark: Any, source: str, work: Path, batch: int) -> dict[str, Any]:
    from streamwatch.processor.cli import job_args
    from streamwatch.processor.fraud import job as fraud

    args = job_args("fraud", [
        "--source", source, "--sink", f"jsonl:{work / 'alerts'}", "--trigger", "available-now",
        "--checkpoint", str(work / "ck"), "--max-records-per-trigger", str(batch)])
    (query,) = fraud.start(spark, args)
    query.awaitTermination()
    if query.exception() is not None:
        raise RuntimeError(f"{source}: {query.exception()}")
    progress = [d for d in (json.loads(p.json) if hasattr(p, "json") else p
                            for p in query.recentProgress) if d["numInputRows"]]
    steady = progress[1:] if len(progress) >= 3 else progress
    seconds = sum(p["durationMs"]["triggerExecution"] for p in steady) / 1000
    alerts = sum(len(f.read_bytes().splitlines()) for f in (work / "alerts").glob("*.jsonl"))
    return {
        "rows": sum(p["numInputRows"] for p in progress), "batches": len(progress),
        "tx_per_s_steady": round(sum(p["numInputRows"] for p in steady) / seconds)
        if seconds else None,
        "first_batch_s": progress[0]["durationMs"]["triggerExecution"] / 1000
        if progress else None,
        "alerts": alerts, "batch_points": batch_rate_points(progress),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_kafka", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="20k transactions, 10k a batch")
    parser.add_argument("--events", type=int, default=400_000)
    parser.add_argument("--batch", default="5000,50000",
                        help="records per micro-batch, one run per value and source")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--latency-seconds", type=float, default=120.0,
                        help="measured seconds of each latency run (0 = no latency runs; "
                             "--quick has none)")
    parser.add_argument("--trigger", default="500ms", help="trigger of the latency runs")
    args = parser.parse_args(argv)
    reason = available()
    if reason:
        raise SystemExit(f"bench_kafka: {reason}")
    events = 20_000 if args.quick else args.events
    batches = [10_000] if args.quick else [int(b) for b in args.batch.split(",") if b.strip()]
    started_at, t0 = utc_now(), time.monotonic()
    runs: dict[str, dict[str, Any]] = {}
    latency: dict[str, dict[str, Any]] = {}
    latency_s = 0.0 if args.quick else args.latency_seconds
    with tempfile.TemporaryDirectory(prefix="bench-kafka-") as tmp_name:
        tmp = Path(tmp_name)
        broker = KafkaBroker(tmp / "kafka")
        broker.start()
        port = free_port()
        feed = f"http://127.0.0.1:{port}"
        producer = Service(["txns", "--seed", str(args.seed), "--rate", "20000",
                            "--max-events", str(events), "--http-port", str(port),
                            "--socket-port", str(free_port()), "--data-dir", str(tmp / "sim"),
                            "--kafka", broker.bootstrap], tmp / "txns.log")
        try:
            producer.start().wait_http(f"{feed}/readyz")
            publish_s = wait_published(feed, events, timeout=600)
            from streamwatch.processor.io.kafka import connector_conf
            from streamwatch.processor.session import build_session

            spark = build_session("local[2]", "bench-kafka", connector_conf())
            try:
                for batch in batches:
                    for name, source in (("feed", f"feed:{feed}/transactions"),
                                         ("kafka", f"kafka:{broker.bootstrap}/transactions")):
                        runs[f"{name}_{batch}"] = run_job(spark, source,
                                                          tmp / f"{name}-{batch}", batch)
            finally:
                spark.stop()
            producer.stop()
            if latency_s > 0:
                from bench.bench_e2e_latency import measure

                for name, kafka in (("feed", None), ("kafka", broker.bootstrap)):
                    latency[name] = measure(tmp / f"latency-{name}", args.trigger, 5000.0,
                                            latency_s, 20.0, kafka=kafka)
        finally:
            producer.stop()
            broker.stop()
    figures: dict[str, Any] = {"events": events, "producer_publish_s": round(publish_s, 1)}
    ratios: dict[str, Any] = {}
    baseline: dict[str, Any] = {}
    for batch in batches:
        k, f = runs[f"kafka_{batch}"], runs[f"feed_{batch}"]
        figures[f"kafka_tx_per_s_{batch // 1000}k_per_batch"] = k["tx_per_s_steady"]
        baseline[f"feed_tx_per_s_{batch // 1000}k_per_batch"] = f["tx_per_s_steady"]
        ratios[f"kafka_vs_feed_{batch // 1000}k_per_batch"] = ratio(k["tx_per_s_steady"],
                                                                    f["tx_per_s_steady"])
        # the same records through the same detector: the same alerts
        figures[f"alerts_equal_{batch // 1000}k"] = k["alerts"] == f["alerts"]
    for name, run in latency.items():
        v = run["from_visible"]
        target = figures if name == "kafka" else baseline
        target[f"{name}_latency_p50_s"] = v["p50"]
        target[f"{name}_latency_p99_s"] = v["p99"]
        target[f"{name}_latency_caught_up"] = run["caught_up_before_window"]
        target[f"{name}_processed_tx_per_s"] = run["processed_per_s"]
    if len(latency) == 2:
        ratios["kafka_vs_feed_latency_p99"] = ratio(figures["kafka_latency_p99_s"],
                                                    baseline["feed_latency_p99_s"])
    doc = result(
        "kafka", quick=args.quick, started_at=started_at,
        seconds=round(time.monotonic() - t0, 1), command=command_line("bench.bench_kafka", argv),
        figures=figures, baseline=baseline, ratios=ratios,
        series=[series(f"{name} batch rows/s", run.pop("batch_points"), unit="rows/s",
                       plot="kafka_vs_feed") for name, run in runs.items()],
        notes=["Fraud job, default flags, local[2], available-now, one run per source and "
               "batch size in one SparkSession; the records are the same bytes in the feed "
               "and the topic (one producer with --kafka). Steady = every data batch but the "
               "first. Baseline: the feed source on the same records in the same run.",
               "Latency (full runs only): bench_e2e_latency's chain at 5,000 tx/s, trigger "
               f"{args.trigger}, once through the feed (baseline) and once through the topic; "
               "produced = readable on the producer's feed in both."],
        extra={"details": runs, "latency": {
            name: {k: x for k, x in run.items()
                   if k not in ("points", "produced_rate", "processed_rate")}
            for name, run in latency.items()}})
    record(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
