"""Fraud job throughput (tx/s) and micro-batch latency percentiles.

Generates simulator transactions (seeded) into FILES JSONL files, runs the
fraud job over them with ``available-now`` in ``local[2]`` (one file per
micro-batch, so every batch carries N/FILES transactions through the stateful
operator), and reports sustained tx/s and batch duration percentiles. Also
measures the vectorised detector alone (one core, no Spark).

Usage::

    .venv/bin/python bench/bench_fraud.py --quick        # 60k tx, ~2 min
    .venv/bin/python bench/bench_fraud.py --events 600000 --files 12
    .venv/bin/python bench/bench_fraud.py --quick --buckets 4 --files-per-trigger 2

``--files-per-trigger`` makes fewer, larger micro-batches. Besides batch
durations the result has the stateful operator's share of each batch
(``state_update_s_p50``: time in the Python processor incl. state get/put,
summed over partitions; ``state_commit_s_p50``: state store commit).

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path


def generate(directory: Path, events: int, files: int, seed: int) -> None:
    from txn_simulator.config import SimConfig
    from txn_simulator.simulator import TxnGenerator

    gen = TxnGenerator(SimConfig(seed=seed))
    per = events // files
    for i in range(files):
        txns, _ = gen.take(per)
        (directory / f"part-{i:04d}.jsonl").write_bytes(b"\n".join(txns) + b"\n")


def detector_only(directory: Path, buckets: int) -> float:
    import numpy as np
    import orjson
    import pandas as pd

    from streamwatch_processor.fraud.detector import detect
    from streamwatch_processor.fraud.rules import default_rules_path, load_rules
    from streamwatch_processor.fraud.state import BucketState, with_keys

    rules = load_rules(default_rules_path())
    states = {b: BucketState.new() for b in range(buckets)}
    total, spent = 0, 0.0
    for f in sorted(directory.glob("*.jsonl")):
        df = pd.DataFrame([orjson.loads(x) for x in f.read_bytes().splitlines()])
        df["ts"] = pd.to_datetime(df["event_time"]).astype("int64") // 1_000_000
        df["amount"] = df["amount"].astype(float)
        df = with_keys(df)
        bucket = np.mod(df["card"].to_numpy(), buckets)
        start = time.perf_counter()
        for b in range(buckets):
            part = df[bucket == b]
            if len(part):
                _, states[b] = detect(states[b], part, rules, ttl_ms=7_200_000,
                                      detected_at_ms=0)
        spent += time.perf_counter() - start
        total += len(df)
    return total / spent


def spark_job(directory: Path, work: Path, buckets: int, files_per_trigger: int = 1
              ) -> dict[str, object]:
    from streamwatch_processor.cli import job_args
    from streamwatch_processor.jobs import fraud
    from streamwatch_processor.session import build_session

    spark = build_session("local[2]", "bench-fraud")
    args = job_args("fraud", [
        "--source", f"file:{directory}", "--sink", f"jsonl:{work / 'alerts'}",
        "--trigger", "available-now", "--checkpoint", str(work / "ck"),
        "--buckets", str(buckets)])
    # N files per micro-batch: read_stream passes options to the file source
    from streamwatch_processor import jobs

    original = jobs.source_options
    jobs.source_options = lambda a: {**original(a), "maxFilesPerTrigger": str(files_per_trigger)}
    progress: list[dict] = []
    try:
        start = time.perf_counter()
        (query,) = fraud.start(spark, args)
        query.awaitTermination()
        wall = time.perf_counter() - start
        # plain dicts, as the progress JSON has them
        progress = [d for d in (json.loads(p.json) if hasattr(p, "json") else p
                                for p in query.recentProgress) if d["numInputRows"]]
    finally:
        jobs.source_options = original
        spark.stop()
    rows = sum(p["numInputRows"] for p in progress)
    durations = sorted(p["durationMs"]["triggerExecution"] for p in progress)
    # the first batch pays Python worker start-up and pre-init: report it apart
    steady = durations if len(progress) < 3 else sorted(
        p["durationMs"]["triggerExecution"] for p in progress[1:])
    steady_rows = sum(p["numInputRows"] for p in progress[1:]) if len(progress) > 1 else rows

    def pct(q: float) -> float:
        return steady[min(len(steady) - 1, int(q * len(steady)))] / 1000

    def op_p50(metric: str) -> float | None:
        values = sorted(sum(op.get(metric, 0) for op in p.get("stateOperators", []))
                        for p in (progress[1:] if len(progress) > 1 else progress))
        return values[len(values) // 2] / 1000 if values else None

    return {
        "batches": len(progress), "rows": rows, "wall_s": round(wall, 1),
        "tx_per_s_overall": round(rows / wall),
        "tx_per_s_steady": round(steady_rows / (sum(steady) / 1000)) if steady else None,
        "batch_s_p50": pct(0.5), "batch_s_p90": pct(0.9), "batch_s_max": steady[-1] / 1000,
        "first_batch_s": progress[0]["durationMs"]["triggerExecution"] / 1000 if progress else None,
        "state_update_s_p50": op_p50("allUpdatesTimeMs"),
        "state_commit_s_p50": op_p50("commitTimeMs"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="60k transactions in 6 files")
    parser.add_argument("--events", type=int, default=600_000)
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--buckets", type=int, default=32)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--files-per-trigger", type=int, default=1,
                        help="input files per micro-batch (more = fewer, larger batches)")
    args = parser.parse_args()
    events, files = (60_000, 6) if args.quick else (args.events, args.files)
    with tempfile.TemporaryDirectory(prefix="bench-fraud-") as tmp:
        data, work = Path(tmp) / "txns", Path(tmp) / "work"
        data.mkdir()
        generate(data, events, files, args.seed)
        result = {"events": events, "files": files, "buckets": args.buckets,
                  "files_per_trigger": args.files_per_trigger,
                  "detector_only_tx_per_s_one_core": round(detector_only(data, args.buckets))}
        result["spark_local2"] = spark_job(data, work, args.buckets, args.files_per_trigger)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
