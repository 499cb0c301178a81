"""A real ``streamwatch alerting`` process delivering to a real receiver on 127.0.0.1.

One service process serves the module (startup is the slow part); each test
subscribes with its own rule name so its alerts reach only its own receiver.
Every request a receiver gets is verified with the ``standardwebhooks`` library.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from tests.factories import alert_body
from tests.procs import ServiceProcess, free_port, ingest_headers
from tests.receiver import Received, Receiver

TOKEN = "integration-admin-token-" + "k" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def alert(rule: str, i: int, severity: str = "high") -> dict[str, Any]:
    return alert_body(rule, f"c-{i:05d}", [f"{rule}-t-{i}"], severity=severity, score=0.7)


@dataclass
class Service:
    base: str
    proc: ServiceProcess

    def subscribe(self, url: str, rule: str, **extra: Any) -> tuple[str, str]:
        r = requests.post(f"{self.base}/v1/subscriptions", headers=AUTH, timeout=10,
                          json={"url": url, "rules": [rule], **extra})
        assert r.status_code == 201, r.text
        return r.json()["id"], r.json()["secret"]

    def ingest(self, alerts: list[dict[str, Any]]) -> dict[str, list[str]]:
        r = requests.post(f"{self.base}/v1/alerts", json={"alerts": alerts}, timeout=10,
                          headers=ingest_headers())
        assert r.status_code == 200, r.text
        return r.json()

    def get(self, path: str) -> Any:
        r = requests.get(self.base + path, headers=AUTH, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.post(self.base + path, headers=AUTH, json=body, timeout=10)

    def metric(self, name: str) -> float:
        total = 0.0
        for line in requests.get(self.base + "/metrics", timeout=10).text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("alerting")
    port = free_port()
    proc = ServiceProcess(
        ["alerting", "--port", str(port), "--data-dir", str(tmp),
         "--retry-schedule", "0,0.2,0.3,0.3", "--retry-jitter", "0.1",
         "--attempt-timeout", "0.5", "--poll-interval", "0.2", "--log-level", "debug"],
        tmp / "alerting.log",
        env={"STREAMWATCH_ADMIN_TOKEN": TOKEN, "STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE": "1"},
    ).start()
    base = f"http://127.0.0.1:{port}"
    proc.wait_http(base + "/readyz")
    yield Service(base, proc)
    assert proc.stop() == 0, proc.log()


def verify_all(reqs: list[Received], *secrets: str) -> list[dict[str, Any]]:
    """Every request must verify with every given secret; returns the payloads."""
    payloads = []
    for req in reqs:
        for secret in secrets:
            payload = Webhook(secret).verify(req.body, req.headers)
        payloads.append(payload)
        assert payload["type"] == "fraud.alert.created"
    return payloads


def test_failures_and_timeouts_are_retried_until_delivered(service: Service) -> None:
    # attempt 1 fails, 2 hangs past the 0.5 s timeout, 3 answers 503, then all succeed
    plan = {0: (500, 0.0), 1: (200, 1.5), 2: (503, 0.0)}
    with Receiver(lambda n, _h: plan.get(n, (200, 0.0))) as rx:
        sid, secret = service.subscribe(rx.url, "retry_rule")
        alerts = [alert("retry_rule", i) for i in range(4)]
        service.ingest(alerts)
        # arrival 1 was answered too late: the sender had timed out and counts it failed
        got = rx.wait_for(lambda reqs: len({r.webhook_id for r in reqs if r.status == 200
                                            and r.arrival != 1}) >= 4, timeout=30)
        payloads = verify_all(got, secret)
    ok_ids = {p["data"]["alert_id"] for p, r in zip(payloads, got, strict=True)
              if r.status == 200 and r.arrival != 1}
    assert ok_ids == {a["alert_id"] for a in alerts}
    # one webhook-id per alert, kept across retries
    by_alert: dict[str, set[str]] = {}
    for p, r in zip(payloads, got, strict=True):
        by_alert.setdefault(p["data"]["alert_id"], set()).add(r.webhook_id)
    assert all(len(ids) == 1 for ids in by_alert.values())
    history = service.get(f"/v1/subscriptions/{sid}/deliveries")["deliveries"]
    outcomes = [(d["outcome"], d["status_code"]) for d in history]
    assert ("retrying", 500) in outcomes and ("retrying", 503) in outcomes
    assert any(d["error"] and "timed out" in d["error"] for d in history)
    assert [o for o, _ in outcomes].count("delivered") >= 4
    assert service.metric("streamwatch_webhook_deliveries_total") >= 7


def test_gone_disables_the_subscription_and_keeps_the_dead_letter(service: Service) -> None:
    with Receiver(lambda n, _h: (410, 0.0) if n == 0 else (200, 0.0)) as rx:
        sid, secret = service.subscribe(rx.url, "gone_rule")
        first = alert("gone_rule", 1)
        service.ingest([first])
        rx.wait_for(lambda reqs: len(reqs) >= 1, timeout=15)
        sub = _wait_sub(service, sid, lambda s: not s["enabled"])
        assert "410" in sub["disabled_reason"]
        dead = service.get(f"/v1/subscriptions/{sid}/messages?state=dead")["messages"]
        assert [m["alert_id"] for m in dead] == [first["alert_id"]]
        service.ingest([alert("gone_rule", 2)])  # not enqueued for a disabled subscription
        assert service.post(f"/v1/subscriptions/{sid}/replay",
                            {"message_id": dead[0]["message_id"]}).status_code == 409
        assert service.post(f"/v1/subscriptions/{sid}/enable").status_code == 200
        assert service.post(f"/v1/subscriptions/{sid}/replay",
                            {"message_id": dead[0]["message_id"]}).status_code == 202
        got = rx.wait_for(lambda reqs: len(reqs) >= 2, timeout=15)
        verify_all(got, secret)
        assert got[0].webhook_id == got[1].webhook_id
        assert len(rx.snapshot()) == 2


def test_exhausted_retries_make_a_dead_letter_and_disable(service: Service) -> None:
    with Receiver(lambda _n, _h: (500, 0.0)) as rx:
        sid, secret = service.subscribe(rx.url, "doomed_rule")
        service.ingest([alert("doomed_rule", 1)])
        sub = _wait_sub(service, sid, lambda s: not s["enabled"])
        verify_all(rx.snapshot(), secret)
    assert len(rx.snapshot()) == 4  # the whole schedule, then no more
    assert "failed all 4 attempts" in sub["disabled_reason"]
    dead = service.get(f"/v1/subscriptions/{sid}/messages?state=dead")["messages"]
    assert len(dead) == 1 and dead[0]["attempts"] == 4
    assert service.metric('streamwatch_webhook_deliveries_total{outcome="dead"}') >= 1


def test_replay_since_resends_with_the_same_webhook_id(service: Service) -> None:
    with Receiver() as rx:
        sid, secret = service.subscribe(rx.url, "replay_rule")
        service.ingest([alert("replay_rule", i) for i in range(3)])
        first = rx.wait_for(lambda reqs: len(reqs) >= 3, timeout=15)
        _wait_messages(service, sid, "delivered", 3)
        r = service.post(f"/v1/subscriptions/{sid}/replay", {"since": "2000-01-01T00:00:00Z"})
        assert r.status_code == 202 and r.json() == {"replayed": 3}
        got = rx.wait_for(lambda reqs: len(reqs) >= 6, timeout=15)
        verify_all(got, secret)
    assert sorted(q.webhook_id for q in got[3:]) == sorted(q.webhook_id for q in first)
    attempts = service.get(f"/v1/subscriptions/{sid}/deliveries")["deliveries"]
    assert sorted(d["attempt"] for d in attempts) == [1, 1, 1, 2, 2, 2]


def test_rotated_secret_signs_with_old_and_new(service: Service) -> None:
    with Receiver() as rx:
        sid, old = service.subscribe(rx.url, "rotate_rule")
        new = service.post(f"/v1/subscriptions/{sid}/rotate-secret").json()["secret"]
        service.ingest([alert("rotate_rule", 1)])
        (req,) = rx.wait_for(lambda reqs: len(reqs) >= 1, timeout=15)
    assert len(req.headers["webhook-signature"].split(" ")) == 2
    verify_all([req], old, new)


def test_concurrent_duplicate_posts_store_and_deliver_once(service: Service) -> None:
    with Receiver() as rx:
        _sid, secret = service.subscribe(rx.url, "dup_rule")
        batch = [alert("dup_rule", i) for i in range(20)]
        start = threading.Barrier(6)

        def post(_: int) -> dict[str, list[str]]:
            start.wait()
            return service.ingest(batch)

        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(post, range(6)))
        accepted = [a for ans in answers for a in ans["accepted"]]
        assert sorted(accepted) == sorted(a["alert_id"] for a in batch)
        got = rx.wait_for(lambda reqs: len(reqs) >= 20, timeout=20)
        verify_all(got, secret)
        service.ingest(batch)  # a replayed micro-batch
        listed = requests.get(f"{service.base}/v1/alerts?rule=dup_rule&limit=1000",
                              timeout=10).json()["alerts"]
        assert len(listed) == 20
    assert len(rx.snapshot()) == 20 and len({q.webhook_id for q in rx.snapshot()}) == 20


def test_secrets_and_token_never_reach_the_logs(service: Service) -> None:
    with Receiver(lambda n, _h: (500, 0.0) if n == 0 else (200, 0.0)) as rx:
        sid, secret = service.subscribe(rx.url + "?token=url-secret-123", "log_rule")
        rotated = service.post(f"/v1/subscriptions/{sid}/rotate-secret").json()["secret"]
        service.ingest([alert("log_rule", 1)])
        rx.wait_for(lambda reqs: len(reqs) >= 2, timeout=15)
    requests.get(f"{service.base}/v1/subscriptions", headers={"Authorization": "Bearer bad"},
                 timeout=10)
    log = Path(service.proc.log_path).read_text()
    assert "delivery attempt failed" in log  # the log did capture this test's activity
    for sensitive in (TOKEN, secret, rotated, secret[6:], rotated[6:], "url-secret-123"):
        assert sensitive not in log


def _wait_sub(service: Service, sid: str, done: Any, timeout: float = 20.0) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sub = service.get(f"/v1/subscriptions/{sid}")
        if done(sub):
            return sub
        time.sleep(0.1)
    raise TimeoutError(f"subscription {sid} never reached the expected state: {sub}")


def _wait_messages(service: Service, sid: str, state: str, count: int,
                   timeout: float = 20.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msgs = service.get(f"/v1/subscriptions/{sid}/messages?state={state}")["messages"]
        if len(msgs) >= count:
            return
        time.sleep(0.05)
    raise TimeoutError(f"fewer than {count} {state} messages for {sid}")
