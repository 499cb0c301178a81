"""The routes of the exporter for its OpenAPI document; the request schemas are the
contract models' and the examples the package's captured samples."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from streamwatch.contracts.orders import OrdersBody
from streamwatch.contracts.progress import Progress
from streamwatch.contracts.trends import TrendsBody
from streamwatch.core.openapi import Answer, Param, Route, Routes, error
from streamwatch.core.openapi import build as build_document

_ERR = error("malformed request; `field` names the offending field")
_WRITE_ERRORS = {code: _ERR for code in (400, 401, 413, 415)}
_LIMIT = Param("limit", {"type": "integer", "minimum": 1})


@cache
def example(name: str) -> dict[str, Any]:
    """``progress``, ``trends`` or ``orders``: a realistic request body shipped with the
    package."""
    # Shipped as package data next to this module (pyproject package-data *.json).
    path = Path(__file__).with_name(f"example_{name}.json")
    doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return doc


def _post(summary: str, body: Any, name: str, accepted: str = "accepted") -> Route:
    return Route(summary, {202: Answer(accepted), **_WRITE_ERRORS}, body=body,
                 example=example(name), security="ingest")


def routes() -> Routes:
    return {
        "/v1/progress": {
            "post": _post("Record one StreamingQueryProgress (PySpark `event.progress.json`)",
                          Progress, "progress", "accepted (or a repeated event ignored)"),
            "get": Route("Latest figures per streaming query",
                         {200: Answer('{"queries": [...]}')}),
        },
        "/v1/trends": {
            "post": _post("Record top-N hashtag rows and window sentiment", TrendsBody,
                          "trends"),
            "get": Route("Current trends, newest window first",
                         {200: Answer('{"windows": [...], "sentiment": [...]}'), 400: _ERR},
                         params=(_LIMIT,)),
        },
        "/v1/quality": {
            "get": Route("Live fraud precision/recall by scenario, alert counts by rule",
                         {200: Answer("quality report")}),
        },
        "/v1/orders": {
            "post": _post("Record final orders-per-minute rows of the orders job (a row "
                          "replaces the row of the same minute, status, category, region)",
                          OrdersBody, "orders"),
            "get": Route("Orders per minute and status (and by category, by region), newest "
                         "minute first",
                         {200: Answer('{"orders": [rows], "late_events_total": n}'),
                          400: _ERR},
                         params=(Param("limit", {"type": "integer", "minimum": 1},
                                       "newest minutes returned"),)),
        },
        "/": {
            "get": Route("The live web dashboard (HTML)", {200: Answer(
                "HTML page", media="text/html", schema={"type": "string"})}),
        },
        "/ui/{asset}": {
            "get": Route("The dashboard's script and style sheet",
                         {200: Answer("the asset"), 404: _ERR},
                         params=(Param("asset", {"type": "string", "enum": [
                             "dashboard.js", "dashboard.css"]}, where="path"),)),
        },
        "/v1/dashboard": {
            "get": Route("Everything the dashboard shows, one JSON document: trends, "
                         "sentiment, orders, fraud, health",
                         {200: Answer('{"version": n, "trends": ..., "health": ...}')}),
        },
        "/v1/dashboard/stream": {
            "get": Route("Server-sent events: each dashboard section once, then again "
                         "whenever it changes (event name = section)",
                         {200: Answer("event stream", media="text/event-stream",
                                      schema={"type": "string"}), 503: _ERR}),
        },
    }


def build() -> dict[str, Any]:
    return build_document("streamwatch metrics-exporter", "1", routes(), security={
        "ingest": "STREAMWATCH_INGEST_TOKEN: the POST routes; reads are open"})
