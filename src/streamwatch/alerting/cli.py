"""Alerting service: stores fraud alerts once per alert_id and delivers them as
signed Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature)
with a durable, retried outbox.

  STREAMWATCH_ADMIN_TOKEN=... streamwatch alerting --port 7103
  curl -s localhost:7103/v1/alerts?limit=10

SQLite (WAL) under --data-dir by default; --database-url postgresql://... lets
several replicas share one database. API: GET /openapi.json.
"""

from __future__ import annotations

import argparse

from streamwatch.alerting.config import add_arguments as _add_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    import logging
    import sys

    from streamwatch.alerting.app import create_app
    from streamwatch.alerting.config import AlertingConfig, ConfigError
    from streamwatch.alerting.runtime import Runtime
    from streamwatch.core import logs
    from streamwatch.core.http import Server, port_in_use_message, run_until_signalled

    logs.setup("alerting", args.log_level)
    log = logging.getLogger("streamwatch.alerting")
    try:
        config = AlertingConfig.from_args(args)
    except ConfigError as exc:
        print(f"streamwatch alerting: {exc}", file=sys.stderr)
        return 2
    app = create_app(config)
    rt = Runtime.of(app)
    try:
        server = Server(app, config.host, config.port)
    except OSError:
        print(f"streamwatch alerting: {port_in_use_message(config.host, config.port, '--port')}",
              file=sys.stderr)
        return 2

    def start() -> None:
        rt.delivery.start()
        server.start()
        log.info("alerting listening", extra={
            "host": config.host, "port": server.port, "database": config.database_label,
            "allow_private": config.allow_private, "workers": config.delivery_workers})

    def stop() -> None:
        # Stop taking requests first, then let claimed deliveries finish.
        server.stop()
        rt.delivery.stop()
        rt.store.close()

    run_until_signalled(start, stop)
    return 0
