"""The exporter app through Flask's test client: routes, errors, metrics, OpenAPI."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from streamwatch.core.http import route_paths
from streamwatch.core.settings import SettingsError
from streamwatch.exporter.app import create_app
from streamwatch.exporter.openapi import example
from streamwatch.exporter.routes import EXTENSION
from streamwatch.exporter.settings import ExporterSettings
from tests.procs import INGEST_TOKEN, ingest_headers


@pytest.fixture
def app() -> Flask:
    return create_app(ExporterSettings(top_n=2, max_queries=2, ingest_token=INGEST_TOKEN))


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        c.environ_base["HTTP_AUTHORIZATION"] = ingest_headers()["Authorization"]
        yield c


def samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(client: FlaskClient, name: str, **labels: str) -> float | None:
    return samples(client).get((name, tuple(sorted(labels.items()))))


def progress(batch_id: int, **changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(example("progress"))
    doc["batchId"] = batch_id
    doc["timestamp"] = f"2026-11-23T09:15:{batch_id % 60:02d}.000Z"
    doc.update(changes)
    return doc


def test_progress_becomes_metrics(client: FlaskClient) -> None:
    doc = progress(1)
    assert client.post("/v1/progress", json=doc).status_code == 202
    assert client.post("/v1/progress", json=progress(2, numInputRows=7)).status_code == 202
    q = doc["name"]
    assert value(client, "streamwatch_query_input_rows_total", query=q) == doc["numInputRows"] + 7
    assert value(client, "streamwatch_query_last_batch_id", query=q) == 2
    assert value(client, "streamwatch_query_batch_duration_seconds_count", query=q) == 2
    assert value(client, "streamwatch_query_state_memory_bytes", query=q) == sum(
        op["memoryUsedBytes"] for op in doc["stateOperators"])
    assert value(client, "streamwatch_exporter_progress_events_total") == 2
    [row] = client.get("/v1/progress").json["queries"]
    assert row["query"] == q and row["batch_id"] == 2


def test_retried_progress_is_counted_once(client: FlaskClient) -> None:
    doc = progress(3)
    client.post("/v1/progress", json=doc)
    again = client.post("/v1/progress", json=doc)
    assert again.status_code == 202 and again.json["duplicate"] is True
    assert value(client, "streamwatch_query_input_rows_total", query=doc["name"]) == \
        doc["numInputRows"]
    assert value(client, "streamwatch_exporter_duplicate_progress_events_total") == 1


def test_malformed_progress_is_400_and_stores_nothing(client: FlaskClient) -> None:
    before = client.get("/v1/progress").json
    bad = progress(4)
    bad["stateOperators"][0]["numRowsTotal"] = "many"
    resp = client.post("/v1/progress", json=bad)
    assert resp.status_code == 400
    assert resp.json["field"] == "stateOperators[0].numRowsTotal"
    not_json = client.post("/v1/progress", data=b"{", content_type="application/json")
    assert not_json.status_code == 400 and not_json.json["field"] == "body"
    assert client.get("/v1/progress").json == before
    assert value(client, "streamwatch_exporter_rejected_posts_total", endpoint="progress") == 2


def test_oversized_body_is_413() -> None:
    app = create_app(ExporterSettings(max_body_bytes=64, ingest_token=INGEST_TOKEN))
    resp = app.test_client().post("/v1/progress", json=progress(1), headers=ingest_headers())
    assert resp.status_code == 413 and resp.json["field"] == "body"


def test_queries_are_bounded_stalest_dropped(client: FlaskClient) -> None:
    for name in ("a", "b", "c"):
        client.post("/v1/progress", json=progress(1, name=name))
    names = {dict(k[1]).get("query") for k in samples(client)
             if k[0] == "streamwatch_query_last_batch_id"}
    assert names == {"b", "c"}


def test_trends_round_trip_and_top_n_labels(client: FlaskClient) -> None:
    body = example("trends")
    assert client.post("/v1/trends", json=body).status_code == 202
    got = client.get("/v1/trends").json
    top = got["windows"][0]["top"]
    assert [r["hashtag"] for r in top] == [r["hashtag"] for r in
                                            sorted(body["trends"], key=lambda r: r["rank"])]
    assert got["sentiment"] == body["sentiment"]
    hashtags = {dict(k[1])["hashtag"] for k in samples(client)
                if k[0] == "streamwatch_trend_hashtag_tweets"}
    assert hashtags == {r["hashtag"] for r in body["trends"] if r["rank"] <= 2}
    assert value(client, "streamwatch_trend_sentiment") == body["sentiment"][0]["sentiment"]


def test_hashtag_leaving_top_n_leaves_metrics(client: FlaskClient) -> None:
    window = {"window_start": "2026-11-20T10:00:00Z", "window_end": "2026-11-20T10:05:00Z"}
    client.post("/v1/trends", json={"trends": [
        {**window, "hashtag": "old", "count": 5, "rank": 1, "sentiment": 0.0}]})
    later = {"window_start": "2026-11-20T10:01:00Z", "window_end": "2026-11-20T10:06:00Z"}
    client.post("/v1/trends", json={"trends": [
        {**later, "hashtag": "new", "count": 2, "rank": 1, "sentiment": 0.5}]})
    hashtags = {dict(k[1])["hashtag"] for k in samples(client)
                if k[0] == "streamwatch_trend_hashtag_tweets"}
    assert hashtags == {"new"}


def test_malformed_trends_store_nothing(client: FlaskClient) -> None:
    good = example("trends")["trends"][0]
    resp = client.post("/v1/trends", json={"trends": [good, {**good, "count": -2}]})
    assert resp.status_code == 400 and resp.json["field"] == "trends[1].count"
    assert client.get("/v1/trends").json == {"windows": [], "sentiment": []}
    assert client.get("/v1/trends?limit=0").status_code == 400


def test_quality_endpoint_has_report_shape(client: FlaskClient) -> None:
    doc = client.get("/v1/quality").json
    assert set(doc["overall"]) >= {"precision", "recall", "f1", "tp", "fp", "fn"}
    assert "card_testing" in doc["by_scenario"]
    assert doc["alerts_total"] == 0


def test_openapi_lists_exactly_the_routes(app: Flask) -> None:
    doc = app.test_client().get("/openapi.json").json
    assert set(doc["paths"]) == route_paths(app)


def test_pollers_only_for_configured_upstreams() -> None:
    app = create_app(ExporterSettings(ingest_token=INGEST_TOKEN))
    assert app.extensions[EXTENSION].pollers == []
    exporter = create_app(ExporterSettings(ingest_token=INGEST_TOKEN,
                                         alerting_url="http://127.0.0.1:9",
                                         labels_url="http://127.0.0.1:9/v1/feeds/labels")
                          ).extensions[EXTENSION]
    assert sorted(p.name for p in exporter.pollers) == ["alerts", "labels"]


# -- hardening (issue 18): each test below failed before the fix ------------------------

def test_config_needs_an_ingest_token() -> None:
    with pytest.raises(SettingsError, match="STREAMWATCH_INGEST_TOKEN"):
        ExporterSettings()
    with pytest.raises(SettingsError, match="STREAMWATCH_INGEST_TOKEN"):
        ExporterSettings(ingest_token="short")


@pytest.mark.parametrize("path", ["/v1/progress", "/v1/trends"])
def test_writes_need_the_ingest_token_and_json(app: Flask, path: str) -> None:
    anonymous = app.test_client()
    body = copy.deepcopy(example(path.rsplit("/", 1)[1]))
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}):
        resp = anonymous.post(path, json=body, headers=headers)
        assert resp.status_code == 401 and resp.json["field"] == "Authorization"
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        resp = anonymous.post(path, data=orjson.dumps(body), content_type=content_type,
                              headers=ingest_headers())
        assert resp.status_code == 415 and resp.json["field"] == "Content-Type"
    assert anonymous.get("/v1/trends").json == {"windows": [], "sentiment": []}
    assert anonymous.get("/v1/progress").json == {"queries": []}
    assert anonymous.post(path, json=body, headers=ingest_headers()).status_code == 202


def test_windows_dated_far_ahead_are_refused(client: FlaskClient) -> None:
    far = {"window_start": "9999-12-31T23:00:00Z", "window_end": "9999-12-31T23:05:00Z",
           "hashtag": "takeover", "count": 1, "rank": 1, "sentiment": None}
    resp = client.post("/v1/trends", json={"trends": [far]})
    assert resp.status_code == 400 and resp.json["field"] == "trends[0].window_start"
    overflow = {**far, "window_start": "9999-12-31T23:59:59-01:00"}
    resp = client.post("/v1/trends", json={"trends": [overflow]})
    assert resp.status_code == 400 and resp.json["field"] == "trends[0].window_start"
    assert client.get("/v1/trends").json == {"windows": [], "sentiment": []}


def test_progress_times_are_bounded_but_the_epoch_watermark_is_not(
        client: FlaskClient) -> None:
    resp = client.post("/v1/progress", json=progress(1, timestamp="1970-01-01T00:00:00Z"))
    assert resp.status_code == 400 and resp.json["field"] == "timestamp"
    first = progress(2, eventTime={"watermark": "1970-01-01T00:00:00.000Z"})
    assert client.post("/v1/progress", json=first).status_code == 202


@pytest.mark.parametrize("query", ["limit=1_0", "limit=", "limt=1", "limit=%2B1"])
def test_trend_queries_are_strict(client: FlaskClient, query: str) -> None:
    assert client.get(f"/v1/trends?{query}").status_code == 400
