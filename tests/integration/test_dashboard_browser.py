"""The web dashboard in a real headless Chromium against a running exporter.

The exporter is a separate process (``python -m streamwatch.exporter``) polling the real
alerting service and the real labels feed, which run in this test process on
127.0.0.1. Trends, sentiment, query progress and per-minute order rows are posted as
the processor's jobs post them. The page must show data in every panel, take later
changes without a reload, show hostile text as text, fit a laptop screen and raise no
script error or blocked load.

Skips only when Debian's ``chromium`` is not installed (``apt-get install -y
chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from bench.chromium import Chromium, ChromiumError, Page, find_chromium
from streamwatch.core.http import Server
from streamwatch.exporter.openapi import example
from tests.factories import alert_body
from tests.procs import INGEST_TOKEN, ServiceProcess, free_port, ingest_headers

alerting_app = pytest.importorskip("streamwatch.alerting.app", reason="alerting service absent")
alerting_settings = pytest.importorskip("streamwatch.alerting.settings")
feedserver = pytest.importorskip("streamwatch.feed.server")
feedlog = pytest.importorskip("streamwatch.feed.log")

pytestmark = pytest.mark.slow

#: a laptop screen's CSS viewport (1366 x 768 minus the browser's own bars)
LAPTOP = (1366, 680)


def _chromium_or_skip() -> str:
    try:
        return find_chromium()
    except ChromiumError as exc:
        pytest.skip(str(exc))


@dataclass
class Stack:
    exporter: str
    alerting: str
    labels: Any
    process: ServiceProcess


def post(base: str, path: str, body: dict[str, Any], status: int = 202) -> None:
    resp = requests.post(base + path, json=body, timeout=10, headers=ingest_headers())
    assert resp.status_code == status, resp.text


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def progress(query: str, batch_id: int, rows: int) -> dict[str, Any]:
    doc: dict[str, Any] = copy.deepcopy(example("progress"))
    doc.update(name=query, batchId=batch_id, numInputRows=rows,
               timestamp=iso(datetime.now(UTC)))
    return doc


def trends(start: datetime, counts: dict[str, int], mood: float) -> dict[str, Any]:
    window = {"window_start": iso(start), "window_end": iso(start + timedelta(minutes=5))}
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    return {"trends": [{**window, "hashtag": tag, "count": n, "rank": i + 1,
                        "sentiment": round(mood - 0.1 * i, 3)}
                       for i, (tag, n) in enumerate(ranked)],
            "sentiment": [{**window, "tweets": sum(counts.values()) * 3, "sentiment": mood}]}


def orders(start: datetime) -> list[dict[str, Any]]:
    """Five final minutes of the orders job: totals per status, one category breakdown."""
    rows = []
    for i in range(5):
        minute = {"minute_start": iso(start + timedelta(minutes=i)),
                  "minute_end": iso(start + timedelta(minutes=i + 1))}
        for status, n in (("purchased", 180 + 10 * i), ("shipped", 120 + 5 * i),
                          ("delivered", 90 + i), ("cancelled", 4)):
            delay = {"shipped": {"p50": 21.5, "p90": 40.0, "p99": 58.0, "n": n},
                     "delivered": {"p50": 95.0, "p90": 150.0, "p99": 170.0, "n": n}}
            rows.append({**minute, "status": status, "category": None, "region": None,
                         "orders": n, "units": 2 * n, "since_purchase_s": delay.get(status)})
        rows.append({**minute, "status": "purchased", "category": "books", "region": None,
                     "orders": 999, "units": 999, "since_purchase_s": None})
    return rows


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    alerting = alerting_app.create_app(alerting_settings.AlertingSettings(
        data_dir=tmp_path, db_path=tmp_path / "alerting.db",
        admin_token=secrets.token_urlsafe(32), ingest_token=INGEST_TOKEN))
    labels_log = feedlog.FeedLog.open(tmp_path / "feeds", "labels")
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry()
    feeds = feedserver.create_app(feedserver.FeedAppConfig(
        service="txn-simulator", logs={"labels": labels_log}, registry=registry,
        metrics=feedserver.FeedMetrics(registry), ready=True))
    servers = [Server(alerting, "127.0.0.1", 0).start(), Server(feeds, "127.0.0.1", 0).start()]
    alerting_url = f"http://127.0.0.1:{servers[0].port}"
    labels_url = f"http://127.0.0.1:{servers[1].port}/v1/feeds/labels"
    port = free_port()
    proc = ServiceProcess(["--port", str(port), "--alerting-url", alerting_url,
                           "--labels-url", labels_url, "--poll-interval", "200ms"],
                          tmp_path / "exporter.log", module="streamwatch.exporter")
    base = f"http://127.0.0.1:{port}"
    proc.start()
    try:
        proc.wait_http(base + "/healthz")
        yield Stack(base, alerting_url, labels_log, proc)
    finally:
        assert proc.stop() == 0, proc.log()
        for server in servers:
            server.stop()
        labels_log.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Chromium]:
    with Chromium(tmp_path, _chromium_or_skip()) as chromium:
        yield chromium


def feed(stack: Stack) -> None:
    """A few minutes of what the processor, the simulator and the alerting service produce."""
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=8)
    moods = [-0.12, 0.05, 0.21, 0.18, -0.03, 0.3]
    for i, mood in enumerate(moods):
        counts = {"spark": 40 + 5 * i, "streaming": 22 + i, "kafka": 15, "flink": 9 - i,
                  "delta": 4 + i}
        post(stack.exporter, "/v1/trends", trends(base + timedelta(minutes=i), counts, mood))
    post(stack.exporter, "/v1/orders", {"orders": orders(base), "late_events_total": 0})
    for query, rows in (("hashtags", 1200), ("fraud-alerts", 5000)):
        for batch in range(1, 4):
            post(stack.exporter, "/v1/progress", progress(query, batch, rows * batch))
    labels = [
        {"txn_id": "t-1", "is_fraud": True, "scenario": "card_testing", "incident_id": "i-1"},
        {"txn_id": "t-2", "is_fraud": True, "scenario": "card_testing", "incident_id": "i-1"},
        {"txn_id": "t-3", "is_fraud": True, "scenario": "velocity", "incident_id": "i-2"},
        {"txn_id": "t-4", "is_fraud": False, "scenario": None, "incident_id": None},
    ]
    stack.labels.append_many([orjson.dumps(label) for label in labels])
    now = datetime.now(UTC)
    alerts = [alert_body("card_testing", "c-1", ["t-1", "t-2"], detected_at=iso(now)),
              alert_body("card_testing", "c-2", ["t-4"], severity="medium", detected_at=iso(now)),
              alert_body("velocity", "c-3", ["t-9"], severity="low", detected_at=iso(now))]
    post(stack.alerting, "/v1/alerts", {"alerts": alerts}, 200)


def panel_state(page: Page, name: str) -> str:
    return page.evaluate(f"document.getElementById('panel-{name}').dataset.state")


def text_of(page: Page, element_id: str) -> str:
    return page.evaluate(f"document.getElementById({json.dumps(element_id)}).innerText")


def test_every_panel_shows_live_data_on_a_laptop_screen(stack: Stack, browser: Chromium,
                                                        tmp_path: Path) -> None:
    page = browser.open(stack.exporter + "/", width=LAPTOP[0], height=LAPTOP[1])
    page.wait_for("window.streamwatch && window.streamwatch.transport === 'live'")
    assert panel_state(page, "trends") == "empty"
    assert "no order data yet" in text_of(page, "panel-orders")
    # marks this document: a reload would lose it
    page.evaluate("window.__sameDocument = true")

    feed(stack)
    for panel in ("trends", "sentiment", "orders", "fraud", "health"):
        page.wait_for(f"document.getElementById('panel-{panel}').dataset.state === 'data'")
    page.wait_for("document.querySelectorAll('#fraud-feed tr[data-id]').length === 3")
    page.wait_for("document.querySelectorAll('#health-body tr[data-query]').length === 2")

    hashtags = text_of(page, "panel-trends")
    assert "#spark" in hashtags and "65 · +0.30" in hashtags  # count · sentiment, newest window
    assert page.evaluate("document.querySelectorAll('#trends-body rect').length") == 5
    sentiment = text_of(page, "panel-sentiment")
    assert "+0.30 over 360 tweets" in sentiment  # 3 x (65 + 27 + 15 + 4 + 9)
    assert page.evaluate("document.querySelectorAll('#sentiment-body circle').length") == 6
    # the tiles show an en dash until a figure is defined; the exporter's figures move
    # until its labels poller has read the whole labels feed, and the page follows them
    page.wait_for("['precision', 'recall'].every(f => document.querySelector("
                  "`[data-figure=${f}] .v`).innerText !== '\\u2013')")
    deadline = time.monotonic() + 30
    while True:
        quality = requests.get(stack.exporter + "/v1/quality", timeout=5).json()["overall"]
        shown = text_of(page, "fraud-quality")
        expected = [f"{100 * quality[k]:.1f} %" for k in ("precision", "recall")
                    if quality[k] is not None]
        if len(expected) == 2 and all(e in shown for e in expected):
            break
        assert time.monotonic() < deadline, (quality, shown)
        time.sleep(0.2)
    feed_text = text_of(page, "fraud-feed")
    assert "card_testing" in feed_text and "velocity" in feed_text
    health = text_of(page, "health-body")
    assert "fraud-alerts" in health and "hashtags" in health
    page.wait_for("document.querySelectorAll('#health-body .status.ok').length >= 4")
    page.wait_for("document.getElementById('panel-orders').dataset.state === 'data'")
    # one point per minute for each of purchased, shipped, delivered
    assert page.evaluate("document.querySelectorAll('#orders-body circle').length") == 15
    shown = text_of(page, "panel-orders")
    # the newest minute's totals (the category row is a breakdown, not another total)
    assert "purchased 220 · shipped 140 · delivered 94 · cancelled 4" in shown
    assert "to ship p50 21.5 s, p99 58 s · to deliver p50 95 s, p99 2.8 min" in shown
    assert page.evaluate("Array.from(document.querySelectorAll('#orders-body text'), "
                         "t => t.textContent).slice(0, 6)") == ["0", "50", "100", "150", "200",
                                                              "250"]

    # later changes arrive without a reload
    later = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    post(stack.exporter, "/v1/trends", trends(later, {"breakingnews": 99, "spark": 50}, -0.4))
    page.wait_for("document.getElementById('trends-body').textContent.includes('#breakingnews')")
    post(stack.alerting, "/v1/alerts",
         {"alerts": [alert_body("velocity", "c-77", ["t-3"], detected_at=iso(datetime.now(UTC)))]},
         200)
    page.wait_for("document.querySelectorAll('#fraud-feed tr[data-id]').length === 4")
    assert "c-77" in page.evaluate("document.querySelector('#fraud-feed tr[data-id]').innerText")
    assert page.evaluate("window.__sameDocument") is True
    # hashtags come from anyone's tweets: shown as text, never parsed as markup
    hostile = "<img src=x onerror=window.__xss=1>"
    post(stack.exporter, "/v1/trends", trends(later + timedelta(minutes=1), {hostile: 5}, 0.0))
    page.wait_for("document.querySelector('#trends-body text.label title')"
                  f".textContent === {json.dumps('#' + hostile)}")
    assert page.evaluate("document.querySelectorAll('#panel-trends img').length") == 0
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1

    # a laptop screen: nothing wider than the viewport, every panel starts on screen
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    tops = page.evaluate("Array.from(document.querySelectorAll('.panel'), "
                         "p => p.getBoundingClientRect().top)")
    assert max(tops) < LAPTOP[1]
    (tmp_path / "dashboard.png").write_bytes(page.screenshot())
    assert page.problems() == []


def test_the_page_survives_an_exporter_restart(stack: Stack, browser: Chromium) -> None:
    page = browser.open(stack.exporter + "/")
    page.wait_for("window.streamwatch.transport === 'live'")
    post(stack.exporter, "/v1/trends", trends(datetime.now(UTC), {"before": 3}, 0.1))
    page.wait_for("document.getElementById('trends-body').textContent.includes('#before')")
    stack.process.stop()
    page.wait_for("window.streamwatch.transport === 'reconnecting'")
    stack.process.start()
    stack.process.wait_http(stack.exporter + "/healthz")
    page.wait_for("window.streamwatch.transport === 'live'")
    # the restarted exporter is empty, and the page says so instead of keeping stale data
    page.wait_for("document.getElementById('panel-trends').dataset.state === 'empty'")
    post(stack.exporter, "/v1/trends", trends(datetime.now(UTC), {"after": 3}, 0.1))
    page.wait_for("document.getElementById('trends-body').textContent.includes('#after')")
    # the failed stream connections while it was down are the only problems
    assert all("dashboard/stream" in p or "ERR_CONNECTION_REFUSED" in p
               for p in page.problems()), page.problems()


def test_a_page_turned_away_from_the_stream_polls_instead(stack: Stack,
                                                          browser: Chromium) -> None:
    from streamwatch.exporter.dashboard import MAX_STREAMS

    held = [requests.get(stack.exporter + "/v1/dashboard/stream", stream=True, timeout=10)
            for _ in range(MAX_STREAMS)]
    try:
        assert all(r.status_code == 200 for r in held)
        page = browser.open(stack.exporter + "/")
        page.wait_for("window.streamwatch.transport === 'polling'")
        post(stack.exporter, "/v1/trends", trends(datetime.now(UTC), {"polled": 7}, 0.2))
        page.wait_for("document.getElementById('trends-body').textContent.includes('#polled')")
        assert "polling" in text_of(page, "connection")
        # the refused stream is the one problem the page reports
        assert all("dashboard/stream" in p for p in page.problems()), page.problems()
    finally:
        for response in held:
            response.close()
