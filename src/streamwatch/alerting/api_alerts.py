"""``/v1/alerts``: batch ingest (idempotent on ``alert_id``) and cursor queries.

Ingest needs ``Authorization: Bearer <ingest token>``; reading is open (alerts
carry card ids and transaction ids, never card numbers or amounts). An alert is
the contract's fields and nothing else, at most ``MAX_ALERT_BYTES`` as stored,
and a page of ``GET`` answers holds at most ``MAX_PAGE_BYTES`` of alerts (always
at least one), so neither a stored alert nor a listing can grow without bound.
"""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

import orjson
from flask import Blueprint, Response, request

from streamwatch.alerting.openapi import RULE_PATTERN
from streamwatch.alerting.runtime import Runtime, decode_cursor, encode_cursor, now_ms
from streamwatch.contracts.events import SEVERITIES, Alert, EventError
from streamwatch.core.http import (
    ApiError,
    json_body,
    json_response,
    parse_bounded_ts,
    query_int,
    query_time_ms,
    require_bearer,
)

bp = Blueprint("alerts", __name__)

MAX_LIMIT = 1000
MAX_ALERT_BYTES = 256 << 10
MAX_PAGE_BYTES = 1 << 20
_RULE = re.compile(RULE_PATTERN)
ALERT_FIELDS = frozenset(f.name for f in fields(Alert)) - {"extra"}


def _precheck(doc: Any) -> list[dict[str, str]]:
    """What the contract checker does not refuse: unknown fields, times out of range."""
    if not isinstance(doc, dict):
        return []
    errors = [{"field": str(k)[:64], "error": "is not a field of an alert"}
              for k in sorted(set(doc) - ALERT_FIELDS, key=str)]
    for name in ("event_time", "detected_at"):
        if isinstance(doc.get(name), str):
            try:
                parse_bounded_ts(doc[name])
            except ValueError as exc:
                errors.append({"field": name, "error": str(exc)})
    return errors


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
        found = _precheck(doc)
        if not found:
            try:
                alert = Alert.from_dict(doc)
            except EventError as exc:
                found = exc.errors
            else:
                if len(orjson.dumps(alert.to_dict())) > MAX_ALERT_BYTES:
                    found = [{"field": "txn_ids", "error": f"the alert is larger than "
                              f"{MAX_ALERT_BYTES} bytes; send fewer or shorter txn_ids"}]
                else:
                    alerts.append(alert)
        errors.extend({"index": index, **err} for err in found)
    if errors:
        bad = len({e["index"] for e in errors})
        raise ApiError(422, f"{bad} of {len(docs)} alerts are invalid; nothing was stored",
                       "alerts", details=errors)
    return alerts


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
