"""``python -m streamwatch.exporter``: the ``streamwatch exporter`` subcommand on its own.

Container images and tests start the exporter this way so that it imports
nothing of the other services; the flags and env twins are the same.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from streamwatch.exporter import cli


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="streamwatch exporter", description=cli.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_arguments(parser)
    try:
        return cli.main(parser.parse_args(argv))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
