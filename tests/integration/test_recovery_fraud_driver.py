"""Driver crash: kill -9 the fraud job mid-stream, restart on the same checkpoint.

Real processes on 127.0.0.1: ``streamwatch txns`` (bounded by --max-events),
``streamwatch alerting`` (stores each alert_id once) and ``streamwatch process
fraud`` reading the feed. The reference "uninterrupted run" is the detector
over the same records in one pass: detection does not depend on micro-batch
boundaries (tests/unit/processor/fraud/test_fraud_detector.py checks that), so every run over
these records must produce exactly this set of alert ids.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests

from streamwatch.feed.client import FeedClient
from tests.procs import ServiceProcess, free_port

pytestmark = [pytest.mark.recovery, pytest.mark.kills, pytest.mark.slow, pytest.mark.spark]

EVENTS = 12_000


def feed_records(base: str, feed: str) -> list[dict[str, Any]]:
    with FeedClient(base, feed, timeout=30) as client:
        return [doc for _, doc in client.objects(0, client.end_offset())]


def reference_ids(txns: list[dict[str, Any]]) -> set[str]:
    from streamwatch.processor.fraud.detector import detect
    from streamwatch.processor.fraud.rules import default_rules_path, load_rules
    from streamwatch.processor.fraud.state import BucketState, with_keys

    df = pd.DataFrame(txns)
    df["ts"] = pd.to_datetime(df["event_time"]).astype("int64") // 1_000_000
    df["amount"] = df["amount"].astype(float)
    alerts, _ = detect(BucketState.new(), with_keys(df), load_rules(default_rules_path()),
                       ttl_ms=7_200_000, detected_at_ms=0)
    return {a["alert_id"] for a in alerts}


def stored_ids(base: str) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500}
        if cursor:
            params["cursor"] = cursor
        doc = requests.get(f"{base}/v1/alerts", params=params, timeout=10).json()
        ids += [a["alert_id"] for a in doc["alerts"]]
        cursor = doc.get("next_cursor")
        if not cursor:
            return ids


def test_driver_kill9_and_restart_delivers_each_alert_once(tmp_path: Path) -> None:
    feed_port, sock_port, alert_port = free_port(), free_port(), free_port()
    feed, alerting = f"http://127.0.0.1:{feed_port}", f"http://127.0.0.1:{alert_port}"
    env = {"STREAMWATCH_ADMIN_TOKEN": "test-admin-token-0123456789"}
    sim = ServiceProcess(["txns", "--seed", "21", "--rate", "400", "--max-events", str(EVENTS),
                          "--http-port", str(feed_port), "--socket-port", str(sock_port),
                          "--data-dir", str(tmp_path / "sim")], tmp_path / "sim.log", env)
    store = ServiceProcess(["alerting", "--port", str(alert_port),
                            "--data-dir", str(tmp_path / "alerting")], tmp_path / "al.log", env)
    job_argv = ["process", "fraud", "--source", f"feed:{feed}/transactions",
                "--sink", f"http:{alerting}/v1/alerts", "--checkpoint", str(tmp_path / "ck"),
                "--trigger", "500ms", "--max-records-per-trigger", "1500", "--master", "local[2]",
                "--buckets", "4"]
    procs = [sim.start(), store.start()]
    try:
        sim.wait_http(f"{feed}/healthz")
        store.wait_http(f"{alerting}/healthz")
        deadline = time.monotonic() + 60
        while requests.get(f"{feed}/v1/feeds/transactions/offsets",
                           timeout=5).json()["latest"] < EVENTS:
            assert time.monotonic() < deadline, "simulator did not produce its events"
            time.sleep(0.5)
        expected = reference_ids(feed_records(feed, "transactions"))
        assert len(expected) > 10

        first = ServiceProcess(job_argv, tmp_path / "job1.log", env).start()
        procs.append(first)
        deadline = time.monotonic() + 150
        while len(stored_ids(alerting)) < max(3, len(expected) // 4):
            assert time.monotonic() < deadline, first.log()
            assert first.proc is not None and first.proc.poll() is None, first.log()
            time.sleep(0.3)
        first.kill9()
        assert len(stored_ids(alerting)) < len(expected), "crash came too late to matter"

        second = ServiceProcess(job_argv, tmp_path / "job2.log", env).start()
        procs.append(second)
        deadline = time.monotonic() + 150
        while len(stored_ids(alerting)) < len(expected):
            assert time.monotonic() < deadline, second.log()
            time.sleep(0.5)
        time.sleep(3)  # nothing more may arrive
        ids = stored_ids(alerting)
        assert len(ids) == len(set(ids))
        assert set(ids) == expected
    finally:
        for p in reversed(procs):
            if p.proc is not None and p.proc.poll() is None:
                p.stop()
