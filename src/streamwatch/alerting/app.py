"""The Flask app factory of the alerting service.

``create_app(config)`` opens (and migrates) the store, builds the metrics and
the delivery workers and mounts the routes; it does not start the workers —
the caller does (``cli.main``, or ``wsgi.py`` in each gunicorn worker), so
tests and tools can build an app without background threads.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from prometheus_client import CollectorRegistry

from streamwatch import __version__
from streamwatch.alerting import api_alerts, api_subscriptions
from streamwatch.alerting.config import AlertingConfig
from streamwatch.alerting.delivery import DeliveryService
from streamwatch.alerting.metrics import AlertingMetrics
from streamwatch.alerting.openapi import build_openapi
from streamwatch.alerting.policy import RetryPolicy
from streamwatch.alerting.runtime import EXTENSION, Runtime
from streamwatch.alerting.store import open_store
from streamwatch.core.http import base_app

log = logging.getLogger(__name__)


def create_app(config: AlertingConfig) -> Flask:
    store = open_store(database_url=config.database_url, sqlite_path=config.sqlite_path)
    registry = CollectorRegistry()
    metrics = AlertingMetrics(registry, store)
    delivery = DeliveryService(
        store, policy=RetryPolicy(config.retry_schedule, config.retry_jitter,
                                  config.disable_after_failures),
        metrics=metrics, workers=config.delivery_workers,
        attempt_timeout=config.attempt_timeout, poll_interval=config.poll_interval,
        allow_private=config.allow_private, allowed_hosts=config.allowed_hosts)

    def ready() -> tuple[bool, dict[str, Any]]:
        try:
            store.ping()
        except Exception as exc:
            return False, {"database": config.database_label,
                           "error": f"database unreachable: {type(exc).__name__}"}
        return True, {"database": config.database_label}

    app = base_app("alerting", registry, openapi=build_openapi(__version__), ready=ready)
    app.extensions[EXTENSION] = Runtime(config, store, metrics, delivery)
    app.register_blueprint(api_alerts.bp)
    app.register_blueprint(api_subscriptions.bp)
    return app
