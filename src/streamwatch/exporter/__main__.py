"""``python -m streamwatch.exporter``: the ``streamwatch exporter`` subcommand on its own.

Container images and tests start the exporter this way so that it imports
nothing of the other services; the flags and env twins are the same.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from streamwatch.core.flags import EnvValueError
from streamwatch.exporter import cli


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = argparse.ArgumentParser(
            prog="streamwatch exporter", description=cli.__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter)
        cli.add_arguments(parser)
        args = parser.parse_args(argv)
    except EnvValueError as exc:
        print(f"streamwatch exporter: {exc}", file=sys.stderr)
        return 2
    try:
        return cli.main(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
