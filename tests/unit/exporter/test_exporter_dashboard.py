"""The web dashboard's server side: page and assets, the JSON document, the event stream."""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient

from streamwatch.exporter import dashboard
from streamwatch.exporter.app import create_app
from streamwatch.exporter.openapi import example
from streamwatch.exporter.routes import EXTENSION
from streamwatch.exporter.settings import ExporterSettings
from streamwatch.exporter.state import RECENT_ALERTS, ExporterState
from streamwatch.exporter.trends import parse_trends
from tests.factories import alert_body
from tests.procs import INGEST_TOKEN, ingest_headers


@pytest.fixture
def app() -> Flask:
    return create_app(ExporterSettings(ingest_token=INGEST_TOKEN,
                                     alerting_url="http://127.0.0.1:9/",
                                     labels_url="http://127.0.0.1:9/v1/feeds/labels"))


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as c:
        c.environ_base["HTTP_AUTHORIZATION"] = ingest_headers()["Authorization"]
        yield c


def state_of(app: Flask) -> ExporterState:
    return app.extensions[EXTENSION].state


def trend_body(minute: int, hashtags: dict[str, int], sentiment: float) -> dict[str, Any]:
    start, end = f"2026-11-20T10:{minute:02d}:00Z", f"2026-11-20T10:{minute + 5:02d}:00Z"
    ranked = sorted(hashtags.items(), key=lambda kv: -kv[1])
    return {"trends": [{"window_start": start, "window_end": end, "hashtag": tag,
                        "count": n, "rank": i + 1, "sentiment": sentiment / (i + 1)}
                       for i, (tag, n) in enumerate(ranked)],
            "sentiment": [{"window_start": start, "window_end": end,
                           "tweets": sum(hashtags.values()), "sentiment": sentiment}]}


def parse_events(raw: bytes) -> list[tuple[str, Any]]:
    """``(event, data)`` of each server-sent event in ``raw`` (comments and retry skipped)."""
    out = []
    for block in raw.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines()
                      if line and not line.startswith(":"))
        if "event" in fields:
            out.append((fields["event"], orjson.loads(fields["data"])))
    return out


def test_page_and_assets_are_served_from_the_package(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.get_data(as_text=True)
    for panel in ("trends", "sentiment", "orders", "fraud", "health"):
        assert f'id="panel-{panel}"' in html
    for name, mimetype in dashboard.ASSETS.items():
        assert f"/ui/{name}" in html
        resp = client.get(f"/ui/{name}")
        assert resp.status_code == 200 and resp.mimetype == mimetype and resp.data
    missing = client.get("/ui/chart.min.js")
    assert missing.status_code == 404 and missing.json["field"] == "asset"


def test_page_loads_nothing_from_another_origin() -> None:
    # works offline: no CDN, no web font, no absolute URL other than the SVG namespace
    for path in sorted(dashboard.STATIC.iterdir()):
        text = path.read_text("utf-8")
        urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"'`)]*", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)


def test_empty_exporter_has_a_document_with_empty_sections(client: FlaskClient) -> None:
    doc = client.get("/v1/dashboard").json
    assert doc["trends"] is None and doc["sentiment"] == [] and doc["orders"] is None
    assert doc["fraud"]["alerts"] == [] and doc["fraud"]["alerts_total"] == 0
    assert doc["health"]["queries"] == []
    assert doc["health"]["pollers"]["alerts"]["url"] == "http://127.0.0.1:9/"
    assert doc["health"]["pollers"]["alerts"]["polls"] == 0


def test_document_follows_what_the_exporter_receives(app: Flask, client: FlaskClient) -> None:
    for minute, tags, mood in ((0, {"spark": 5}, -0.2), (1, {"spark": 9, "kafka": 4}, 0.4)):
        assert client.post("/v1/trends", json=trend_body(minute, tags, mood)).status_code == 202
    progress = copy.deepcopy(example("progress"))
    assert client.post("/v1/progress", json=progress).status_code == 202
    alerts = [alert_body("velocity", f"c-{i}", [f"t-{i}"],
                         detected_at=f"2026-11-20T10:15:{i:02d}Z")
              for i in range(RECENT_ALERTS + 5)]
    state_of(app).record_alerts(alerts)

    doc = client.get("/v1/dashboard").json
    assert doc["trends"]["window_start"] == "2026-11-20T10:01:00Z"
    assert [(r["hashtag"], r["count"], r["rank"]) for r in doc["trends"]["top"]] == [
        ("spark", 9, 1), ("kafka", 4, 2)]
    assert [(s["window_start"][14:16], s["sentiment"]) for s in doc["sentiment"]] == [
        ("00", -0.2), ("01", 0.4)]  # oldest first, as a time axis wants
    fraud = doc["fraud"]
    assert fraud["alerts_total"] == RECENT_ALERTS + 5
    assert len(fraud["alerts"]) == RECENT_ALERTS
    # newest first, and without the transaction ids
    assert fraud["alerts"][0]["alert_id"] == alerts[-1]["alert_id"]
    assert fraud["alerts"][-1]["alert_id"] == alerts[5]["alert_id"]
    assert "txn_ids" not in fraud["alerts"][0]
    [query] = doc["health"]["queries"]
    assert query["query"] == progress["name"] and query["batch_id"] == progress["batchId"]
    assert doc["version"] == state_of(app).version > 0


