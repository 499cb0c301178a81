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
import errno
import sys

from streamwatch.core import flags


def add_arguments(parser: argparse.ArgumentParser) -> None:
    flags.add_flag(parser, "--host", default="127.0.0.1",
                   help="address to listen on (0.0.0.0 in containers)")
    flags.add_flag(parser, "--port", default=7104, type=flags.port, help="HTTP port")
    flags.add_flag(parser, "--alerting-url", metavar="URL",
                   help="alerting service base URL to poll for alerts "
                   "(e.g. http://127.0.0.1:7103); unset: no alert metrics")
    flags.add_flag(parser, "--labels-url", metavar="URL",
                   help="labels feed URL for live precision/recall "
                   "(e.g. http://127.0.0.1:7102/v1/feeds/labels); unset: no quality metrics")
    flags.add_flag(parser, "--poll-interval", default=2.0, type=flags.positive_duration,
                   metavar="DURATION", help="pause between polls of alerts and labels")
    flags.add_flag(parser, "--max-backoff", default=30.0, type=flags.duration_seconds,
                   metavar="DURATION", help="longest pause after repeated poll failures")
    flags.add_flag(parser, "--request-timeout", default=5.0, type=flags.duration_seconds,
                   metavar="DURATION", help="timeout of each upstream HTTP request")
    flags.add_flag(parser, "--top-n", default=10, type=flags.positive_int,
                   help="hashtags of the newest window exposed on /metrics")
    flags.add_flag(parser, "--max-windows", default=12, type=flags.positive_int,
                   help="trend windows kept for GET /v1/trends")
    flags.add_flag(parser, "--max-queries", default=20, type=flags.positive_int,
                   help="streaming queries tracked; the stalest is dropped beyond this")
    flags.add_flag(parser, "--quality-max-incidents", default=20_000, type=flags.positive_int,
                   help="fraud incidents kept for the quality report; older ones are retired "
                   "with their figures final (bounds memory)")
    flags.add_flag(parser, "--quality-max-alerts", default=50_000, type=flags.positive_int,
                   help="alerts kept for the quality report and duplicate checks; older ones "
                   "are retired with their figures final (bounds memory)")
    flags.add_flag(parser, "--ingest-token", default=None,
                   help="bearer token the processor sends with POST /v1/progress and "
                   "/v1/trends (at least 16 characters)")
    flags.add_flag(parser, "--max-body", default=1 << 20, type=flags.byte_size,
                   metavar="SIZE", help="largest POST body accepted")
    flags.add_flag(parser, "--log-level", default="info",
                   choices=["debug", "info", "warning", "error"], help="log level")


def main(args: argparse.Namespace) -> int:
    import logging

    from streamwatch.core import logs
    from streamwatch.core.http import Server, port_in_use_message, run_until_signalled
    from streamwatch.exporter.app import EXTENSION, create_app
    from streamwatch.exporter.config import ConfigError, ExporterConfig

    logs.setup("metrics-exporter", args.log_level)
    try:
        config = ExporterConfig(
            host=args.host, port=args.port, alerting_url=args.alerting_url,
            labels_url=args.labels_url, poll_interval=args.poll_interval,
            max_backoff=args.max_backoff, request_timeout=args.request_timeout,
            top_n=args.top_n, max_windows=args.max_windows, max_queries=args.max_queries,
            max_body_bytes=args.max_body, quality_max_incidents=args.quality_max_incidents,
            quality_max_alerts=args.quality_max_alerts, ingest_token=args.ingest_token or "",
        )
    except ConfigError as exc:
        print(f"streamwatch exporter: {exc}", file=sys.stderr)
        return 2
    app = create_app(config)
    exporter = app.extensions[EXTENSION]
    try:
        server = Server(app, config.host, config.port)
    except (OSError, SystemExit) as exc:
        # werkzeug reports a busy port by printing and calling sys.exit(1) itself.
        if isinstance(exc, OSError) and exc.errno != errno.EADDRINUSE:
            raise
        message = port_in_use_message(config.host, config.port, "--port")
        print(f"streamwatch exporter: {message}", file=sys.stderr)
        return 2

    log = logging.getLogger("streamwatch.exporter")

    def start() -> None:
        server.start()
        exporter.start()
        log.info("listening", extra={"host": server.host, "port": server.port,
                                     "alerting_url": config.alerting_url,
                                     "labels_url": config.labels_url})

    def stop() -> None:
        exporter.stop()
        server.stop()

    run_until_signalled(start, stop)
    return 0
