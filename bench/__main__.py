"""Run every benchmark under bench/ in turn: ``python -m bench [--quick] [--only NAME]``."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short variant of each benchmark")
    parser.add_argument("--only", action="append", default=[],
                        help="run only this benchmark (e.g. bench_feed); repeatable")
    args = parser.parse_args(argv)
    names = args.only or benchmarks()
    failed = []
    for name in names:
        print(f"\n=== {name}{' (quick)' if args.quick else ''} ===", flush=True)
        started = time.monotonic()
        cmd = [sys.executable, "-m", f"bench.{name}", *(["--quick"] if args.quick else [])]
        code = subprocess.call(cmd, cwd=HERE.parent)
        print(f"=== {name}: exit {code} after {time.monotonic() - started:.0f} s ===", flush=True)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
