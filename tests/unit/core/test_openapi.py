"""Every service's /openapi.json: valid OpenAPI 3.1, and its schemas are the models'.

The request schemas are compared with the contract models' own JSON schemas, so a
document that drifted from the validation (a field added to a model but not to
the document, or the reverse) fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator
from prometheus_client import CollectorRegistry
from pydantic import BaseModel
from schemathesis.specs.openapi.definitions import OPENAPI_31

from streamwatch.alerting import openapi as alerting_openapi
from streamwatch.alerting.app import create_app as alerting_app
from streamwatch.alerting.runtime import Runtime
from streamwatch.alerting.settings import AlertingSettings
from streamwatch.core.openapi import REF, Routes, model_schema
from streamwatch.exporter import openapi as exporter_openapi
from streamwatch.exporter.app import create_app as exporter_app
from streamwatch.exporter.settings import ExporterSettings
from streamwatch.feed.log import FeedLog
from streamwatch.feed.server import FEED_ROUTES, FeedAppConfig, FeedMetrics
from streamwatch.feed.server import create_app as feed_app
from tests.procs import INGEST_TOKEN

ADMIN_TOKEN = "unit-test-admin-token-0123456789"


@pytest.fixture(params=["alerting", "exporter", "feed"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Flask, Routes]]:
    if request.param == "alerting":
        app = alerting_app(AlertingSettings(data_dir=tmp_path, admin_token=ADMIN_TOKEN,
                                          ingest_token=INGEST_TOKEN))
        yield app, alerting_openapi.ROUTES
        Runtime.of(app).store.close()
    elif request.param == "exporter":
        yield exporter_app(ExporterSettings(ingest_token=INGEST_TOKEN)), exporter_openapi.routes()
    else:
        log = FeedLog.open(tmp_path, "transactions", fsync="never")
        registry = CollectorRegistry()
        yield feed_app(FeedAppConfig(service="feeds", logs={"transactions": log},
                                     registry=registry, metrics=FeedMetrics(registry))
                       ), FEED_ROUTES
        log.close()


def served(app: Flask) -> dict[str, Any]:
    doc: dict[str, Any] = app.test_client().get("/openapi.json").get_json()
    return doc


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    name = schema["$ref"].removeprefix(REF.format(model=""))
    found: dict[str, Any] = doc["components"]["schemas"][name]
    return found


def test_the_document_is_valid_openapi_3_1(service: tuple[Flask, Routes]) -> None:
    doc = served(service[0])
    Draft202012Validator(OPENAPI_31).validate(doc)
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_request_and_answer_schemas_are_the_models(service: tuple[Flask, Routes]) -> None:
    app, routes = service
    doc = served(app)
    bodies = 0
    for path, ops in routes.items():
        for method, route in ops.items():
            op = doc["paths"][path][method]
            models: list[tuple[Any, type[BaseModel]]] = [
                (op["responses"][str(code)]["content"][answer.media]["schema"], answer.model)
                for code, answer in route.answers.items() if answer.model is not None]
            if route.body is not None:
                bodies += 1
                models.append(
                    (op["requestBody"]["content"]["application/json"]["schema"], route.body))
            for schema, model in models:
                assert resolve(doc, schema) == model_schema(model), (path, method, model)
                # the models it refers to are in the document as they are in the model's
                for name, nested in model.model_json_schema(ref_template=REF).get(
                        "$defs", {}).items():
                    assert doc["components"]["schemas"][name] == nested, (model, name)
    assert bodies or routes is FEED_ROUTES  # the feed API takes no request bodies
