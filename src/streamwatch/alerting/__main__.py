"""``python -m streamwatch.alerting`` — the same as ``streamwatch alerting``."""

from __future__ import annotations

import argparse

from streamwatch.alerting import cli


def run(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamwatch.alerting", description=cli.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_arguments(parser)
    return cli.main(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(run())
