"""The ``streamwatch`` command: one entry point, one subcommand per service.

Each subcommand lives in its service's ``cli`` module, which must stay cheap to
import (argparse only); the heavy work is imported inside its ``main``. So
``streamwatch --help`` answers at once even though the processor pulls in
PySpark.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from streamwatch import __version__

# subcommand -> (module with add_arguments/main, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "run": ("streamwatch.launcher.cli",
            "embedded default: every service + processor + live view"),
    "tweets": ("streamwatch.producers.tweets.cli",
               "tweet-ingester: synthetic, replay or X API tweets"),
    "txns": ("streamwatch.producers.txns.cli",
             "txn-simulator: card transactions with labelled fraud"),
    "orders": ("streamwatch.producers.orders.cli",
               "order-simulator: e-commerce orders purchased, shipped, delivered, ..."),
    "process": ("streamwatch.processor.cli",
                "Spark processor jobs: hashtags, fraud, orders, wordcount"),
    "alerting": ("streamwatch.alerting.cli", "alerting: alert store and signed webhooks"),
    "exporter": ("streamwatch.exporter.cli", "metrics-exporter: progress, trends and alerts"),
    "eval": ("streamwatch.quality.eval_cli", "evaluate fraud alerts against labels"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or (``only``) one whose other subcommands are summaries.

    Importing a subcommand's module is deferred to when it is asked for, so a
    problem in one service never breaks another's command line.
    """
    parser = argparse.ArgumentParser(
        prog="streamwatch",
        description="Real-time analytics on Spark Structured Streaming. "
        "Every flag has an env twin, named in its --help.",
    )
    parser.add_argument("--version", action="version", version=f"streamwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, summary) in SUBCOMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=summary, description=summary)
            continue
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=summary, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    for token in argv:
        if token in SUBCOMMANDS:
            return token
        if not token.startswith("-"):
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(argv)
    parser = build_parser(only=command or "")
    args = parser.parse_args(argv)
    try:
        return int(args._module.main(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
