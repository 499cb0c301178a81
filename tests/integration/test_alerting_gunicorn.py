"""The alerting service as its container runs it: gunicorn, two workers, one SQLite file.

Each worker imports ``wsgi.py`` after the fork and runs its own delivery threads;
they share the outbox through database leases. Alerts posted to either worker are
stored once and delivered once, signed; SIGTERM lets the workers finish and the
master exits 0.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import requests
from standardwebhooks.webhooks import Webhook

from tests.factories import alert_body
from tests.procs import ServiceProcess, free_port, ingest_headers
from tests.receiver import Receiver

TOKEN = "gunicorn-admin-token-" + "g" * 20
ALERTS = 120


class Gunicorn(ServiceProcess):
    """``gunicorn -c python:streamwatch.alerting.gunicorn_conf streamwatch.alerting.wsgi:app``."""

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        super().__init__(["-c", "python:streamwatch.alerting.gunicorn_conf",
                          "streamwatch.alerting.wsgi:app"], log_path, env, module="gunicorn")


def alert(i: int) -> dict[str, Any]:
    return alert_body("card_testing", f"c-{i:05d}", [f"t-{i:07d}"], score=0.9)


def test_two_gunicorn_workers_store_and_deliver_each_alert_once(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"STREAMWATCH_ALERTING_HOST": "127.0.0.1", "STREAMWATCH_ALERTING_PORT": str(port),
           "STREAMWATCH_ALERTING_DATA_DIR": str(tmp_path / "data"),
           "STREAMWATCH_ADMIN_TOKEN": TOKEN,
           "STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE": "1",
           "STREAMWATCH_ALERTING_POLL_INTERVAL": "0.2",
           "STREAMWATCH_ALERTING_RETRY_SCHEDULE": "0,0.2,0.5", "GUNICORN_WORKERS": "2",
           "GUNICORN_THREADS": "4"}
    server = Gunicorn(tmp_path / "gunicorn.log", env).start()
    try:
        server.wait_http(f"{base}/readyz")
        with Receiver() as rx:
            r = requests.post(f"{base}/v1/subscriptions", json={"url": rx.url}, timeout=10,
                              headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 201, r.text
            secret = r.json()["secret"]
            alerts = [alert(i) for i in range(ALERTS)]
            for i in range(0, ALERTS, 10):
                # A new connection each time, so the master spreads them over both workers.
                r = requests.post(f"{base}/v1/alerts", json={"alerts": alerts[i:i + 10]},
                                  timeout=10,
                                  headers={"Connection": "close", **ingest_headers()})
                assert r.status_code == 200, r.text
            # The same batch again (a processor retry) stores nothing new.
            r = requests.post(f"{base}/v1/alerts", json={"alerts": alerts[:10]}, timeout=10,
                              headers=ingest_headers())
            assert r.status_code == 200, r.text
            got = rx.wait_for(lambda reqs: len(reqs) >= ALERTS, timeout=60)
            stored = requests.get(f"{base}/v1/alerts?limit=1000", timeout=10).json()["alerts"]
        assert server.stop() == 0, server.log()
    finally:
        server.stop()
    assert sorted(a["alert_id"] for a in stored) == sorted(a["alert_id"] for a in alerts)
    delivered = [Webhook(secret).verify(q.body, q.headers)["data"]["alert_id"] for q in got]
    assert sorted(delivered) == sorted(a["alert_id"] for a in alerts)  # each exactly once
    log = server.log_path.read_text()
    workers = set(re.findall(r'"gunicorn worker ready".*?"pid": ?(\d+)', log))
    assert len(workers) == 2, log[-3000:]
