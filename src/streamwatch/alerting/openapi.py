"""The OpenAPI 3.0 document of the alerting service (served at ``/openapi.json``).

``tests/unit/alerting/test_alerting_api.py`` checks that its paths are exactly the
app's routes; the schemathesis test checks live answers against these schemas.
"""

from __future__ import annotations

from typing import Any

from streamwatch.alerting.store.models import MESSAGE_STATES, OUTCOMES
from streamwatch.contracts.events import SEVERITIES
from streamwatch.core.http import openapi_document


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERR = _json(_ref("Error"), "error")
RULE_PATTERN = "^[a-z][a-z0-9_]{0,63}$"
_NULL_STR = {"type": "string", "nullable": True}
_TS = {"type": "string", "example": "2026-11-20T10:15:03.120Z"}

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "field": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}}}},
    "Alert": {"type": "object", "required": [
        "alert_id", "rule", "severity", "score", "card_id", "txn_ids", "event_time",
        "detected_at", "reason"], "properties": {
        "alert_id": {"type": "string", "pattern": "^[0-9a-f]{64}$",
                     "description": "sha256 hex of rule|card_id|first txn_id"},
        "rule": {"type": "string", "pattern": RULE_PATTERN},
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "card_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "txn_ids": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "event_time": _TS, "detected_at": _TS,
        "reason": {"type": "string", "minLength": 1, "maxLength": 2000}}},
    "AlertBatch": {"type": "object", "required": ["alerts"], "properties": {
        "alerts": {"type": "array", "items": _ref("Alert")}}},
    "IngestResult": {"type": "object", "required": ["accepted", "duplicates"], "properties": {
        "accepted": {"type": "array", "items": {"type": "string"},
                     "description": "alert ids stored by this request"},
        "duplicates": {"type": "array", "items": {"type": "string"},
                       "description": "alert ids that were already stored"}}},
    "AlertPage": {"type": "object", "required": ["alerts", "next_cursor"], "properties": {
        "alerts": {"type": "array", "items": _ref("Alert")},
        "next_cursor": {**_NULL_STR, "description":
                        "cursor of the last returned alert; null when none was returned"}}},
    "NewSubscription": {"type": "object", "required": ["url"], "additionalProperties": False,
                        "properties": {
        "url": {"type": "string", "format": "uri", "description": "http(s) webhook URL"},
        "rules": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                  "nullable": True, "description": "rules to receive; omit for all"},
        "min_severity": {"type": "string", "enum": list(SEVERITIES), "nullable": True},
        "description": {"type": "string", "maxLength": 500, "nullable": True}}},
    "Subscription": {"type": "object", "required": [
        "id", "url", "rules", "min_severity", "created_at", "enabled"], "properties": {
        "id": {"type": "string"}, "url": {"type": "string"},
        "rules": {"type": "array", "items": {"type": "string"}, "nullable": True},
        "min_severity": {"type": "string", "enum": list(SEVERITIES), "nullable": True},
        "description": _NULL_STR, "created_at": _TS, "enabled": {"type": "boolean"},
        "disabled_reason": _NULL_STR, "consecutive_failures": {"type": "integer"},
        "previous_secret_expires_at": _NULL_STR}},
    "SubscriptionWithSecret": {"allOf": [_ref("Subscription"), {
        "type": "object", "required": ["secret"], "properties": {
            "secret": {"type": "string", "pattern": "^whsec_[A-Za-z0-9+/=]+$",
                       "description": "shown only in this answer"}}}]},
    "SubscriptionList": {"type": "object", "required": ["subscriptions"], "properties": {
        "subscriptions": {"type": "array", "items": _ref("Subscription")}}},
    "Delivery": {"type": "object", "required": [
        "message_id", "alert_id", "attempt", "outcome", "status_code", "latency_ms", "error",
        "timestamp"], "properties": {
        "message_id": {"type": "string", "description": "the webhook-id header"},
        "alert_id": {"type": "string"}, "attempt": {"type": "integer", "minimum": 1},
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "status_code": {"type": "integer", "nullable": True},
        "latency_ms": {"type": "number"}, "error": _NULL_STR, "timestamp": _TS}},
    "DeliveryPage": {"type": "object", "required": ["deliveries", "next_cursor"], "properties": {
        "deliveries": {"type": "array", "items": _ref("Delivery")},
        "next_cursor": _NULL_STR}},
    "Message": {"type": "object", "required": [
        "message_id", "alert_id", "state", "attempts"], "properties": {
        "message_id": {"type": "string"}, "alert_id": {"type": "string"},
        "state": {"type": "string", "enum": list(MESSAGE_STATES)},
        "attempts": {"type": "integer"}, "next_attempt_at": _NULL_STR,
        "last_status_code": {"type": "integer", "nullable": True},
        "last_error": _NULL_STR, "created_at": _TS, "updated_at": _TS}},
    "MessagePage": {"type": "object", "required": ["messages", "next_cursor"], "properties": {
        "messages": {"type": "array", "items": _ref("Message")}, "next_cursor": _NULL_STR}},
    "Replay": {"type": "object", "additionalProperties": False, "properties": {
        "message_id": {"type": "string"},
        "since": {**_TS, "description": "re-send every alert received since this time"}},
        "description": "exactly one of message_id or since"},
    "ReplayResult": {"type": "object", "required": ["replayed"], "properties": {
        "replayed": {"type": "integer", "minimum": 0}}},
}


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


