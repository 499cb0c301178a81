"""The webhook subscriber outside the compose stack, on the host at the compose network's
gateway: verifies every POST with the ``standardwebhooks`` library and keeps every receipt.

Nothing is de-duplicated away: each request is recorded, so a second receipt of the same
webhook-id (a redelivery, which Standard Webhooks receivers drop by that id) and an alert
under two webhook-ids (a true duplicate no receiver can detect) are both counted.

``hold(seconds)`` delays every answer: deliveries then stay open long enough for a fault
to land while they are in flight, and ``unanswered_at(t)`` says which were open at ``t``.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True)
class Hook:
    webhook_id: str
    alert: dict[str, Any]
    received: datetime


@dataclass
class Accounting:
    """Receipts against the alert ids that should have been delivered."""

    expected: int
    delivered: int  # expected alert ids received at least once
    lost: list[str]  # expected, never received
    unexpected: list[str]  # received, not expected
    duplicated: list[str]  # alert ids received under more than one webhook-id
    redelivered: list[str]  # webhook-ids received more than once

    def summary(self) -> str:
        return (f"expected {self.expected}, delivered {self.delivered}, lost {len(self.lost)}, "
                f"duplicated {len(self.duplicated)}, unexpected {len(self.unexpected)}, "
                f"redelivered webhook-ids {len(self.redelivered)}")


@dataclass
class WebhookReceiver:
    host: str
    secret: str = ""
    hooks: list[Hook] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self
        self.cond = threading.Condition()
        self._hold_s = 0.0
        self._answered: dict[int, float] = {}  # request serial -> when its answer went out
        self._serial = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except Exception as exc:  # any verification failure is a finding
                    with receiver.cond:
                        receiver.failures.append(f"{type(exc).__name__}: {exc}")
                    self.send_response(400)
                else:
                    serial = receiver._opened(headers["webhook-id"], payload["data"])
                    try:
                        hold = receiver._hold_s
                        if hold:
                            time.sleep(hold)
                        self.send_response(200)
                        self.send_header("content-length", "0")
                        self.end_headers()
                        receiver._answered_now(serial)
                    except OSError:  # the sender died while the answer was held
                        self.close_connection = True
                    return
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _opened(self, webhook_id: str, alert: dict[str, Any]) -> int:
        with self.cond:
            self._serial += 1
            self.hooks.append(Hook(webhook_id, alert, datetime.now(UTC)))
            self.cond.notify_all()
            return self._serial

    def _answered_now(self, serial: int) -> None:
        with self.cond:
            self._answered[serial] = time.time()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}/hook"

    def hold(self, seconds: float) -> None:
        self._hold_s = seconds

    def unanswered_at(self, when: float) -> set[str]:
        """Webhook-ids received by ``when`` whose answer had not gone out by then: a sender
        that died at ``when`` never saw them accepted, and sends them again."""
        with self.cond:
            return {h.webhook_id for serial, h in enumerate(self.hooks, start=1)
                    if h.received.timestamp() <= when
                    and self._answered.get(serial, float("inf")) > when}

    def wait_for_receipt(self, after: int, timeout: float) -> bool:
        """True once more than ``after`` receipts exist."""
        with self.cond:
            return self.cond.wait_for(lambda: len(self.hooks) > after, timeout)

    def snapshot(self) -> list[Hook]:
        with self.cond:
            return list(self.hooks)

    def account(self, expected: set[str]) -> Accounting:
        hooks = self.snapshot()
        by_alert: dict[str, set[str]] = defaultdict(set)
        for h in hooks:
            by_alert[h.alert["alert_id"]].add(h.webhook_id)
        receipts = Counter(h.webhook_id for h in hooks)
        return Accounting(
            expected=len(expected),
            delivered=len(expected & set(by_alert)),
            lost=sorted(expected - set(by_alert)),
            unexpected=sorted(set(by_alert) - expected),
            duplicated=sorted(a for a, ids in by_alert.items() if len(ids) > 1),
            redelivered=sorted(w for w, n in receipts.items() if n > 1))

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
