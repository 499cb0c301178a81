"""Run the whole product on this machine: tweet-ingester, txn-simulator,
order-simulator, alerting and metrics-exporter as local processes, the
hashtags, fraud and orders jobs in one Spark local[*] session, and a live
terminal view.

Data, feed logs, the alert database, checkpoints and logs live under
--data-dir (default ./.streamwatch); starting again resumes from there.

Examples:
  streamwatch run
  streamwatch run --headless --duration 90
  streamwatch run --webhook http://127.0.0.1:9000/hook
"""

from __future__ import annotations

import argparse

from streamwatch.launcher.settings import RunSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    RunSettings.add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from streamwatch.core.settings import run_command
    from streamwatch.launcher.launcher import Launcher

    return run_command(RunSettings, args, lambda settings: Launcher(settings).run())
