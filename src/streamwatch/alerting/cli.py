"""Alerting service: stores fraud alerts once per alert_id and delivers them as
signed Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature)
with a durable, retried outbox.

  STREAMWATCH_ADMIN_TOKEN=... STREAMWATCH_INGEST_TOKEN=... streamwatch alerting --port 7103
  curl -s localhost:7103/v1/alerts?limit=10

SQLite (WAL) under --data-dir by default; --database-url postgresql://... lets
several replicas share one database. API: GET /openapi.json.
"""

from __future__ import annotations

import argparse

from streamwatch.alerting.settings import AlertingSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    AlertingSettings.add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    from streamwatch.alerting.app import serve
    from streamwatch.core.http import PortBusy
    from streamwatch.core.settings import run_command

    return run_command(AlertingSettings, args, serve, refusals=(PortBusy,))
