"""``/v1/alerts``: batch ingest (idempotent on ``alert_id``) and cursor queries.

Ingest needs ``Authorization: Bearer <ingest token>``; reading is open (alerts
carry card ids and transaction ids, never card numbers or amounts). An alert is
the contract's fields and nothing else, at most ``MAX_ALERT_BYTES`` as stored,
and a page of ``GET`` answers holds at most ``MAX_PAGE_BYTES`` of alerts (always
at least one), so neither a stored alert nor a listing can grow without bound.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pydantic
from flask import Blueprint, Response, request

from streamwatch.alerting.runtime import Runtime, decode_cursor, encode_cursor, now_ms
from streamwatch.contracts.alerts import AlertBatch
from streamwatch.contracts.errors import json_path, located_errors
from streamwatch.contracts.events import RULE_PATTERN, SEVERITIES, Alert
from streamwatch.core.http import (
    ApiError,
    json_body,
    json_response,
    query_int,
    query_time_ms,
    require_bearer,
)

bp = Blueprint("alerts", __name__)

MAX_LIMIT = 1000
MAX_ALERT_BYTES = 256 << 10
MAX_PAGE_BYTES = 1 << 20
_RULE = re.compile(RULE_PATTERN)
_NOT_A_BATCH = 'request body must be a JSON object {"alerts": [alert, ...]}'


def parse_batch(body: Any, max_batch: int) -> list[Alert]:
    """Validate a whole batch (``AlertBatch``); one bad alert rejects it with every error
    listed by the alert's index and the JSON path of the field."""
    if not isinstance(body, dict):
        raise ApiError(400, _NOT_A_BATCH, "alerts")
    try:
        alerts = AlertBatch.model_validate(body).alerts
        errors: list[dict[str, Any]] = []
    except pydantic.ValidationError as exc:
        alerts = []
        errors = _by_alert(exc)
    docs = body["alerts"]
    if len(docs) > max_batch:
        raise ApiError(413, f"a batch holds at most {max_batch} alerts, got {len(docs)}",
                       "alerts")
    for index, alert in enumerate(alerts):
        if len(orjson.dumps(alert.to_dict())) > MAX_ALERT_BYTES:
            errors.append({"index": index, "field": "txn_ids", "error": "the alert is larger "
                           f"than {MAX_ALERT_BYTES} bytes; send fewer or shorter txn_ids"})
    if errors:
        bad = len({e["index"] for e in errors})
        raise ApiError(422, f"{bad} of {len(docs)} alerts are invalid; nothing was stored",
                       "alerts", details=errors)
    return alerts


def _by_alert(exc: pydantic.ValidationError) -> list[dict[str, Any]]:
    """The batch's errors as ``{"index", "field", "error"}``; a 400 if the batch itself
    (not one of its alerts) is malformed."""
    out = []
    for loc, message in located_errors(exc):
        if len(loc) < 2 or not isinstance(loc[1], int):
            raise ApiError(400, _NOT_A_BATCH, "alerts")
        out.append({"index": loc[1], "field": json_path(loc[2:], "(root)"), "error": message})
    return out


@bp.post("/v1/alerts")
def post_alerts() -> Response:
    rt = Runtime.of()
    require_bearer(rt.config.ingest_token, "ingest token")
    alerts = parse_batch(json_body(rt.config.max_body_bytes), rt.config.max_batch)
    result = rt.store.ingest(alerts, now_ms())
    rt.metrics.alerts_received.inc(len(alerts))
    if result.duplicates:
        rt.metrics.alerts_deduplicated.inc(len(result.duplicates))
    if result.enqueued:
        rt.delivery.notify()
    return json_response({"accepted": result.accepted, "duplicates": result.duplicates})


@bp.get("/v1/alerts")
def get_alerts() -> Response:
    rt = Runtime.of()
    severity = request.args.get("severity") or None
    if severity is not None and severity not in SEVERITIES:
        raise ApiError(400, f"query parameter 'severity' must be one of {list(SEVERITIES)}",
                       "severity")
    rule = request.args.get("rule")
    if rule is not None and not _RULE.fullmatch(rule):
        raise ApiError(400, f"query parameter 'rule' must match {RULE_PATTERN}", "rule")
    card_id = request.args.get("card_id")
    if card_id is not None and len(card_id) > 128:
        raise ApiError(400, "query parameter 'card_id' must be at most 128 characters",
                       "card_id")
    limit = query_int("limit", default=100, minimum=1, maximum=MAX_LIMIT)
    rows = rt.store.query_alerts(
        rule=rule, severity=severity, card_id=card_id,
        since_ms=query_time_ms("since"), until_ms=query_time_ms("until"),
        after_seq=decode_cursor("a", request.args.get("cursor")), limit=limit or 100,
        max_bytes=MAX_PAGE_BYTES)
    cursor = encode_cursor("a", rows[-1].seq if rows else None)
    # The stored bodies are already JSON: splice them instead of parsing and re-encoding.
    doc = (b'{"alerts":[' + b",".join(r.body.encode() for r in rows) + b'],"next_cursor":'
           + orjson.dumps(cursor) + b"}")
    return Response(doc, mimetype="application/json")
