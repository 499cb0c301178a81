"""Memory soak: RSS of the processor and the services, and state size, over time.

The fraud pipeline runs for ``--minutes`` on a population of ``--cards`` cards:
``streamwatch txns --cards N`` -> ``streamwatch process fraud`` (reporting its
progress to ``streamwatch exporter``) -> ``streamwatch alerting`` -> a
verifying receiver, all on 127.0.0.1. Every ``--sample`` seconds it records
the resident set size of each process tree (the processor's includes its JVM
and Python workers) from ``/proc``, the size of the checkpoint's state store
(``<checkpoint>/alerts/state``), the feed log and the alert database.

"Flat" is judged on the second half of the run (the first half fills the card
profiles): growth = (mean of the last quarter - mean of the second quarter) /
mean of the second quarter, per process; goal: under 10 %.

Usage (a benchmark flag, not part of ``make test-bench``)::

    python -m bench.bench_soak --minutes 30 --cards 100000
    python -m bench.bench_soak --quick          # 45 s, proves the code works
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import (
    Service,
    dir_bytes,
    record,
    result,
    series,
    tree_rss_bytes,
    utc_now,
)
from bench.faults.harness import Pipeline, Workload
from bench.ports import free_port

GROWTH_GOAL = 0.10


def growth(values: list[float]) -> float | None:
    """Relative change between the second and the last quarter of ``values``."""
    n = len(values)
    if n < 8:
        return None
    second = values[n // 4: n // 2]
    last = values[3 * n // 4:]
    base = statistics.mean(second)
    return (statistics.mean(last) - base) / base if base else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="45 s with 3 s samples")
    parser.add_argument("--minutes", type=float, default=None,
                        help="soak duration (default 30; quick 0.75)")
    parser.add_argument("--cards", type=int, default=100_000, help="card population")
    parser.add_argument("--rate", type=float, default=1000.0, help="transactions per second")
    parser.add_argument("--sample", type=float, default=None,
                        help="seconds between samples (default 10; quick 3)")
    args = parser.parse_args(argv)
    minutes = args.minutes or (0.75 if args.quick else 30.0)
    every = args.sample or (3.0 if args.quick else 10.0)
    # the simulator needs cards >= 3 x rate x legit gap: shorten the gap to fit the population
    gap = min(60.0, args.cards / (3.0 * args.rate) * 0.95)
    workload = Workload(events=None, rate=args.rate, seed=30, fraud_rate=0.01,
                        cards=args.cards, start_time="now", trigger="1s",
                        max_records_per_trigger=0, legit_min_gap_s=round(gap, 2))
    started_at, t_start = utc_now(), time.monotonic()
    samples: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-soak-") as tmp:
        work = Path(tmp)
        exporter_port = free_port()
        pipe = Pipeline(work, workload,
                        processor_extra=["--exporter-url", f"http://127.0.0.1:{exporter_port}"])
        exporter = Service(["exporter", "--port", str(exporter_port),
                            "--alerting-url", pipe.alerting_url,
                            "--labels-url", f"{pipe.sim_url}/v1/feeds/labels"],
                           work / "logs" / "exporter.log")
        try:
            work.mkdir(parents=True, exist_ok=True)
            exporter.start()
            exporter.wait_http(f"http://127.0.0.1:{exporter_port}/readyz", timeout=60)
            pipe.start_all()
            pipe.wait_commit_after(-1, timeout=300, supervise=False)
            t0 = time.monotonic()
            end = t0 + minutes * 60
            print(f"soak: {minutes:g} min, {args.cards:,} cards, {args.rate:g} tx/s, "
                  f"sample every {every:g} s", flush=True)
            while time.monotonic() < end:
                procs = {"processor": pipe.processor, "txns": pipe.sim,
                         "alerting": pipe.alerting, "exporter": exporter}
                sample: dict[str, Any] = {"t_s": round(time.monotonic() - t0, 1)}
                for name, svc in procs.items():
                    sample[f"rss_{name}"] = tree_rss_bytes(svc.pid) if svc and svc.alive() else 0
                sample["state_bytes"] = dir_bytes(pipe.checkpoint / "alerts" / "state")
                sample["checkpoint_bytes"] = dir_bytes(pipe.checkpoint)
                sample["feed_bytes"] = dir_bytes(work / "sim" / "feeds")
                sample["alerting_db_bytes"] = dir_bytes(work / "alerting")
                sample["committed_offset"] = pipe.committed_offset()
                sample["delivered"] = len(pipe.receiver.snapshot())
                samples.append(sample)
                if pipe.processor is None or not pipe.processor.alive():
                    raise RuntimeError(f"the processor exited during the soak:\n"
                                       f"{pipe.processor.tail() if pipe.processor else ''}")
                time.sleep(max(0.0, min(every, end - time.monotonic())))
        finally:
            pipe.stop_all()
            exporter.stop()
    keys = ["rss_processor", "rss_txns", "rss_alerting", "rss_exporter", "state_bytes"]
    figures: dict[str, Any] = {"minutes": minutes, "cards": args.cards, "rate": args.rate,
                               "samples": len(samples)}
    goals: dict[str, dict[str, float]] = {}
    for key in keys:
        values = [float(s[key]) for s in samples]
        figures[f"{key}_last_mib"] = round(values[-1] / 2**20, 1) if values else None
        figures[f"{key}_max_mib"] = round(max(values) / 2**20, 1) if values else None
        g = growth(values)
        figures[f"{key}_growth"] = round(g, 4) if g is not None else None
        goals[f"{key}_growth"] = {"max": GROWTH_GOAL}
    if len(samples) > 1:
        span = samples[-1]["t_s"] - samples[0]["t_s"]
        figures["processed_tx_per_s"] = round(
            (samples[-1]["committed_offset"] - samples[0]["committed_offset"]) / span, 1) \
            if span > 0 else None
    plots = [series(k.removeprefix("rss_"), [(s["t_s"], s[k] / 2**20) for s in samples],
                    unit="MiB", plot="soak_rss") for k in keys if k.startswith("rss_")]
    plots.append(series("state store", [(s["t_s"], s["state_bytes"] / 2**20) for s in samples],
                        unit="MiB", plot="soak_state"))
    plots.append(series("checkpoint", [(s["t_s"], s["checkpoint_bytes"] / 2**20)
                                       for s in samples], unit="MiB", plot="soak_state"))
    doc = result("soak", quick=args.quick, started_at=started_at,
                 seconds=round(time.monotonic() - t_start, 1), figures=figures,
                 baseline={"first_sample_" + k + "_mib": round(samples[0][k] / 2**20, 1)
                           for k in keys} if samples else {},
                 ratios={f"{k}_last_vs_first": (samples[-1][k] / samples[0][k])
                         if samples and samples[0][k] else None for k in keys},
                 goals=goals, series=plots,
                 notes=[f"growth = last quarter vs second quarter of the run; goal < "
                        f"{GROWTH_GOAL:.0%}. The feed log grows by design (retention)."],
                 extra={"samples": samples, "legit_min_gap_s": workload.legit_min_gap_s,
                        "goal_labels": {
                            k: f"the whole pipeline (default flags) for {figures['minutes']:g} "
                               f"min at {figures['rate']:g} tx/s, {figures['cards']:,} cards; "
                               "last quarter vs second quarter"
                            for k in goals}})
    record(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
