"""Pollers against small upstreams on 127.0.0.1 that speak the documented contracts.

The real alerting service and feed server are exercised in
``tests/integration/test_exporter_upstreams.py``; here the upstream's answers
are controlled exactly, to cover paging, cursors, malformed answers and outages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from flask import Flask, Response, request

from streamwatch.core.http import Server
from streamwatch.exporter.pollers import AlertsPoller, LabelsPoller, UpstreamError
from streamwatch.exporter.state import ExporterState
from streamwatch.feed.client import FeedError
from tests.procs import free_port

TIMING = {"interval": 0.05, "max_backoff": 0.2, "timeout": 2.0}


def new_state() -> ExporterState:
    return ExporterState(top_n=5, max_windows=3, max_rows_per_window=10, max_queries=5)


def alert(i: int) -> dict[str, Any]:
    return {"alert_id": f"a{i:05d}", "rule": "card_testing" if i % 2 else "velocity",
            "severity": "high", "txn_ids": [f"t-{i}"]}


class AlertsUpstream:
    """GET /v1/alerts with integer cursors, as the alerting service pages."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.cursors_seen: list[str | None] = []
        self.app = Flask("alerts-upstream")
        self.app.add_url_rule("/v1/alerts", view_func=self.get)

    def get(self) -> Response:
        cursor = request.args.get("cursor")
        self.cursors_seen.append(cursor)
        after = int(cursor) if cursor else 0
        limit = int(request.args["limit"])
        page = self.alerts[after: after + limit]
        next_cursor = str(after + len(page)) if page else None
        return Response(orjson.dumps({"alerts": page, "next_cursor": next_cursor}),
                        mimetype="application/json")


class LabelsUpstream:
    """The feed range API over an in-memory list, with a per-request cap."""

    def __init__(self, cap: int) -> None:
        self.records: list[dict[str, Any]] = []
        self.earliest = 0
        self.cap = cap
        self.app = Flask("labels-upstream")
        self.app.add_url_rule("/v1/feeds/labels/offsets", view_func=self.offsets)
        self.app.add_url_rule("/v1/feeds/labels/records", view_func=self.range)

    def offsets(self) -> Response:
        return Response(orjson.dumps({"earliest": self.earliest, "latest": len(self.records)}),
                        mimetype="application/json")

    def range(self) -> Response:
        start, end = int(request.args["start"]), int(request.args["end"])
        stop = min(end, len(self.records), start + self.cap)
        body = b"".join(orjson.dumps(r) + b"\n" for r in self.records[start:stop])
        return Response(body, mimetype="application/x-ndjson",
                        headers={"X-Streamwatch-End": str(stop)})


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], str]]:
    servers: list[Server] = []

    def start(app: Flask) -> str:
        server = Server(app, "127.0.0.1", 0).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        server.stop()


def test_alerts_are_paged_and_cursor_kept(serve: Callable[[Flask], str]) -> None:
    upstream = AlertsUpstream()
    upstream.alerts = [alert(i) for i in range(2500)]
    state = new_state()
    poller = AlertsPoller(state, serve(upstream.app), **TIMING)
    poller.poll_once()
    assert state.quality()["alerts_total"] == 2500
    upstream.alerts.append(alert(2500))
    upstream.cursors_seen.clear()
    poller.poll_once()
    # continues from the last non-null cursor, not from the start
    assert upstream.cursors_seen[0] == "2500"
    report = state.quality()
    assert report["alerts_total"] == 2501
    assert report["alerts_by_rule"] == {"card_testing": 1250, "velocity": 1251}


def test_labels_read_incrementally_across_the_cap(serve: Callable[[Flask], str]) -> None:
    upstream = LabelsUpstream(cap=700)
    upstream.records = [{"txn_id": f"t-{i}", "is_fraud": i % 10 == 0,
                         "scenario": "velocity" if i % 10 == 0 else None,
                         "incident_id": f"i{i // 20}" if i % 10 == 0 else None}
                        for i in range(2000)]
    state = new_state()
    poller = LabelsPoller(state, serve(upstream.app) + "/v1/feeds/labels", **TIMING)
    poller.poll_once()
    assert poller.next_offset == 2000
    assert state.quality()["overall"]["labelled_transactions"] == 2000
    upstream.records.append({"txn_id": "t-x", "is_fraud": False})
    poller.poll_once()
    assert state.quality()["overall"]["labelled_transactions"] == 2001
    assert state.quality()["by_scenario"]["velocity"]["incidents"] == 100


def test_retained_away_labels_are_skipped(serve: Callable[[Flask], str]) -> None:
    upstream = LabelsUpstream(cap=100)
    upstream.records = [{"txn_id": f"t-{i}", "is_fraud": False} for i in range(50)]
    upstream.earliest = 30
    state = new_state()
    poller = LabelsPoller(state, serve(upstream.app) + "/v1/feeds/labels", **TIMING)
    poller.poll_once()
    assert state.quality()["labels_read"] == 20


def test_a_labels_page_cut_short_fails_the_poll_without_a_gap(
        serve: Callable[[Flask], str]) -> None:
    upstream = LabelsUpstream(cap=100)
    upstream.records = [{"txn_id": f"t-{i}", "is_fraud": False} for i in range(250)]
    app = upstream.app
    state = new_state()
    poller = LabelsPoller(state, serve(app) + "/v1/feeds/labels", **TIMING)

    @app.after_request
    def cut_the_second_page(resp: Response) -> Response:
        if request.path.endswith("/records") and request.args["start"] == "100":
            resp.set_data(resp.get_data()[:-10])
        return resp

    with pytest.raises(FeedError, match=r"\[100, 200\): the page was cut short"):
        poller.poll_once()
    # the first page counted, nothing after the cut: the next poll resumes at 100
    assert poller.next_offset == 100
    assert state.quality()["labels_read"] == 100


def test_malformed_upstream_answer_is_an_error(serve: Callable[[Flask], str]) -> None:
    app = Flask("broken")
    app.add_url_rule("/v1/alerts", view_func=lambda: {"items": []})
    poller = AlertsPoller(new_state(), serve(app), **TIMING)
    with pytest.raises(UpstreamError):
        poller.poll_once()


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_poller_survives_upstream_outage(serve: Callable[[Flask], str]) -> None:
    port = free_port()
    state = new_state()
    poller = AlertsPoller(state, f"http://127.0.0.1:{port}", **TIMING)
    poller.start()
    try:
        wait_for(lambda: state.snapshot().pollers["alerts"].errors >= 3)
        assert state.snapshot().pollers["alerts"].last_success is None
        upstream = AlertsUpstream()
        upstream.alerts = [alert(i) for i in range(5)]
        server = Server(upstream.app, "127.0.0.1", port).start()
        try:
            # success is recorded just after the alerts are, so wait for both
            wait_for(lambda: state.snapshot().pollers["alerts"].last_success is not None)
            assert state.quality()["alerts_total"] == 5
        finally:
            server.stop()
    finally:
        poller.stop()
