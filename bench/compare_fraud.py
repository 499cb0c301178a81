"""Not a standing benchmark (so not ``bench_*``: ``make bench`` and the quick-form tests
leave it out; it takes ~20 minutes and names a commit): a change to the fraud job measured
beside the commit it replaces.

The fraud job of another commit (``--ref``, default ``main``) beside this tree's, in one run.

Key concepts:
- Same input: this tree's simulator writes the transactions once (``--cards`` distinct
  cards, default 100,000, at ``--sim-rate`` tx/s of event time, in files of 5,000 rows);
  both jobs read the same files. The other commit is checked out into a temporary
  ``git worktree`` and its job runs in a subprocess with ``PYTHONPATH=<worktree>/src``
  (driver and Spark's Python workers both import that commit's ``streamwatch``); the
  bench code around it (``bench.bench_fraud.spark_job``) is this tree's.
- Same machine load: the two sides are interleaved, ref/new then new/ref (``--rounds 2``),
  and every figure carries ``os.getloadavg()`` taken when it ended.
- Throughput: ``tx_per_s_steady`` of ``bench.bench_fraud`` (rows over summed batch time of
  every data batch but the first; the first is reported as ``first_batch_s``), at 5,000
  rows a batch (the live batch size: 5k tx/s, 1 s trigger) over the first
  ``--small-files`` files, and at 200,000 rows a batch (40 files a trigger) over all of them.
- Latency: ``bench.bench_e2e_latency.measure`` at ``--rate`` tx/s (5,000), trigger
  ``--trigger`` (500ms), ``--seconds`` measured after the start-up backlog: simulator,
  alerting and receiver are this tree's, only the processor differs.
- Which code ran is checked, not assumed: each throughput child reports the path of the
  detector module it imported (the run stops if it is not under that side's tree), and
  its alerts per rule.

Usage::

    python -m bench.compare_fraud                     # main vs this tree, 2 rounds
    python -m bench.compare_fraud --rounds 1 --seconds 60
    python -m bench.compare_fraud --quick             # 1 round, small, ~6 min

Expected output: one line per measurement with its load, a summary, and
``bench/results/fraud_compare.json`` (``fraud_compare-quick.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, command_line, record, result, utc_now

ROWS_PER_FILE = 5_000
BIG_BATCH_FILES = 40  # 40 x 5,000 = 200,000 rows a batch


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout.strip()


def resolve(ref: str) -> str:
    """The commit of ``ref``; ``main`` falls back to ``origin/main`` and then ``HEAD``
    (a CI checkout may have neither branch: the quick form then compares HEAD with itself)."""
    for name in (ref, f"origin/{ref}", "HEAD") if ref == "main" else (ref,):
        try:
            return git("rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
        except subprocess.CalledProcessError:
            continue
    raise SystemExit(f"compare_fraud: --ref {ref} names no commit")


def generate(directory: Path, events: int, cards: int, rate: float, seed: int) -> None:
    from streamwatch.producers.txns.config import SimConfig
    from streamwatch.producers.txns.simulator import TxnGenerator

    gen = TxnGenerator(SimConfig(seed=seed, cards=cards, rate=rate))
    for i in range(events // ROWS_PER_FILE):
        txns, _ = gen.take(ROWS_PER_FILE)
        (directory / f"part-{i:05d}.jsonl").write_bytes(b"\n".join(txns) + b"\n")


def child_throughput(directory: str, work: str, buckets: int, files_per_trigger: int) -> None:
    """Runs in the subprocess: this side's job over ``directory``; one JSON line on stdout."""
    from bench.bench_fraud import spark_job
    from streamwatch.processor.fraud import detector

    run = spark_job(Path(directory), Path(work), buckets, files_per_trigger)
    run.pop("batch_points", None)
    by_rule: dict[str, int] = {}
    for f in (Path(work) / "alerts").rglob("*.jsonl"):
        for line in f.read_bytes().splitlines():
            if line.strip():
                rule = json.loads(line)["rule"]
                by_rule[rule] = by_rule.get(rule, 0) + 1
    run.update(detector=detector.__file__, alerts=sum(by_rule.values()),
               alerts_by_rule=dict(sorted(by_rule.items())))
    print("RESULT " + json.dumps(run), flush=True)


