"""One webhook HTTP request to an address the SSRF guard has already checked.

The connection goes to the checked IP address while the Host header and TLS
server name stay the URL's host — resolving again inside an HTTP library would
let a DNS answer that changed since the check (rebinding) redirect the request.
Redirects are never followed (Standard Webhooks treats 3xx as a failure).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time

from streamwatch.alerting.ssrf import Target
from streamwatch.alerting.store.models import AttemptResult

USER_AGENT = "Streamwatch-Webhooks/1"
MAX_RESPONSE_BYTES = 64 << 10


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float,
                 context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._ctx = context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._ctx.wrap_socket(raw, server_hostname=self.host)


_TLS = ssl.create_default_context()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: rare for webhooks; the schedule applies


class Connections:
    """Keep-alive connections of one worker thread, one per (scheme, host, port, address).

    Reusing a connection saves a TCP (and TLS) handshake per webhook. A request
    that fails on a reused connection is retried once on a fresh one, because the
    receiver may have closed it while idle; that retry can at worst deliver the
    message twice, which at-least-once delivery allows (receivers dedupe by
    webhook-id).
    """

    def __init__(self) -> None:
        self._open: dict[tuple[str, str, int, str], http.client.HTTPConnection] = {}

    def _get(self, target: Target, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        address = target.addresses[0]
        key = (target.scheme, target.host, target.port, address)
        conn = self._open.get(key)
        if conn is not None:
            conn.timeout = timeout
            return conn, True
        if target.scheme == "https":
            conn = _PinnedHTTPS(target.host, target.port, address, timeout, _TLS)
        else:
            conn = _PinnedHTTP(target.host, target.port, address, timeout)
        self._open[key] = conn
        return conn, False

    def _drop(self, target: Target) -> None:
        key = (target.scheme, target.host, target.port, target.addresses[0])
        conn = self._open.pop(key, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for conn in self._open.values():
            conn.close()
        self._open.clear()

    def post(self, target: Target, body: bytes, headers: dict[str, str],
             timeout: float) -> AttemptResult:
        """POST ``body``; never raises for network trouble, which becomes ``error``."""
        started = time.perf_counter()
        for _ in range(2):
            conn, reused = self._get(target, timeout)
            try:
                conn.request("POST", target.path, body=body,
                             headers={**headers, "user-agent": USER_AGENT})
                resp = conn.getresponse()
                resp.read(MAX_RESPONSE_BYTES)
            except TimeoutError:
                self._drop(target)
                return AttemptResult(None, (time.perf_counter() - started) * 1000,
                                     f"timed out after {timeout:g}s")
            except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
                self._drop(target)
                if reused:
                    continue
                return AttemptResult(None, (time.perf_counter() - started) * 1000,
                                     f"{type(exc).__name__}: {exc}"[:500])
            except Exception:
                # e.g. UnicodeEncodeError for a path http.client cannot encode: the
                # connection is in an unknown state, and the caller records the failure
                self._drop(target)
                raise
            if resp.will_close or not resp.isclosed():
                # the receiver closes, or sent more body than we read: start afresh next time
                self._drop(target)
            latency = (time.perf_counter() - started) * 1000
            ok = 200 <= resp.status < 300
            return AttemptResult(resp.status, latency, None if ok else f"HTTP {resp.status}",
                                 _retry_after(resp.getheader("retry-after")))
        raise AssertionError("unreachable: the second try uses a fresh connection")
