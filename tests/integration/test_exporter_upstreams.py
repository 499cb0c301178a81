"""The exporter polling the real alerting service and the real labels feed.

Both upstreams run in this test process on 127.0.0.1 (their own ``create_app``
behind a threaded server); the exporter is a separate process. Live precision
and recall must equal what ``QualityTracker`` computes from the same inputs.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from streamwatch.core.http import Server
from streamwatch.quality.incidents import QualityTracker
from tests.factories import alert_body
from tests.integration.test_exporter_process import start_exporter
from tests.procs import INGEST_TOKEN, ingest_headers

alerting_app = pytest.importorskip("streamwatch.alerting.app", reason="alerting service absent")
alerting_settings = pytest.importorskip("streamwatch.alerting.settings")
feedserver = pytest.importorskip("streamwatch.feed.server")
feedlog = pytest.importorskip("streamwatch.feed.log")


def make_alert(rule: str, card: str, txn_ids: list[str]) -> dict[str, Any]:
    return alert_body(rule, card, txn_ids, score=0.9)


def wait_for(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def gauge(base: str, name: str, **labels: str) -> float | None:
    text = requests.get(base + "/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return None


@pytest.mark.slow
def test_live_quality_from_real_upstreams(tmp_path: Path) -> None:
    alerting = alerting_app.create_app(alerting_settings.AlertingSettings(
        data_dir=tmp_path, db_path=tmp_path / "alerting.db",
        admin_token=secrets.token_urlsafe(32), ingest_token=INGEST_TOKEN))
    labels_log = feedlog.FeedLog.open(tmp_path / "feeds", "labels")
    registry = CollectorRegistry()
    feeds = feedserver.create_app(feedserver.FeedAppConfig(
        service="txn-simulator", logs={"labels": labels_log}, registry=registry,
        metrics=feedserver.FeedMetrics(registry), ready=True))
    servers = [Server(alerting, "127.0.0.1", 0).start(), Server(feeds, "127.0.0.1", 0).start()]
    alerting_url = f"http://127.0.0.1:{servers[0].port}"
    labels_url = f"http://127.0.0.1:{servers[1].port}/v1/feeds/labels"
    proc, base = start_exporter(tmp_path, "--alerting-url", alerting_url,
                                "--labels-url", labels_url, "--poll-interval", "200ms")
    try:
        labels = [
            {"txn_id": "t-1", "is_fraud": True, "scenario": "card_testing", "incident_id": "i-1"},
            {"txn_id": "t-2", "is_fraud": True, "scenario": "card_testing", "incident_id": "i-1"},
            {"txn_id": "t-3", "is_fraud": True, "scenario": "velocity", "incident_id": "i-2"},
            {"txn_id": "t-4", "is_fraud": False, "scenario": None, "incident_id": None},
        ]
        alerts = [make_alert("card_testing", "c-1", ["t-1", "t-2"]),
                  make_alert("card_testing", "c-2", ["t-4"]),
                  make_alert("velocity", "c-3", ["t-9"])]
        labels_log.append_many([orjson.dumps(label) for label in labels])
        resp = requests.post(alerting_url + "/v1/alerts", json={"alerts": alerts}, timeout=5,
                             headers=ingest_headers())
        assert resp.status_code == 200, resp.text
        expected = QualityTracker()
        expected.add_labels(labels)
        expected.add_alerts(alerts)
        want = expected.report()

        def caught_up() -> bool:
            doc = requests.get(base + "/v1/quality", timeout=5).json()
            return doc["alerts_total"] == 3 and doc["labels_read"] == 4

        wait_for(caught_up)
        got = requests.get(base + "/v1/quality", timeout=5).json()
        assert got["overall"] == want["overall"]
        assert got["by_scenario"] == want["by_scenario"]
        assert got["alerts_by_rule"] == {"card_testing": 2, "velocity": 1}
        card = want["by_scenario"]["card_testing"]
        assert gauge(base, "streamwatch_fraud_precision_ratio", scenario="card_testing") == \
            card["precision"]
        assert gauge(base, "streamwatch_fraud_recall_ratio", scenario="all") == \
            want["overall"]["recall"]
        assert gauge(base, "streamwatch_fraud_alerts_total", rule="card_testing",
                     severity="high") == 2

        # An upstream outage is counted and survived; the HTTP API keeps answering.
        servers.pop(0).stop()
        wait_for(lambda: (gauge(base, "streamwatch_exporter_poll_errors_total",
                                poller="alerts") or 0) >= 1)
        assert requests.get(base + "/v1/trends", timeout=5).status_code == 200
    finally:
        assert proc.stop() == 0, proc.log()
        for server in servers:
            server.stop()
        labels_log.close()