def test_orders_rows_become_per_minute_series() -> None:
    def row(minute: int, status: str, orders: int, **extra: Any) -> dict[str, Any]:
        return {"minute_start": f"2026-11-20T10:{minute:02d}:00.000Z",
                "minute_end": f"2026-11-20T10:{minute + 1:02d}:00.000Z",
                "status": status, "orders": orders, "units": 2 * orders, **extra}

    delays = {"p50": 20.0, "p90": 41.5, "p99": 58.0, "n": 3}
    rows = [row(1, "shipped", 3, since_purchase_s=delays), row(0, "purchased", 7),
            row(1, "purchased", 4),
            row(0, "purchased", 99, category="books"), row(0, "cancelled", 1),
            row(1, "delivered", 2, region=None)]
    doc = dashboard.orders_by_minute(rows)
    assert doc is not None
    assert doc["statuses"] == ["purchased", "shipped", "delivered"]
    assert [m["minute_start"][11:16] for m in doc["minutes"]] == ["10:00", "10:01"]
    first, second = doc["minutes"]
    # the category row is a breakdown, left out of the totals
    assert first["purchased"] == {"orders": 7, "units": 14, "since_purchase_s": None}
    assert first["cancelled"]["orders"] == 1 and first["cancelled"]["units"] == 2
    assert second["shipped"]["orders"] == 3 and second["delivered"]["orders"] == 2
    assert second["shipped"]["since_purchase_s"] == delays
    assert first["purchased"]["since_purchase_s"] is None
    assert dashboard.orders_by_minute([]) is None
    assert dashboard.orders_by_minute([row(0, "shipped", 1, region="eu")]) is None


def test_stream_sends_every_section_then_only_what_changed(app: Flask) -> None:
    board = app.extensions[EXTENSION].dashboard
    state = board.state
    events = board.events()
    assert next(events) == b"retry: %d\n\n" % dashboard.RETRY_MS
    first = parse_events(next(events))
    assert [name for name, _ in first] == list(dashboard.SECTIONS)

    state.record_trends(*parse_trends(trend_body(3, {"flink": 2}, 0.1)))
    changed = parse_events(next(events))
    assert [name for name, _ in changed] == ["trends", "sentiment"]
    assert changed[0][1]["top"][0]["hashtag"] == "flink"

    state.record_alerts([alert_body("card_testing", "c-1", ["t-1"])])
    [(name, fraud)] = parse_events(next(events))
    assert name == "fraud" and fraud["alerts_total"] == 1

    state.close()
    with pytest.raises(StopIteration):
        next(events)


def test_each_change_rebuilds_only_its_sections_once_for_every_stream() -> None:
    state = ExporterState(top_n=3, max_windows=3, max_rows_per_window=10, max_queries=3)
    reads: list[int] = []

    def orders() -> list[dict[str, Any]]:
        reads.append(1)
        return []

    board = dashboard.Dashboard(state, {}, orders=orders)
    streams = [board.events() for _ in range(3)]
    for events in streams:
        next(events)  # retry
        assert [name for name, _ in parse_events(next(events))] == list(dashboard.SECTIONS)
    assert len(reads) == 1  # one build for three streams

    state.record_trends(*parse_trends(trend_body(3, {"flink": 2}, 0.1)))
    state.record_poll("alerts")
    for events in streams:
        assert [name for name, _ in parse_events(next(events))] == [
            "trends", "sentiment", "health"]
    assert len(reads) == 1  # orders did not change: not read again
    assert state.changed_since(0) >= {"trends", "pollers"}
    state.close()


def test_a_waiting_stream_wakes_on_a_change_from_another_thread() -> None:
    state = ExporterState(top_n=3, max_windows=3, max_rows_per_window=10, max_queries=3)
    since = state.version
    woke: list[int | None] = []
    waiter = threading.Thread(target=lambda: woke.append(state.wait_for_change(since, 30.0)))
    waiter.start()
    state.record_poll("alerts")
    waiter.join(timeout=30)
    assert woke == [since + 1]
    state.close()
    assert state.wait_for_change(since + 1, 30.0) is None  # released at once, for good


def test_streams_beyond_the_cap_are_refused_with_a_clear_error(
        app: Flask, client: FlaskClient) -> None:
    board = app.extensions[EXTENSION].dashboard
    held = [board.stream() for _ in range(dashboard.MAX_STREAMS)]
    refused = client.get("/v1/dashboard/stream")
    assert refused.status_code == 503 and "GET /v1/dashboard" in refused.json["error"]
    held.pop().close()  # a closed stream gives its slot back
    state_of(app).close()
    resp = client.get("/v1/dashboard/stream")
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    assert parse_events(resp.get_data())[0][0] == "trends"
    for response in held:
        response.close()
