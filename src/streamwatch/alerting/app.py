"""The Flask app factory of the alerting service, and ``serve`` to run it.

``create_app(settings)`` opens (and migrates) the store, builds the metrics and
the delivery workers and mounts the routes; it does not start the workers —
the caller does (``serve``, or ``wsgi.py`` in each gunicorn worker), so
tests and tools can build an app without background threads. ``serve`` is what
``streamwatch alerting`` runs: the app on the built-in threaded server until
SIGTERM/SIGINT (images run gunicorn on ``wsgi`` instead).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from prometheus_client import CollectorRegistry

from streamwatch import __version__
from streamwatch.alerting import api_alerts, api_subscriptions
from streamwatch.alerting.delivery import DeliveryService
from streamwatch.alerting.metrics import AlertingMetrics
from streamwatch.alerting.openapi import build_openapi
from streamwatch.alerting.policy import RetryPolicy
from streamwatch.alerting.runtime import EXTENSION, Runtime
from streamwatch.alerting.settings import AlertingSettings
from streamwatch.alerting.store import open_store
from streamwatch.core import logs
from streamwatch.core.http import Server, base_app, binding, run_until_signalled

log = logging.getLogger(__name__)


def create_app(settings: AlertingSettings) -> Flask:
    store = open_store(database_url=settings.database_url, sqlite_path=settings.sqlite_path)
    registry = CollectorRegistry()
    metrics = AlertingMetrics(registry, store)
    delivery = DeliveryService(
        store, policy=RetryPolicy(settings.retry_schedule, settings.retry_jitter,
                                  settings.disable_after_failures),
        metrics=metrics, workers=settings.delivery_workers,
        attempt_timeout=settings.attempt_timeout, poll_interval=settings.poll_interval,
        allow_private=settings.allow_private, allowed_hosts=settings.allowed_hosts)

    def ready() -> tuple[bool, dict[str, Any]]:
        try:
            store.ping()
        except Exception as exc:
            return False, {"database": settings.database_label,
                           "error": f"database unreachable: {type(exc).__name__}"}
        return True, {"database": settings.database_label}

    app = base_app("alerting", registry, openapi=build_openapi(__version__), ready=ready)
    app.extensions[EXTENSION] = Runtime(settings, store, metrics, delivery)
    app.register_blueprint(api_alerts.bp)
    app.register_blueprint(api_subscriptions.bp)
    return app


def serve(settings: AlertingSettings) -> int:
    """Serve until signalled; a busy port raises ``PortBusy`` before anything starts."""
    logs.setup("alerting", settings.log_level)
    app = create_app(settings)
    rt = Runtime.of(app)
    try:
        with binding(settings.host, settings.port, settings.where("port")):
            server = Server(app, settings.host, settings.port)
    except BaseException:
        rt.store.close()
        raise

    def start() -> None:
        rt.delivery.start()
        server.start()
        logging.getLogger("streamwatch.alerting").info("alerting listening", extra={
            "host": settings.host, "port": server.port, "database": settings.database_label,
            "allow_private": settings.allow_private, "workers": settings.delivery_workers})

    def stop() -> None:
        # Stop taking requests first, then let claimed deliveries finish.
        server.stop()
        rt.delivery.stop()
        rt.store.close()

    run_until_signalled(start, stop)
    return 0
