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

from alerting_service.ssrf import Target
from alerting_service.store.models import AttemptResult

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


def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> AttemptResult:
    """POST ``body``; never raises for network trouble, which becomes ``error``."""
    started = time.perf_counter()
    address = target.addresses[0]
    if target.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPS(target.host, target.port, address,
                                                        timeout, _TLS)
    else:
        conn = _PinnedHTTP(target.host, target.port, address, timeout)
    try:
        conn.request("POST", target.path, body=body,
                     headers={**headers, "user-agent": USER_AGENT, "connection": "close"})
        resp = conn.getresponse()
        resp.read(MAX_RESPONSE_BYTES)
        latency = (time.perf_counter() - started) * 1000
        ok = 200 <= resp.status < 300
        return AttemptResult(resp.status, latency, None if ok else f"HTTP {resp.status}",
                             _retry_after(resp.getheader("retry-after")))
    except TimeoutError:
        return AttemptResult(None, (time.perf_counter() - started) * 1000,
                             f"timed out after {timeout:g}s")
    except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
        return AttemptResult(None, (time.perf_counter() - started) * 1000,
                             f"{type(exc).__name__}: {exc}"[:500])
    finally:
        conn.close()
