"""OpenAPI 3.1 documents generated from the contract models and a route table.

A service lists its routes (path, method, summary, request model, answers); the
request and answer schemas are the models' JSON schemas, so the document cannot
drift from the validation: both are the model. JSON Schema 2020-12, which pydantic
writes, is OpenAPI 3.1's schema dialect, so the schemas go in unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from streamwatch.contracts.errors import Error

OPENAPI_VERSION = "3.1.0"
REF = "#/components/schemas/{model}"
JSON = "application/json"


@dataclass(frozen=True)
class Answer:
    """One response: a JSON ``model``, another media type with a plain ``schema``, or none."""

    description: str
    model: type[BaseModel] | None = None
    media: str = JSON
    schema: dict[str, Any] | None = None
    headers: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Param:
    name: str
    schema: dict[str, Any]
    description: str = ""
    where: Literal["query", "path"] = "query"
    required: bool = False


@dataclass(frozen=True)
class Route:
    summary: str
    answers: dict[int, Answer]
    body: type[BaseModel] | None = None
    example: Any = None
    params: tuple[Param, ...] = ()
    security: str | None = None
    tags: tuple[str, ...] = ()


#: path -> method -> route
Routes = dict[str, dict[str, Route]]


def error(description: str, model: type[BaseModel] = Error) -> Answer:
    """An error answer: ``{"error", "field", ...}`` (``contracts.errors.Error``)."""
    return Answer(description, model)


def _operational() -> Routes:
    return {
        "/healthz": {"get": Route("Liveness", {200: Answer("OK")})},
        "/readyz": {"get": Route("Readiness", {200: Answer("ready"),
                                               503: Answer("not ready")})},
        "/metrics": {"get": Route("Prometheus metrics", {200: Answer(
            "OK", media="text/plain", schema={"type": "string"})})},
        "/openapi.json": {"get": Route("This document", {200: Answer("OK")})},
    }


def _models(routes: Routes) -> list[type[BaseModel]]:
    found: dict[type[BaseModel], None] = {}  # ordered, so the document is stable
    for ops in routes.values():
        for route in ops.values():
            for model in [route.body, *(a.model for a in route.answers.values())]:
                if model is not None:
                    found[model] = None
    return list(found)


def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema a document gives ``model`` (its nested models as references)."""
    schema = model.model_json_schema(ref_template=REF)
    schema.pop("$defs", None)
    return schema


def build(title: str, version: str, routes: Routes, *,
          security: dict[str, str] | None = None) -> dict[str, Any]:
    """The document of a service serving ``routes`` plus the operational endpoints.

    ``security`` maps a bearer scheme's name to its description; a route's
    ``security`` names one of them.
    """
    every: Routes = {**_operational(), **routes}
    models = _models(every)
    refs, defs = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    schemas = defs.get("$defs", {})
    ref = {model: refs[(model, "validation")] for model in models}

    def answer(a: Answer) -> dict[str, Any]:
        out: dict[str, Any] = {"description": a.description}
        if a.model is not None:
            out["content"] = {a.media: {"schema": ref[a.model]}}
        elif a.schema is not None:
            out["content"] = {a.media: {"schema": a.schema}}
        if a.headers:
            out["headers"] = a.headers
        return out

    def operation(route: Route) -> dict[str, Any]:
        op: dict[str, Any] = {"summary": route.summary}
        if route.tags:
            op["tags"] = list(route.tags)
        if route.params:
            op["parameters"] = [
                {"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                 "schema": p.schema, **({"description": p.description} if p.description
                                        else {})}
                for p in route.params]
        if route.security is not None:
            op["security"] = [{route.security: []}]
        if route.body is not None:
            media: dict[str, Any] = {"schema": ref[route.body]}
            if route.example is not None:
                media["example"] = route.example
            op["requestBody"] = {"required": True, "content": {JSON: media}}
        op["responses"] = {str(code): answer(a) for code, a in sorted(route.answers.items())}
        return op

    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": {path: {method: operation(r) for method, r in ops.items()}
                  for path, ops in every.items()},
        "components": {"schemas": schemas},
    }
    if security:
        doc["components"]["securitySchemes"] = {
            name: {"type": "http", "scheme": "bearer", "description": text}
            for name, text in security.items()}
    return doc
