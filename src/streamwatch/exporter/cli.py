"""metrics-exporter: Spark progress, hashtag trends and fraud alerts as Prometheus metrics.

Receives StreamingQueryProgress events (POST /v1/progress) and top-N hashtag
rows (POST /v1/trends) from the processor, polls the alerting service and the
labels feed for live precision/recall, and serves it all on GET /metrics.

  streamwatch exporter --port 7104 \\
      --alerting-url http://127.0.0.1:7103 \\
      --labels-url http://127.0.0.1:7102/v1/feeds/labels
"""

from __future__ import annotations

import argparse

from streamwatch.exporter.settings import ExporterSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    ExporterSettings.add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from streamwatch.core.http import PortBusy
    from streamwatch.core.settings import run_command
    from streamwatch.exporter.app import serve

    return run_command(ExporterSettings, args, serve, refusals=(PortBusy,))
