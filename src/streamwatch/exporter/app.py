"""The exporter's Flask app: ``create_app(settings)`` wires state, metrics, pollers, routes.

The app holds no module-level state: everything hangs off the ``Exporter``
stored in ``app.extensions[routes.EXTENSION]``. Pollers do not start with the
app (tests drive the app without threads); ``Exporter.start()`` starts them.
``serve`` is what ``streamwatch exporter`` runs: the app on werkzeug's threaded
server until SIGTERM/SIGINT.
"""

from __future__ import annotations

import logging

from flask import Flask
from prometheus_client import CollectorRegistry

from streamwatch.core import logs
from streamwatch.core.http import Server, base_app, binding, run_until_signalled
from streamwatch.exporter import dashboard, openapi, orders, routes
from streamwatch.exporter.metrics import ExporterCollector
from streamwatch.exporter.pollers import AlertsPoller, LabelsPoller, Poller
from streamwatch.exporter.settings import ExporterSettings
from streamwatch.exporter.state import ExporterState

#: minutes of orders the web dashboard charts
ORDER_MINUTES = 60


class Exporter:
    """State, registry and pollers of one exporter instance."""

    def __init__(self, config: ExporterSettings) -> None:
        self.config = config
        self.registry = CollectorRegistry()
        self.state = ExporterState(top_n=config.top_n, max_windows=config.max_windows,
                                   max_rows_per_window=config.max_rows_per_window,
                                   max_queries=config.max_queries,
                                   quality_max_incidents=config.quality_max_incidents,
                                   quality_max_alerts=config.quality_max_alerts)
        ExporterCollector(self.state, self.registry)
        timing = {"interval": config.poll_interval, "max_backoff": config.max_backoff,
                  "timeout": config.request_timeout}
        self.pollers: list[Poller] = []
        if config.alerting_url:
            self.pollers.append(AlertsPoller(self.state, config.alerting_url, **timing))
        if config.labels_url:
            self.pollers.append(LabelsPoller(self.state, config.labels_url, **timing))
        self.orders = orders.OrdersStore(on_change=lambda: self.state.changed("orders"))
        orders.OrdersCollector(self.orders, self.registry)
        self.dashboard = dashboard.Dashboard(self.state, {"alerts": config.alerting_url,
                                                "labels": config.labels_url},
                                             orders=lambda: self.orders.rows(ORDER_MINUTES))

    @staticmethod
    def of(app: Flask) -> Exporter:
        exporter: Exporter = app.extensions[routes.EXTENSION]
        return exporter

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        # ends the dashboard's event streams, which would otherwise hold their threads
        self.state.close()


def create_app(settings: ExporterSettings) -> Flask:
    exporter = Exporter(settings)
    app = base_app("metrics-exporter", exporter.registry, openapi=openapi.build())
    app.extensions[routes.EXTENSION] = exporter
    app.extensions[dashboard.EXTENSION] = exporter.dashboard
    app.extensions[orders.EXTENSION] = orders.OrdersApi(
        exporter.orders, settings.ingest_token, settings.max_body_bytes,
        lambda: exporter.state.record_rejected("orders"))
    app.register_blueprint(routes.api)
    app.register_blueprint(orders.api)
    app.register_blueprint(dashboard.ui)
    return app


def serve(settings: ExporterSettings) -> int:
    """Serve until signalled; a busy port raises ``PortBusy`` before anything starts."""
    logs.setup("metrics-exporter", settings.log_level)
    app = create_app(settings)
    exporter = Exporter.of(app)
    with binding(settings.host, settings.port, settings.where("port")):
        server = Server(app, settings.host, settings.port)
    log = logging.getLogger("streamwatch.exporter")

    def start() -> None:
        server.start()
        exporter.start()
        log.info("listening", extra={"host": server.host, "port": server.port,
                                     "alerting_url": settings.alerting_url,
                                     "labels_url": settings.labels_url})

    def stop() -> None:
        exporter.stop()
        server.stop()

    run_until_signalled(start, stop)
    return 0
