"""OpenAPI document of the exporter; the examples are the package's captured samples."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from streamwatch.httpkit import openapi_document

_ERROR = {"description": "malformed body; `field` names the offending field",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


@cache
def example(name: str) -> dict[str, Any]:
    """``progress`` or ``trends``: a realistic request body shipped with the package."""
    # Shipped as package data next to this module (pyproject package-data *.json).
    path = Path(__file__).with_name(f"example_{name}.json")
    return json.loads(path.read_text("utf-8"))


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
                "requestBody": {"required": True, **_json(obj, example("progress"))},
                "responses": {"202": {"description": "accepted (or a repeated event ignored)"},
                              "400": _ERROR, "413": _ERROR},
            },
            "get": {"summary": "Latest figures per streaming query",
                    "responses": {"200": {"description": "{\"queries\": [...]}"}}},
        },
        "/v1/trends": {
            "post": {
                "summary": "Record top-N hashtag rows and window sentiment",
                "requestBody": {"required": True, **_json(obj, example("trends"))},
                "responses": {"202": {"description": "accepted"}, "400": _ERROR,
                              "413": _ERROR},
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
    }
    schemas = {"Error": {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "field": {"type": "string"}}}}
    return openapi_document("streamwatch metrics-exporter", "1", paths, schemas)
