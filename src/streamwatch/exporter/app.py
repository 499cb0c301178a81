"""The exporter's Flask app: ``create_app(config)`` wires state, collector, pollers, routes.

The app holds no module-level state: everything hangs off the ``Exporter``
stored in ``app.extensions["streamwatch.exporter"]``. Pollers do not start with the
app (tests drive the app without threads); ``Exporter.start()`` starts them.
"""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app
from prometheus_client import CollectorRegistry

from streamwatch.core.http import (
    ApiError,
    base_app,
    json_body,
    json_response,
    query_int,
    require_bearer,
)
from streamwatch.exporter import dashboard, openapi, orders
from streamwatch.exporter.collector import ExporterCollector
from streamwatch.exporter.config import ExporterConfig
from streamwatch.exporter.pollers import AlertsPoller, LabelsPoller, Poller
from streamwatch.exporter.progress import parse_progress
from streamwatch.exporter.state import ExporterState
from streamwatch.exporter.trends import parse_trends
from streamwatch.exporter.validation import ValidationError

EXTENSION = "streamwatch.exporter"
#: minutes of orders the web dashboard charts
ORDER_MINUTES = 60


class Exporter:
    """State, registry and pollers of one exporter instance."""

    def __init__(self, config: ExporterConfig) -> None:
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

    def start(self) -> None:
        for poller in self.pollers:
            poller.start()

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        # ends the dashboard's event streams, which would otherwise hold their threads
        self.state.close()


def _exporter() -> Exporter:
    api: Exporter = current_app.extensions[EXTENSION]
    return api


api = Blueprint("exporter_api", __name__)


@api.post("/v1/progress")
def post_progress() -> Response:
    exporter = _exporter()
    require_bearer(exporter.config.ingest_token, "ingest token")
    try:
        sample = parse_progress(json_body(exporter.config.max_body_bytes))
    except ValidationError as exc:
        exporter.state.record_rejected("progress")
        raise ApiError(400, exc.message, exc.field) from None
    except ApiError:
        exporter.state.record_rejected("progress")
        raise
    recorded = exporter.state.record_progress(sample)
    return json_response({"query": sample.query, "batch_id": sample.batch_id,
                          "duplicate": not recorded}, 202)


@api.get("/v1/progress")
def get_progress() -> Response:
    return json_response({"queries": _exporter().state.progress()})


@api.post("/v1/trends")
def post_trends() -> Response:
    exporter = _exporter()
    require_bearer(exporter.config.ingest_token, "ingest token")
    try:
        trends, sentiment = parse_trends(json_body(exporter.config.max_body_bytes))
    except ValidationError as exc:
        exporter.state.record_rejected("trends")
        raise ApiError(400, exc.message, exc.field) from None
    except ApiError:
        exporter.state.record_rejected("trends")
        raise
    exporter.state.record_trends(trends, sentiment)
    return json_response({"trends": len(trends), "sentiment": len(sentiment)}, 202)


@api.get("/v1/trends")
def get_trends() -> Response:
    limit = query_int("limit", minimum=1)
    return json_response(_exporter().state.trends(limit))


@api.get("/v1/quality")
def get_quality() -> Response:
    return json_response(_exporter().state.quality())


def create_app(config: ExporterConfig) -> Flask:
    exporter = Exporter(config)
    app = base_app("metrics-exporter", exporter.registry, openapi=openapi.build())
    app.extensions[EXTENSION] = exporter
    app.extensions[dashboard.EXTENSION] = exporter.dashboard
    app.extensions[orders.EXTENSION] = orders.OrdersApi(
        exporter.orders, config.ingest_token, config.max_body_bytes,
        lambda: exporter.state.record_rejected("orders"))
    app.register_blueprint(api)
    app.register_blueprint(orders.api)
    app.register_blueprint(dashboard.ui)
    return app
