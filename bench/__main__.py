"""Run every benchmark under bench/, then the fault runs and the report.

``python -m bench [--quick] [--only NAME] [--soak] [--no-faults] [--no-report]``

Each ``bench/bench_*.py`` runs as ``python -m bench.<name> [--quick]`` in turn
(one at a time: the machine is shared, and benchmarks must not measure each
other). ``bench_soak`` (30 minutes) runs only with ``--soak``. Then
``python -m bench.faults [--quick]`` and ``python -m bench.report``, which
renders ``docs/benchmarks.md`` from ``bench/results/*.json``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OPT_IN = {"bench_soak"}


def benchmarks() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def _run(module: str, args: list[str]) -> int:
    """Run one module, echoing its output; a benchmark that printed a JSON result but
    wrote no file in bench/results gets one (``bench.common.wrap_printed``)."""
    from bench.common import last_json_object, result_path, utc_now, wrap_printed, write_result

    print(f"\n=== {module} {' '.join(args)} ===", flush=True)
    started, started_at = time.monotonic(), utc_now()
    proc = subprocess.Popen([sys.executable, "-m", module, *args], cwd=HERE.parent,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        lines.append(line)
    code = proc.wait()
    elapsed = time.monotonic() - started
    print(f"=== {module}: exit {code} after {elapsed:.0f} s ===", flush=True)
    stem = module.removeprefix("bench.")
    if code == 0 and stem.startswith("bench_"):
        name = stem.removeprefix("bench_")
        path = result_path(name, "--quick" in args)
        fresh = path.exists() and path.stat().st_mtime >= time.time() - elapsed - 1
        printed = None if fresh else last_json_object("".join(lines[-2000:]))
        if printed is not None:
            doc = wrap_printed(name, printed, command=f"python -m {module} {' '.join(args)}"
                               .strip(), quick="--quick" in args, started_at=started_at,
                               seconds=elapsed)
            print(f"recorded {write_result(doc)}", flush=True)
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short variant of each benchmark")
    parser.add_argument("--only", action="append", default=[],
                        help="run only this benchmark (e.g. bench_feed, faults); repeatable")
    parser.add_argument("--soak", action="store_true",
                        help="also run bench_soak (30 minutes, 100,000 cards)")
    parser.add_argument("--no-faults", action="store_true", help="skip python -m bench.faults")
    parser.add_argument("--no-report", action="store_true", help="skip docs/benchmarks.md")
    args = parser.parse_args(argv)
    quick = ["--quick"] if args.quick else []
    if args.only:
        names = [n for n in args.only if n != "faults"]
        faults = "faults" in args.only
    else:
        names = [n for n in benchmarks() if n not in OPT_IN or args.soak]
        faults = not args.no_faults
    failed = [name for name in names if _run(f"bench.{name}", quick) != 0]
    if faults and _run("bench.faults", quick) != 0:
        failed.append("faults")
    if not args.no_report and _run("bench.report", []) != 0:
        failed.append("report")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