_LIMIT = _q("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 1000,
                                   "default": 100})
_CURSOR = _q("cursor", "next_cursor of the previous page",
             {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"})
_TIME = {"type": "string", "format": "date-time",
         "description": "RFC 3339, between 2000-01-01 and 2100-01-01"}
_SUB_ID = {"name": "sub_id", "in": "path", "required": True, "schema": {"type": "string"}}
_SECURED: dict[str, list[dict[str, list[str]]]] = {"security": [{"admin": []}]}
_AUTH_ERRORS = {"400": _ERR, "401": _ERR, "404": _ERR}
_WRITE_ERRORS = {"400": _ERR, "401": _ERR, "413": _ERR, "415": _ERR, "422": _ERR}


def _sub_op(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "tags": ["subscriptions"], "parameters": [_SUB_ID],
            **_SECURED, "responses": {**responses, **_AUTH_ERRORS}, **extra}


def _body(schema_name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema_name)}}}


PATHS: dict[str, Any] = {
    "/v1/alerts": {
        "post": {"summary": "Ingest a batch of alerts (idempotent on alert_id)",
                 "tags": ["alerts"], "security": [{"ingest": []}],
                 "requestBody": _body("AlertBatch"),
                 "responses": {"200": _json(_ref("IngestResult")), **_WRITE_ERRORS}},
        "get": {"summary": "Query stored alerts in ingest order", "tags": ["alerts"],
                "parameters": [
                    _q("rule", "only this rule", {"type": "string", "pattern": RULE_PATTERN}),
                    _q("severity", "only this severity",
                       {"type": "string", "enum": list(SEVERITIES)}),
                    _q("card_id", "only this card",
                       {"type": "string", "minLength": 1, "maxLength": 128}),
                    _q("since", "event_time >= this time", _TIME),
                    _q("until", "event_time < this time", _TIME), _LIMIT, _CURSOR],
                "responses": {"200": _json(_ref("AlertPage")), "400": _ERR}},
    },
    "/v1/subscriptions": {
        "post": {"summary": "Create a webhook subscription", "tags": ["subscriptions"],
                 **_SECURED, "requestBody": _body("NewSubscription"),
                 "responses": {"201": _json(_ref("SubscriptionWithSecret"), "created"),
                               **_WRITE_ERRORS}},
        "get": {"summary": "List subscriptions (without secrets)", "tags": ["subscriptions"],
                **_SECURED, "responses": {"200": _json(_ref("SubscriptionList")),
                                          "401": _ERR}},
    },
    "/v1/subscriptions/{sub_id}": {
        "get": _sub_op("One subscription", {"200": _json(_ref("Subscription"))}),
        "delete": _sub_op("Delete a subscription, its outbox and history",
                          {"204": {"description": "deleted"}}),
    },
    "/v1/subscriptions/{sub_id}/rotate-secret": {
        "post": _sub_op("New secret; the old one keeps signing for the grace period",
                        {"200": _json(_ref("SubscriptionWithSecret"))}),
    },
    "/v1/subscriptions/{sub_id}/enable": {
        "post": _sub_op("Re-enable a disabled subscription; parked messages resume",
                        {"200": _json(_ref("Subscription"))}),
    },
    "/v1/subscriptions/{sub_id}/deliveries": {
        "get": _sub_op("Delivery attempts, oldest first", {
            "200": _json(_ref("DeliveryPage")), "400": _ERR},
            parameters=[_SUB_ID, _q("message_id", "only this message"), _LIMIT, _CURSOR]),
    },
    "/v1/subscriptions/{sub_id}/messages": {
        "get": _sub_op("Outbox messages (state=dead lists dead letters)", {
            "200": _json(_ref("MessagePage")), "400": _ERR},
            parameters=[_SUB_ID, _q("state", "only this state",
                                    {"type": "string", "enum": list(MESSAGE_STATES)}),
                        _LIMIT, _CURSOR]),
    },
    "/v1/subscriptions/{sub_id}/replay": {
        "post": _sub_op("Re-send one message or every alert since a time", {
            "202": _json(_ref("ReplayResult"), "queued"), "409": _ERR, **_WRITE_ERRORS},
            requestBody=_body("Replay")),
    },
}


def build_openapi(version: str) -> dict[str, Any]:
    doc = openapi_document("Streamwatch alerting", version, PATHS, SCHEMAS)
    doc["components"]["securitySchemes"] = {
        "admin": {"type": "http", "scheme": "bearer",
                  "description": "STREAMWATCH_ADMIN_TOKEN: every /v1/subscriptions route"},
        "ingest": {"type": "http", "scheme": "bearer",
                   "description": "STREAMWATCH_INGEST_TOKEN: POST /v1/alerts"}}
    return doc