def side_env(src: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(src), str(ROOT)])
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    env.setdefault("STREAMWATCH_SPARK_LOG_LEVEL", "ERROR")
    return env


def throughput(src: Path, directory: Path, work: Path, buckets: int,
               files_per_trigger: int) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.compare_fraud", "--child", str(directory), str(work),
         str(buckets), str(files_per_trigger)],
        cwd=ROOT, env=side_env(src), capture_output=True, text=True, timeout=3600, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode or not lines:
        raise RuntimeError(f"throughput child failed ({proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    run: dict[str, Any] = json.loads(lines[-1][len("RESULT "):])
    if not run["detector"].startswith(str(src)):
        raise RuntimeError(f"the child ran {run['detector']}, not the code under {src}")
    run["load_avg"] = load()
    return run


def latency(src: Path, work: Path, rate: float, trigger: str, seconds: float,
            warmup: float) -> dict[str, Any]:
    from bench.bench_e2e_latency import measure

    run = measure(work, trigger, rate, seconds, warmup,
                  processor_env={"PYTHONPATH": str(src)})
    for key in ("points", "produced_rate", "processed_rate", "profile"):
        run.pop(key, None)
    run["load_avg"] = load()
    return run


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--child":
        child_throughput(argv[1], argv[2], int(argv[3]), int(argv[4]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.compare_fraud",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", default="main", help="the commit to compare with (git ref)")
    parser.add_argument("--quick", action="store_true",
                        help="1 round, 400k rows, 40 small batches, 30 s of latency")
    parser.add_argument("--rounds", type=int, default=2,
                        help="ref/new, then new/ref, ... (each round measures both sides)")
    parser.add_argument("--cards", type=int, default=100_000)
    parser.add_argument("--sim-rate", type=float, default=500.0,
                        help="event-time tx/s of the throughput input (100k cards carry "
                             "at most ~550 tx/s at the simulator's 60 s legit gap)")
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="rows of the throughput input (200k-a-batch run)")
    parser.add_argument("--small-files", type=int, default=40,
                        help="files (5,000 rows each) of the 5k-a-batch run")
    parser.add_argument("--buckets", type=int, default=8)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--rate", type=float, default=5000.0, help="latency runs: tx/s")
    parser.add_argument("--trigger", default="500ms", help="latency runs: trigger interval")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="latency runs: measured seconds")
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:  # proves the code runs; its figures are not measurements
        args.rounds, args.events, args.small_files = 1, 60_000, 4
        args.seconds, args.warmup = 8.0, 4.0
    big_files = min(BIG_BATCH_FILES, max(1, args.events // ROWS_PER_FILE // 3))
    sizes = {"small": f"{ROWS_PER_FILE // 1000}k", "big": f"{big_files * ROWS_PER_FILE // 1000}k"}
    started_at, t0 = utc_now(), time.monotonic()
    ref_sha = resolve(args.ref)
    new_sha = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-fraud-compare-") as tmp_name:
        tmp = Path(tmp_name)
        ref_tree = tmp / "ref"
        git("worktree", "add", "--detach", str(ref_tree), ref_sha)
        try:
            sides = {"ref": ref_tree / "src", "new": ROOT / "src"}
            data = tmp / "txns"
            data.mkdir()
            print(f"input: {args.events:,} tx, {args.cards:,} cards, seed {args.seed}; "
                  f"load {load()}", flush=True)
            generate(data, args.events, args.cards, args.sim_rate, args.seed)
            small = tmp / "txns-small"
            small.mkdir()
            for f in sorted(data.glob("*.jsonl"))[:args.small_files]:
                (small / f.name).symlink_to(f)
            order: list[str] = []
            for r in range(args.rounds):
                order += ["ref", "new"] if r % 2 == 0 else ["new", "ref"]
            for i, side in enumerate(order):
                for name, directory, fpt in ((sizes["small"], small, 1),
                                             (sizes["big"], data, big_files)):
                    run = throughput(sides[side], directory, tmp / f"tp-{i}-{side}-{name}",
                                     args.buckets, fpt)
                    run.update(side=side, kind=f"tx_per_s_{name}", round=i // 2)
                    runs.append(run)
                    print(f"{side:>3} {name:>4} a batch: {run['tx_per_s_steady']:,} tx/s steady, "
                          f"first batch {run['first_batch_s']} s, batch p50 {run['batch_s_p50']}"
                          f" s, {run['alerts']} alerts {run['alerts_by_rule']}; "
                          f"load {run['load_avg']}", flush=True)
                if not args.skip_latency:
                    lat = latency(sides[side], tmp / f"e2e-{i}-{side}", args.rate, args.trigger,
                                  args.seconds, args.warmup)
                    lat.update(side=side, kind="e2e", round=i // 2)
                    runs.append(lat)
                    v = lat["from_visible"]
                    print(f"{side:>3} e2e at {args.rate:g} tx/s: p50 {v['p50']} s, p99 "
                          f"{v['p99']} s ({lat['alerts']} alerts, caught up "
                          f"{lat['caught_up_before_window']}, processed "
                          f"{lat['processed_per_s']} tx/s); load {lat['load_avg']}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(ref_tree)], cwd=ROOT,
                           check=False, capture_output=True)

    def mean(side: str, kind: str, pick: Any) -> float | None:
        values = [pick(r) for r in runs if r["side"] == side and r["kind"] == kind]
        values = [v for v in values if v is not None]
        return round(sum(values) / len(values), 3) if values else None

    figures: dict[str, Any] = {}
    for side in ("ref", "new"):
        for name in sizes.values():
            kind = f"tx_per_s_{name}"
            figures[f"{side}_tx_per_s_steady_{name}_per_batch"] = mean(
                side, kind, lambda r: r["tx_per_s_steady"])
            figures[f"{side}_first_batch_s_{name}_per_batch"] = mean(
                side, kind, lambda r: r["first_batch_s"])
            figures[f"{side}_batch_s_p50_{name}_per_batch"] = mean(
                side, kind, lambda r: r["batch_s_p50"])
        if not args.skip_latency:
            figures[f"{side}_e2e_p50_s"] = mean(side, "e2e", lambda r: r["from_visible"]["p50"])
            figures[f"{side}_e2e_p99_s"] = mean(side, "e2e", lambda r: r["from_visible"]["p99"])
    ratios = {}
    for key in (*(f"tx_per_s_steady_{n}_per_batch" for n in sizes.values()),
                "e2e_p50_s", "e2e_p99_s"):
        a, b = figures.get(f"ref_{key}"), figures.get(f"new_{key}")
        if a and b:
            ratios[f"new_vs_ref_{key}"] = round(b / a, 3)
    doc = result(
        "fraud_compare", quick=args.quick, started_at=started_at,
        seconds=round(time.monotonic() - t0, 1),
        command=command_line("bench.compare_fraud", argv), figures=figures,
        baseline={"ref": args.ref, "ref_commit": ref_sha, "new_commit": new_sha},
        ratios=ratios, goals={}, series=[],
        notes=[f"ref = {args.ref} ({ref_sha[:10]}), new = {new_sha[:10]}"
               f"{' + uncommitted changes' if dirty else ''}; same input, sides interleaved "
               f"({', '.join(order)}); figures are means over the rounds, every run with its "
               "load in extra.runs",
               f"throughput input: {args.events:,} tx of this tree's simulator, {args.cards:,} "
               f"cards at {args.sim_rate:g} tx/s event time, seed {args.seed}; 5k a batch = "
               f"first {args.small_files * ROWS_PER_FILE:,} rows one file a trigger, "
               f"{sizes['big']} a batch = all rows {big_files} files a trigger; local[2], "
               f"{args.buckets} buckets",
               f"latency: {args.rate:g} tx/s, trigger {args.trigger}, {args.seconds:g} s "
               f"measured after >= {args.warmup:g} s warm-up (bench_e2e_latency.measure)"],
        extra={"runs": runs, "order": order})
    record(doc)
    for side in ("ref", "new"):
        print(side, {k[len(side) + 1:]: v for k, v in figures.items() if k.startswith(side)})
    print("ratios", ratios)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
