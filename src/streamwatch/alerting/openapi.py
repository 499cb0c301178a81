"""The routes of the alerting service for its OpenAPI document (``/openapi.json``).

The schemas are the contract models' (``streamwatch.contracts``);
``tests/unit/alerting/test_alerting_api.py`` checks that the paths are exactly the
app's routes, ``tests/unit/core/test_openapi.py`` that the document is valid and
its request schemas are the models'.
"""

from __future__ import annotations

from typing import Any

from streamwatch.contracts.alerts import AlertBatch, AlertPage, IngestResult
from streamwatch.contracts.events import RULE_PATTERN, SEVERITIES
from streamwatch.contracts.subscriptions import (
    MESSAGE_STATES,
    DeliveryPage,
    MessagePage,
    NewSubscription,
    Replay,
    ReplayResult,
    Subscription,
    SubscriptionList,
    SubscriptionWithSecret,
)
from streamwatch.core.openapi import Answer, Param, Route, Routes, build, error

_ERR = error("error; `field` names what was wrong")
_LIMIT = Param("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
               "page size")
_CURSOR = Param("cursor", {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
                "next_cursor of the previous page")
_TIME = {"type": "string", "format": "date-time",
         "description": "RFC 3339, between 2000-01-01 and 2100-01-01"}
_SUB_ID = Param("sub_id", {"type": "string"}, where="path")
_AUTH_ERRORS = {400: _ERR, 401: _ERR, 404: _ERR}
_WRITE_ERRORS = {400: _ERR, 401: _ERR, 413: _ERR, 415: _ERR, 422: _ERR}


def _sub(summary: str, answers: dict[int, Answer], *params: Param,
         body: Any = None) -> Route:
    return Route(summary, {**answers, **_AUTH_ERRORS}, body=body,
                 params=(_SUB_ID, *params), security="admin", tags=("subscriptions",))


ROUTES: Routes = {
    "/v1/alerts": {
        "post": Route("Ingest a batch of alerts (idempotent on alert_id)",
                      {200: Answer("OK", IngestResult), **_WRITE_ERRORS}, body=AlertBatch,
                      security="ingest", tags=("alerts",)),
        "get": Route("Query stored alerts in ingest order",
                     {200: Answer("OK", AlertPage), 400: _ERR}, tags=("alerts",), params=(
                         Param("rule", {"type": "string", "pattern": RULE_PATTERN},
                               "only this rule"),
                         Param("severity", {"type": "string", "enum": list(SEVERITIES)},
                               "only this severity"),
                         Param("card_id", {"type": "string", "minLength": 1,
                                           "maxLength": 128}, "only this card"),
                         Param("since", _TIME, "event_time >= this time"),
                         Param("until", _TIME, "event_time < this time"),
                         _LIMIT, _CURSOR)),
    },
    "/v1/subscriptions": {
        "post": Route("Create a webhook subscription",
                      {201: Answer("created", SubscriptionWithSecret), **_WRITE_ERRORS},
                      body=NewSubscription, security="admin", tags=("subscriptions",)),
        "get": Route("List subscriptions (without secrets)",
                     {200: Answer("OK", SubscriptionList), 401: _ERR}, security="admin",
                     tags=("subscriptions",)),
    },
    "/v1/subscriptions/{sub_id}": {
        "get": _sub("One subscription", {200: Answer("OK", Subscription)}),
        "delete": _sub("Delete a subscription, its outbox and history",
                       {204: Answer("deleted")}),
    },
    "/v1/subscriptions/{sub_id}/rotate-secret": {
        "post": _sub("New secret; the old one keeps signing for the grace period",
                     {200: Answer("OK", SubscriptionWithSecret)}),
    },
    "/v1/subscriptions/{sub_id}/enable": {
        "post": _sub("Re-enable a disabled subscription; parked messages resume",
                     {200: Answer("OK", Subscription)}),
    },
    "/v1/subscriptions/{sub_id}/deliveries": {
        "get": _sub("Delivery attempts, oldest first",
                    {200: Answer("OK", DeliveryPage), 400: _ERR},
                    Param("message_id", {"type": "string"}, "only this message"),
                    _LIMIT, _CURSOR),
    },
    "/v1/subscriptions/{sub_id}/messages": {
        "get": _sub("Outbox messages (state=dead lists dead letters)",
                    {200: Answer("OK", MessagePage), 400: _ERR},
                    Param("state", {"type": "string", "enum": list(MESSAGE_STATES)},
                          "only this state"),
                    _LIMIT, _CURSOR),
    },
    "/v1/subscriptions/{sub_id}/replay": {
        "post": _sub("Re-send one message or every alert since a time",
                     {202: Answer("queued", ReplayResult), 409: _ERR, **_WRITE_ERRORS},
                     body=Replay),
    },
}


def build_openapi(version: str) -> dict[str, Any]:
    return build("Streamwatch alerting", version, ROUTES, security={
        "admin": "STREAMWATCH_ADMIN_TOKEN: every /v1/subscriptions route",
        "ingest": "STREAMWATCH_INGEST_TOKEN: POST /v1/alerts"})
