"""A webhook subscriber on 127.0.0.1 that verifies every delivery and can go down.

Each POST is verified with the reference ``standardwebhooks`` library (the
secret is set once the subscription exists); a valid one is answered 204 and
recorded as ``(webhook-id, alert_id, arrival time)``, an invalid one 400 and
counted. ``down()`` closes the listening socket (connections are refused, as
for a receiver that crashed), ``up()`` listens again on the same port.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook


@dataclass(frozen=True, slots=True)
class Delivery:
    webhook_id: str
    alert_id: str
    at: float  # time.time() when verified


class VerifyingReceiver:
    def __init__(self, port: int = 0, path: str = "/hook") -> None:
        self.path = path
        self.port = port
        self.secret: str | None = None
        self._webhook: Webhook | None = None
        self.deliveries: list[Delivery] = []
        self.invalid = 0
        self.down_since: float | None = None
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def set_secret(self, secret: str) -> None:
        self.secret = secret
        self._webhook = Webhook(secret)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = 204
                try:
                    if receiver._webhook is None:
                        raise ValueError("no secret yet")
                    event = receiver._webhook.verify(body, headers)
                    alert_id = event["data"]["alert_id"]
                except Exception:  # any verification failure is a 400, and counted
                    status = 400
                    with receiver._lock:
                        receiver.invalid += 1
                else:
                    with receiver._lock:
                        receiver.deliveries.append(
                            Delivery(headers.get("webhook-id", ""), alert_id, time.time()))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def up(self) -> VerifyingReceiver:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True,
                                        name=f"faults-receiver-{self.port}")
        self._thread.start()
        self.down_since = None
        return self

    def down(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = None
        self.down_since = time.time()

    def snapshot(self) -> list[Delivery]:
        with self._lock:
            return list(self.deliveries)

    def webhook_ids_by_alert(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = defaultdict(set)
        for d in self.snapshot():
            out[d.alert_id].add(d.webhook_id)
        return dict(out)

    def delivered_ids(self) -> set[str]:
        return {d.alert_id for d in self.snapshot()}

    def first_after(self, t: float) -> float | None:
        times = [d.at for d in self.snapshot() if d.at > t]
        return min(times) if times else None
