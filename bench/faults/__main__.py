"""Run the fault scenarios: ``python -m bench.faults [--quick] [--only NAME] [--kills N]``.

Full: 20,000 transactions at 2,000/s, the kill counts of issue 8 (driver 5,
executor 5, alerting 3, receiver 1 outage of 10 min compressed x20, producer 1).
``--quick``: 4,000 transactions, one fault each, outage compressed x60.

Exit status: 0 when every scenario ran with 0 lost and 0 duplicated alerts,
3 when a scenario lost or duplicated alerts, 1 when a scenario could not run.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from bench.common import (
    LOAD,
    command_line,
    print_figures,
    result,
    result_path,
    results_dir,
    series,
    utc_now,
    write_result,
)
from bench.faults.harness import FULL, QUICK, Pipeline, Workload, account, scaled_schedule
from bench.faults.scenarios import SCENARIOS, Scenario, summary

REFERENCE = "faults_reference"


def _reference_matches(doc: dict[str, Any], workload: Workload) -> bool:
    return doc.get("workload") == asdict(workload) and bool(doc.get("alert_ids"))


def load_reference(workload: Workload, quick: bool) -> dict[str, Any] | None:
    import json

    path = result_path(REFERENCE, quick)
    if not path.exists():
        return None
    try:
        doc = json.loads(path.read_text())
    except ValueError:
        return None
    return doc if _reference_matches(doc, workload) else None


def run_reference(work: Path, workload: Workload, quick: bool) -> dict[str, Any]:
    """An uninterrupted run over the same records: its alert ids are the expected ones."""
    print("reference: uninterrupted run", flush=True)
    started_at, t0 = utc_now(), time.monotonic()
    pipe = Pipeline(work / "reference", workload)
    try:
        pipe.start_all()
        settled = pipe.wait_settled(timeout=600)
        sha = pipe.feed_sha256()
        stored_ids = sorted({a["alert_id"] for a in settled["stored"]})
        acc = account(set(stored_ids), settled["stored"], pipe.receiver)
    finally:
        pipe.stop_all()
    elapsed = time.monotonic() - t0
    doc = result(
        REFERENCE, quick=quick, started_at=started_at, seconds=round(elapsed, 1),
        load=LOAD.window(t0, t0 + elapsed),
        figures={"expected": len(stored_ids), **{k: v for k, v in acc.as_dict().items()
                                                  if k != "expected"}},
        notes=["Uninterrupted run; its stored alert ids are the expected set of every "
               "fault scenario over the same input (same SHA-256)."],
        extra={"workload": asdict(workload), "input_sha256": sha, "alert_ids": stored_ids,
               "processor_restarts": pipe.processor_unexpected_exits})
    write_result(doc)
    print(f"reference: {len(stored_ids)} alerts over {workload.events} transactions "
          f"({elapsed:.0f} s)", flush=True)
    return doc


def run_scenario(scenario: Scenario, work: Path, workload: Workload, reference: dict[str, Any],
                 rng: random.Random, kills: int, quick: bool) -> dict[str, Any]:
    print(f"{scenario.name}: {scenario.title} ({kills}x)", flush=True)
    compress = 60.0 if quick else 20.0
    pipe = Pipeline(work / scenario.name, workload, master=scenario.master)
    kwargs: dict[str, Any] = {}
    if scenario.compressed:
        pipe.retry_schedule = scaled_schedule(compress)
        kwargs["compress"] = compress
    started_at, t0 = utc_now(), time.monotonic()
    try:
        pipe.start_all()
        faults = scenario.inject(pipe, rng, kills, **kwargs)
        settled = pipe.wait_settled(timeout=600)
        sha = pipe.feed_sha256()
        expected = set(reference["alert_ids"])
        acc = account(expected, settled["stored"], pipe.receiver)
    finally:
        pipe.stop_all()
    elapsed = time.monotonic() - t0
    rec = summary(faults)
    figures = {**acc.as_dict(), **rec, "faults": len(faults),
               "processor_unexpected_exits": pipe.processor_unexpected_exits}
    goals: dict[str, dict[str, float]] = {"lost": {"max": 0}, "duplicated": {"max": 0}}
    if scenario.recovery_goal_s is not None:
        goals["recovery_s_max"] = {"max": scenario.recovery_goal_s}
    notes = []
    if sha != reference["input_sha256"]:
        notes.append("input differs from the reference run's (SHA-256 mismatch): the expected "
                     "set does not apply")
    if scenario.compressed:
        notes.append(f"time compressed x{compress:g}: outage and alerting --retry-schedule "
                     "divided by the same factor")
    doc = result(
        f"faults_{scenario.name}", quick=quick, started_at=started_at, seconds=round(elapsed, 1),
        load=LOAD.window(t0, t0 + elapsed),
        figures=figures,
        baseline={"expected": len(expected), "reference_stored": reference["figures"]["stored"]},
        ratios={"delivered_of_expected": acc.delivered / len(expected) if expected else None},
        goals=goals,
        series=[series(f"faults_{scenario.name}_recovery",
                       [(f["n"], f["recovery_s"]) for f in faults], unit="s", x="fault #",
                       kind="bar")] if faults else [],
        notes=notes,
        extra={"title": scenario.title, "master": scenario.master, "workload": asdict(workload),
               "input_sha256": sha, "input_identical": sha == reference["input_sha256"],
               "faults": faults, "trigger": workload.trigger})
    write_result(doc)
    print_figures(doc)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small input, one fault each")
    parser.add_argument("--only", action="append", default=[], choices=sorted(SCENARIOS),
                        help="run only this scenario (repeatable)")
    parser.add_argument("--kills", type=int, default=None,
                        help="faults per scenario (default: 1 quick, issue 8's counts full)")
    parser.add_argument("--events", type=int, default=None, help="transactions (override)")
    parser.add_argument("--fault-seed", type=int, default=8, help="seed of the fault moments")
    parser.add_argument("--fresh-reference", action="store_true",
                        help="recompute the reference run even if a matching one is stored")
    parser.add_argument("--work", type=Path, default=None,
                        help="keep process logs and data here (default: a temporary directory)")
    args = parser.parse_args(argv)
    workload = QUICK if args.quick else FULL
    if args.events:
        workload = replace(workload, events=args.events)
    names = args.only or list(SCENARIOS)
    rng = random.Random(args.fault_seed)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-faults-"))
    print(f"fault runs: {', '.join(names)}; work dir {work}; results in {results_dir()}; "
          f"command: {command_line('bench.faults', argv)}", flush=True)
    status = 0
    try:
        reference = None if args.fresh_reference else load_reference(workload, args.quick)
        if reference is None:
            reference = run_reference(work, workload, args.quick)
        else:
            print(f"reference: reusing {result_path(REFERENCE, args.quick)} "
                  f"({len(reference['alert_ids'])} alerts)", flush=True)
        for name in names:
            scenario = SCENARIOS[name]
            kills = args.kills or (1 if args.quick else scenario.kills_full)
            try:
                doc = run_scenario(scenario, work, workload, reference, rng, kills, args.quick)
            except Exception:
                traceback.print_exc()
                print(f"{name}: could not run; logs under {work / name / 'logs'}",
                      file=sys.stderr, flush=True)
                status = max(status, 1)
                continue
            if doc["figures"]["lost"] or doc["figures"]["duplicated"]:
                status = 3 if status == 0 else status
    finally:
        if args.work is None and status == 0:
            shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
