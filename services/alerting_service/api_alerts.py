"""``/v1/alerts``: batch ingest (idempotent on ``alert_id``) and cursor queries."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response, request

from alerting_service.runtime import Runtime, decode_cursor, encode_cursor, now_ms
from streamwatch.events import SEVERITIES, Alert, EventError, parse_ts
from streamwatch.httpkit import ApiError, json_body, json_response, query_int

bp = Blueprint("alerts", __name__)

MAX_LIMIT = 1000


def parse_batch(body: Any, max_batch: int) -> list[Alert]:
    """Validate a whole batch; one bad alert rejects it with every error listed."""
    if not isinstance(body, dict) or not isinstance(body.get("alerts"), list):
        raise ApiError(400, 'request body must be a JSON object {"alerts": [alert, ...]}',
                       "alerts")
    docs = body["alerts"]
    if len(docs) > max_batch:
        raise ApiError(413, f"a batch holds at most {max_batch} alerts, got {len(docs)}",
                       "alerts")
    alerts: list[Alert] = []
    errors: list[dict[str, Any]] = []
    for index, doc in enumerate(docs):
        try:
            alerts.append(Alert.from_dict(doc))
        except EventError as exc:
            errors.extend({"index": index, **err} for err in exc.errors)
    if errors:
        bad = len({e["index"] for e in errors})
        raise ApiError(422, f"{bad} of {len(docs)} alerts are invalid; nothing was stored",
                       "alerts", details=errors)
    return alerts


@bp.post("/v1/alerts")
def post_alerts() -> Response:
    rt = Runtime.of()
    alerts = parse_batch(json_body(rt.config.max_body_bytes), rt.config.max_batch)
    result = rt.store.ingest(alerts, now_ms())
    rt.metrics.alerts_received.inc(len(alerts))
    if result.duplicates:
        rt.metrics.alerts_deduplicated.inc(len(result.duplicates))
    if result.enqueued:
        rt.delivery.notify()
    return json_response({"accepted": result.accepted, "duplicates": result.duplicates})


def _time_param(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(parse_ts(raw).timestamp() * 1000)
    except ValueError as exc:
        raise ApiError(400, f"query parameter '{name}': {exc}", name) from None


@bp.get("/v1/alerts")
def get_alerts() -> Response:
    rt = Runtime.of()
    severity = request.args.get("severity") or None
    if severity is not None and severity not in SEVERITIES:
        raise ApiError(400, f"query parameter 'severity' must be one of {list(SEVERITIES)}",
                       "severity")
    limit = query_int("limit", default=100, minimum=1, maximum=MAX_LIMIT)
    rows = rt.store.query_alerts(
        rule=request.args.get("rule") or None, severity=severity,
        card_id=request.args.get("card_id") or None,
        since_ms=_time_param("since"), until_ms=_time_param("until"),
        after_seq=decode_cursor("a", request.args.get("cursor")), limit=limit or 100)
    cursor = encode_cursor("a", rows[-1].seq if rows else None)
    # The stored bodies are already JSON: splice them instead of parsing and re-encoding.
    doc = (b'{"alerts":[' + b",".join(r.body.encode() for r in rows) + b'],"next_cursor":'
           + orjson.dumps(cursor) + b"}")
    return Response(doc, mimetype="application/json")
