"""``python -m streamwatch.alerting`` — the same as ``streamwatch alerting``."""

from __future__ import annotations

import argparse
import sys

from streamwatch.alerting import cli
from streamwatch.core.flags import EnvValueError


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamwatch.alerting", description=cli.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    try:
        cli.add_arguments(parser)
    except EnvValueError as exc:
        print(f"alerting: {exc}", file=sys.stderr)
        return 2
    return cli.main(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(run())
