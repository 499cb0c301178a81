"""Crash and shutdown of the alerting service lose nothing.

``kill -9`` while alerts are being ingested and delivered: after a restart on the
same database every acknowledged alert is still stored and reaches the receiver
at least once (duplicates carry the same webhook-id, so the receiver can drop
them). SIGTERM lets in-flight deliveries finish and exits 0.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.factories import alert_body
from tests.procs import ServiceProcess, free_port, ingest_headers
from tests.receiver import Receiver

TOKEN = "recovery-admin-token-" + "r" * 20
ENV = {"STREAMWATCH_ADMIN_TOKEN": TOKEN, "STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE": "1"}


def alert(i: int) -> dict[str, Any]:
    return alert_body("velocity", f"c-{i:05d}", [f"t-{i:07d}"], severity="medium", score=0.6)


def start(tmp: Path, port: int, name: str) -> ServiceProcess:
    proc = ServiceProcess(
        ["alerting", "--port", str(port), "--data-dir", str(tmp), "--attempt-timeout", "1",
         "--retry-schedule", "0,0.2,0.5,1", "--poll-interval", "0.2"],
        tmp / f"{name}.log", env=ENV).start()
    proc.wait_http(f"http://127.0.0.1:{port}/readyz")
    return proc


def subscribe(base: str, url: str) -> str:
    r = requests.post(f"{base}/v1/subscriptions", json={"url": url},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["secret"]


@pytest.mark.recovery
@pytest.mark.slow
def test_kill_9_mid_delivery_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(tmp_path, port, "first")
    # a slowish receiver keeps deliveries in flight when the kill lands
    with Receiver(lambda _n, _h: (200, 0.02)) as rx:
        secret = subscribe(base, rx.url)
        alerts = [alert(i) for i in range(300)]
        batches = [alerts[i:i + 20] for i in range(0, len(alerts), 20)]
        acknowledged: set[str] = set()
        unacknowledged: list[list[dict[str, Any]]] = []
        killed = threading.Event()

        def kill_when_busy() -> None:
            rx.wait_for(lambda reqs: len(reqs) >= 40, timeout=60)
            proc.kill9()
            killed.set()

        killer = threading.Thread(target=kill_when_busy)
        killer.start()
        for k, batch in enumerate(batches):
            # pace ingest by delivery progress so the kill lands mid-ingest and mid-delivery
            deadline = time.monotonic() + 30
            while (len(rx.snapshot()) < 10 * (k - 1) and not killed.is_set()
                   and time.monotonic() < deadline):
                time.sleep(0.01)
            try:
                r = requests.post(f"{base}/v1/alerts", json={"alerts": batch}, timeout=10,
                                  headers=ingest_headers())
                r.raise_for_status()
                acknowledged.update(a["alert_id"] for a in batch)
            except requests.RequestException:
                unacknowledged.append(batch)  # the processor would retry these
        killer.join()
        assert killed.is_set() and unacknowledged, "the kill should land mid-ingest"
        assert acknowledged, "some batches should be acknowledged before the kill"

        proc = start(tmp_path, port, "second")
        try:
            for batch in unacknowledged:  # idempotent: re-sending is always safe
                r = requests.post(f"{base}/v1/alerts", json={"alerts": batch}, timeout=10,
                                  headers=ingest_headers())
                assert r.status_code == 200, r.text
            stored = requests.get(f"{base}/v1/alerts?limit=1000", timeout=10).json()["alerts"]
            assert {a["alert_id"] for a in stored} == {a["alert_id"] for a in alerts}
            assert len(stored) == len(alerts)

            def all_delivered(reqs: list[Any]) -> bool:
                return len({q.webhook_id for q in reqs}) >= len(alerts)

            got = rx.wait_for(all_delivered, timeout=60)
        finally:
            assert proc.stop() == 0
    delivered = {Webhook(secret).verify(q.body, q.headers)["data"]["alert_id"] for q in got}
    assert delivered == {a["alert_id"] for a in alerts}
    # duplicates (re-sent after the crash) keep their webhook-id: one id per alert
    assert len({q.webhook_id for q in got}) == len(alerts)


@pytest.mark.recovery
def test_sigterm_finishes_in_flight_deliveries(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(tmp_path, port, "first")
    arrived = threading.Event()

    def slow(_n: int, _h: dict[str, str]) -> tuple[int, float]:
        arrived.set()
        return 200, 0.6

    with Receiver(slow) as rx:
        subscribe(base, rx.url)
        requests.post(f"{base}/v1/alerts", json={"alerts": [alert(1)]},
                      timeout=10, headers=ingest_headers()).raise_for_status()
        assert arrived.wait(15)
        assert proc.stop() == 0  # SIGTERM while the receiver is still answering
        assert len(rx.snapshot()) == 1
        proc = start(tmp_path, port, "second")
        try:
            sid = requests.get(f"{base}/v1/subscriptions", timeout=10, headers={
                "Authorization": f"Bearer {TOKEN}"}).json()["subscriptions"][0]["id"]
            msgs = requests.get(f"{base}/v1/subscriptions/{sid}/messages", timeout=10, headers={
                "Authorization": f"Bearer {TOKEN}"}).json()["messages"]
            assert [m["state"] for m in msgs] == ["delivered"]
        finally:
            proc.stop()
    assert len(rx.snapshot()) == 1  # finished before exit, so never sent again
