"""Orders per minute in the exporter: POST/GET /v1/orders, /metrics, the dashboard section."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from streamwatch.exporter import orders
from streamwatch.exporter.app import create_app
from streamwatch.exporter.openapi import example
from streamwatch.exporter.routes import EXTENSION
from streamwatch.exporter.settings import ExporterSettings
from tests.procs import INGEST_TOKEN, ingest_headers


@pytest.fixture
def app() -> Flask:
    return create_app(ExporterSettings(ingest_token=INGEST_TOKEN))


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        c.environ_base["HTTP_AUTHORIZATION"] = ingest_headers()["Authorization"]
        yield c


def row(minute: int, status: str, n: int, units: int, *, category: str | None = None,
        region: str | None = None, timed: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"minute_start": f"2026-11-20T10:{minute:02d}:00Z",
            "minute_end": f"2026-11-20T10:{minute + 1:02d}:00Z", "status": status,
            "category": category, "region": region, "orders": n, "units": units,
            "since_purchase_s": timed}


def samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").get_data(as_text=True)
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(client: FlaskClient, name: str, **labels: str) -> float | None:
    return samples(client).get((name, tuple(sorted(labels.items()))))


def test_the_shipped_example_is_accepted_and_served(client: FlaskClient) -> None:
    body = example("orders")
    r = client.post("/v1/orders", json=body)
    assert r.status_code == 202, r.get_json()
    got = client.get("/v1/orders").get_json()
    assert got["late_events_total"] == body["late_events_total"]
    # the same rows, totals first within a status
    assert sorted(got["orders"], key=orjson.dumps) == sorted(body["orders"], key=orjson.dumps)
    statuses = [(r["status"], r["category"], r["region"]) for r in got["orders"]]
    assert statuses.index(("shipped", None, None)) < statuses.index(("shipped", "books", None))


def test_metrics_show_the_newest_minute_and_count_each_minute_once(
        client: FlaskClient) -> None:
    timed = {"p50": 10.0, "p90": 20.0, "p99": 30.0, "n": 4}
    first = [row(15, "purchased", 7, 9), row(15, "shipped", 4, 5, timed=timed),
             row(15, "purchased", 3, 4, category="books")]
    assert client.post("/v1/orders", json={"orders": first,
                                           "late_events_total": 2}).status_code == 202
    # a replayed batch (same rows again) must not count twice
    assert client.post("/v1/orders", json={"orders": first}).status_code == 202
    assert client.post("/v1/orders", json={"orders": [row(16, "purchased", 5, 6)],
                                           "late_events_total": 3}).status_code == 202
    assert value(client, "streamwatch_orders_total", status="purchased") == 12
    assert value(client, "streamwatch_orders_units_total", status="purchased") == 15
    assert value(client, "streamwatch_orders_total", status="shipped") == 4
    assert value(client, "streamwatch_orders_total", status="returned") == 0
    assert value(client, "streamwatch_orders_minute_orders", status="purchased") == 5
    # shipped had no row in minute 16: the newest minute shows no shipped sample
    assert value(client, "streamwatch_orders_minute_orders", status="shipped") is None
    assert value(client, "streamwatch_orders_minute_start_timestamp_seconds") == \
        1_795_169_760.0  # 2026-11-20T10:16:00Z
    assert value(client, "streamwatch_orders_since_purchase_seconds", status="shipped",
                 quantile="p90") == 20.0
    assert value(client, "streamwatch_orders_late_events_total") == 3
    assert value(client, "streamwatch_orders_rows_total") == 7


def test_a_corrected_row_replaces_the_earlier_one(client: FlaskClient) -> None:
    client.post("/v1/orders", json={"orders": [row(15, "shipped", 4, 5)]})
    client.post("/v1/orders", json={"orders": [row(15, "shipped", 6, 8)]})
    assert value(client, "streamwatch_orders_total", status="shipped") == 6
    assert [r["orders"] for r in client.get("/v1/orders").get_json()["orders"]] == [6]


@pytest.mark.parametrize(("change", "field"), [
    ({"status": "lost"}, "orders[1].status"),
    ({"orders": -1}, "orders[1].orders"),
    ({"units": 1.5}, "orders[1].units"),
    ({"minute_end": "2026-11-20T10:15:00Z"}, "orders[1].minute_end"),
    ({"minute_start": "yesterday"}, "orders[1].minute_start"),
    ({"category": "books", "region": "eu-west"}, "orders[1].region"),
    ({"since_purchase_s": {"p50": 3.0, "p90": 2.0, "p99": 4.0, "n": 1}},
     "orders[1].since_purchase_s.p90"),
    ({"since_purchase_s": {"p50": 3.0, "p90": 4.0, "p99": 5.0}},
     "orders[1].since_purchase_s.n"),
])
def test_a_bad_row_is_refused_naming_the_field_and_nothing_is_stored(
        client: FlaskClient, change: dict[str, Any], field: str) -> None:
    bad = {**row(15, "shipped", 4, 5), **change}
    r = client.post("/v1/orders", json={"orders": [row(15, "purchased", 1, 1), bad]})
    assert r.status_code == 400
    assert r.get_json()["field"] == field
    assert client.get("/v1/orders").get_json()["orders"] == []
    assert value(client, "streamwatch_exporter_rejected_posts_total", endpoint="orders") == 1


def test_late_total_and_body_shape_are_checked(client: FlaskClient) -> None:
    r = client.post("/v1/orders", json={"orders": [], "late_events_total": -1})
    assert (r.status_code, r.get_json()["field"]) == (400, "late_events_total")
    r = client.post("/v1/orders", json={"rows": []})
    assert (r.status_code, r.get_json()["field"]) == (400, "orders")


def test_posting_needs_the_ingest_token(app: Flask) -> None:
    with app.test_client() as anonymous:
        r = anonymous.post("/v1/orders", json=example("orders"))
        assert r.status_code == 401
        assert anonymous.get("/v1/orders").status_code == 200


def test_memory_is_bounded_in_minutes_and_breakdown_rows() -> None:
    store = orders.OrdersStore(max_minutes=3, max_breakdown=2)
    rows, _ = orders.parse_orders({"orders": [
        *(row(m, "purchased", m, m) for m in range(10)),
        *(row(9, "purchased", 1, 1, category=f"c{i}") for i in range(5))]})
    store.apply(rows, None)
    kept = store.rows()
    assert sorted({r["minute_start"][14:16] for r in kept}) == ["07", "08", "09"]
    assert len([r for r in kept if r["category"] is not None]) == 2
    # a row older than every minute kept is dropped, not kept for a moment
    store.apply(orders.parse_orders({"orders": [row(1, "shipped", 1, 1)]})[0], None)
    assert "01" not in {r["minute_start"][14:16] for r in store.rows()}
    assert store.snapshot()["rows_dropped"] == 4


def test_get_limit_returns_the_newest_minutes(client: FlaskClient) -> None:
    client.post("/v1/orders", json={"orders": [row(m, "purchased", 1, 1) for m in range(5)]})
    got = client.get("/v1/orders?limit=2").get_json()["orders"]
    assert [r["minute_start"] for r in got] == ["2026-11-20T10:04:00Z", "2026-11-20T10:03:00Z"]
    assert client.get("/v1/orders?limit=0").status_code == 400


def test_the_dashboard_charts_the_posted_minutes(app: Flask, client: FlaskClient) -> None:
    version = app.extensions[EXTENSION].state.version
    body = copy.deepcopy(example("orders"))
    client.post("/v1/orders", json=body)
    # the post woke the dashboard's streams, naming the area it changed
    state = app.extensions[EXTENSION].state
    assert state.version > version
    assert state.changed_since(version) == {"orders"}
    section = client.get("/v1/dashboard").get_json()["orders"]
    assert section["minutes"] == [{
        "minute_start": "2026-11-20T10:15:00Z", "minute_end": "2026-11-20T10:16:00Z",
        "purchased": {"orders": 182, "units": 437, "since_purchase_s": None},
        "shipped": {"orders": 120, "units": 311, "since_purchase_s": {
            "p50": 21.4, "p90": 40.2, "p99": 58.0, "n": 117}}}]
