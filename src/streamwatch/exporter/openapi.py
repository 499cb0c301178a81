"""OpenAPI document of the exporter; the examples are the package's captured samples."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from streamwatch.core.http import openapi_document

_ERROR = {"description": "malformed body; `field` names the offending field",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@cache
def example(name: str) -> dict[str, Any]:
    """``progress`` or ``trends``: a realistic request body shipped with the package."""
    # Shipped as package data next to this module (pyproject package-data *.json).
    path = Path(__file__).with_name(f"example_{name}.json")
    doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return doc


_INGEST: list[dict[str, list[str]]] = [{"ingest": []}]
_WRITE_ERRORS = {code: _ERROR for code in ("400", "401", "413", "415")}


def _json(schema: dict[str, Any], example_doc: Any | None = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema}
    if example_doc is not None:
        media["example"] = example_doc
    return {"content": {"application/json": media}}


def build() -> dict[str, Any]:
    obj = {"type": "object"}
    paths = {
        "/v1/progress": {
            "post": {
                "summary": "Record one StreamingQueryProgress (PySpark `event.progress.json`)",
                "security": _INGEST,
                "requestBody": {"required": True, **_json(obj, example("progress"))},
                "responses": {"202": {"description": "accepted (or a repeated event ignored)"},
                              **_WRITE_ERRORS},
            },
            "get": {"summary": "Latest figures per streaming query",
                    "responses": {"200": {"description": "{\"queries\": [...]}"}}},
        },
        "/v1/trends": {
            "post": {
                "summary": "Record top-N hashtag rows and window sentiment",
                "security": _INGEST,
                "requestBody": {"required": True, **_json(obj, example("trends"))},
                "responses": {"202": {"description": "accepted"}, **_WRITE_ERRORS},
            },
            "get": {
                "summary": "Current trends, newest window first",
                "parameters": [{"name": "limit", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1}}],
                "responses": {"200": {"description": "{\"windows\": [...], "
                                                     "\"sentiment\": [...]}"},
                              "400": _ERROR},
            },
        },
        "/v1/quality": {
            "get": {"summary": "Live fraud precision/recall by scenario, alert counts by rule",
                    "responses": {"200": {"description": "quality report"}}},
        },
        "/v1/orders": {
            "post": {
                "summary": "Record final orders-per-minute rows of the orders job (a row "
                           "replaces the row of the same minute, status, category, region)",
                "security": _INGEST,
                "requestBody": {"required": True, **_json(obj, example("orders"))},
                "responses": {"202": {"description": "accepted"}, **_WRITE_ERRORS},
            },
            "get": {
                "summary": "Orders per minute and status (and by category, by region), "
                           "newest minute first",
                "parameters": [{"name": "limit", "in": "query", "required": False,
                                "description": "newest minutes returned",
                                "schema": {"type": "integer", "minimum": 1}}],
                "responses": {"200": {"description": "{\"orders\": [rows], "
                                                     "\"late_events_total\": n}"},
                              "400": _ERROR},
            },
        },
        "/": {
            "get": {"summary": "The live web dashboard (HTML)",
                    "responses": {"200": {"description": "HTML page",
                                          "content": {"text/html": {"schema": {
                                              "type": "string"}}}}}},
        },
        "/ui/{asset}": {
            "get": {"summary": "The dashboard's script and style sheet",
                    "parameters": [{"name": "asset", "in": "path", "required": True,
                                    "schema": {"type": "string",
                                               "enum": ["dashboard.js", "dashboard.css"]}}],
                    "responses": {"200": {"description": "the asset"}, "404": _ERROR}},
        },
        "/v1/dashboard": {
            "get": {"summary": "Everything the dashboard shows, one JSON document: trends, "
                               "sentiment, orders, fraud, health",
                    "responses": {"200": {"description": "{\"version\": n, \"trends\": "
                                                         "..., \"health\": ...}"}}},
        },
        "/v1/dashboard/stream": {
            "get": {"summary": "Server-sent events: each dashboard section once, then again "
                               "whenever it changes (event name = section)",
                    "responses": {"200": {"description": "event stream",
                                          "content": {"text/event-stream": {"schema": {
                                              "type": "string"}}}},
                                  "503": _ERROR}},
        },
    }
    schemas = {"Error": {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "field": {"type": "string"}}}}
    doc = openapi_document("streamwatch metrics-exporter", "1", paths, schemas)
    doc["components"]["securitySchemes"] = {"ingest": {
        "type": "http", "scheme": "bearer",
        "description": "STREAMWATCH_INGEST_TOKEN: the POST routes; reads are open"}}
    return doc
