"""The exporter's own API routes (``/v1/progress``, ``/v1/trends``, ``/v1/quality``).

The orders and dashboard routes live with their features (``orders``, ``dashboard``);
``app.create_app`` mounts all three blueprints. Every route finds the running
exporter under ``app.extensions[EXTENSION]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response, current_app

from streamwatch.core.http import ApiError, json_body, json_response, query_int, require_bearer
from streamwatch.exporter.progress import parse_progress
from streamwatch.exporter.trends import parse_trends
from streamwatch.exporter.validation import ValidationError

if TYPE_CHECKING:
    from streamwatch.exporter.app import Exporter

EXTENSION = "streamwatch.exporter"


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
