"""A small webhook receiver for local runs, demos, tests and benchmarks.

It listens on 127.0.0.1, records every request (headers, raw body, arrival
time) and answers with whatever ``respond`` decides — so a test can make it
fail, hang past the sender's timeout or answer 410, then recover::

    with Receiver() as rx:          # rx.url -> http://127.0.0.1:<port>/hook
        rx.respond = lambda n, req: (503, 0.0) if n < 2 else (200, 0.0)
        ...
        rx.wait_for(lambda reqs: len(reqs) >= 3, timeout=10)

Signatures are not checked here: the receiver keeps the exact bytes so a caller
can verify them with the library of its choice (the tests use ``standardwebhooks``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the body had been read
    status: int  # what the receiver answered
    arrival: int  # 0 for the first request that arrived, and so on

    @property
    def webhook_id(self) -> str:
        return self.headers.get("webhook-id", "")


# (arrival number from 0, lower-cased headers) -> (status to answer, seconds to wait first)
Responder = Callable[[int, dict[str, str]], tuple[int, float]]


def always_ok(_n: int, _headers: dict[str, str]) -> tuple[int, float]:
    return 200, 0.0


class Receiver:
    def __init__(self, respond: Responder = always_ok, path: str = "/hook") -> None:
        self.respond = respond
        self.path = path
        self.requests: list[Received] = []
        self.arrivals = 0
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # the sender died mid-request (kill -9): no request arrived, as for
                    # any HTTP server, and there is nobody to answer
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                with receiver._cond:
                    n = receiver.arrivals  # numbered on arrival, before any delay
                    receiver.arrivals += 1
                status, delay = receiver.respond(n, headers)
                if delay:
                    time.sleep(delay)
                with receiver._cond:
                    receiver.requests.append(Received(headers, body, time.time(), status, n))
                    receiver._cond.notify_all()
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up (timeout) before we answered

            def log_message(self, format: str, *args: Any) -> None:
                pass  # tests read self.requests; access logs would only be noise

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name=f"receiver-{self.port}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def snapshot(self) -> list[Received]:
        with self._cond:
            return list(self.requests)

    def wait_for(self, done: Callable[[list[Received]], bool], timeout: float) -> list[Received]:
        """Wait until ``done(requests)`` holds; raise TimeoutError with the count otherwise."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not done(self.requests):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"receiver condition not met; got {len(self.requests)} "
                                       "requests")
                self._cond.wait(left)
            return list(self.requests)
