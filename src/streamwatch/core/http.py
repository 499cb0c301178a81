"""Flask plumbing shared by every service.

``base_app`` gives each service the same operational surface: ``/healthz``
(the process answers), ``/readyz`` (its dependencies answer), ``/metrics``
(its own Prometheus registry, never the global one, so tests and several apps
in one process do not collide), ``/openapi.json`` and JSON errors.
``serve`` runs an app on a threaded WSGI server until SIGTERM/SIGINT.
"""

from __future__ import annotations

import errno
import hmac
import logging
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from flask import Flask, Response, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    disable_created_metrics,
    generate_latest,
)
from werkzeug.exceptions import HTTPException
from werkzeug.serving import ThreadedWSGIServer

from streamwatch.contracts.times import EARLIEST as EARLIEST
from streamwatch.contracts.times import LATEST as LATEST
from streamwatch.contracts.times import TimeOutOfRange as TimeOutOfRange
from streamwatch.contracts.times import parse_bounded_ts as parse_bounded_ts

log = logging.getLogger(__name__)

_DIGITS = re.compile(r"-?[0-9]{1,18}")
_READ_CHUNK = 64 << 10


class ApiError(Exception):
    """An error answered as ``{"error": message, "field": field}`` with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.details = details
        self.close = close  # the request was not read to its end: drop the connection

    def body(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"error": self.message}
        if self.field is not None:
            doc["field"] = self.field
        if self.details:
            doc["errors"] = self.details
        return doc


def json_response(doc: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(doc), status=status, mimetype="application/json", headers=headers
    )


def query_int(name: str, *, required: bool = False, default: int | None = None,
              minimum: int | None = None, maximum: int | None = None) -> int | None:
    """Read an integer query parameter (plain digits) or raise a 400 naming it."""
    raw = request.args.get(name)
    if raw is None:
        if required:
            raise ApiError(400, f"query parameter '{name}' is required", name)
        return default
    # int() also takes '1_0', ' 10', '+10' and non-ASCII digits; a client sending
    # those has a bug worth hearing about.
    if not _DIGITS.fullmatch(raw):
        raise ApiError(400, f"query parameter '{name}' must be an integer written in "
                       f"plain digits, got {raw[:40]!r}", name)
    value = int(raw)
    if minimum is not None and value < minimum:
        raise ApiError(400, f"query parameter '{name}' must be >= {minimum}", name)
    if maximum is not None and value > maximum:
        raise ApiError(400, f"query parameter '{name}' must be <= {maximum}", name)
    return value


def query_time_ms(name: str) -> int | None:
    """An RFC 3339 query parameter as epoch milliseconds, or a 400 naming it."""
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return int(parse_bounded_ts(raw).timestamp() * 1000)
    except ValueError as exc:
        raise ApiError(400, f"query parameter '{name}': {exc}", name) from None


def require_bearer(token: str, label: str) -> None:
    """Raise a 401 unless the request carries ``Authorization: Bearer <token>``.

    Compared in constant time, so the answer's timing does not reveal how much of
    a guess was right.
    """
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), token.encode()):
        raise ApiError(401, f"a valid 'Authorization: Bearer <{label}>' header is required",
                       "Authorization")


def read_body(max_bytes: int) -> bytes:
    """The request body, refused with a 413 as soon as it passes ``max_bytes``.

    Read in chunks so a chunked (or lying) upload is cut off at the limit instead
    of being buffered whole first. The rest is never read here: the built-in
    server closes the connection (``Connection: close``), gunicorn discards it.
    """
    if (request.content_length or 0) > max_bytes:
        _too_large(max_bytes)
    stream = request.stream
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(_READ_CHUNK, max_bytes + 1 - size))
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > max_bytes:
            _too_large(max_bytes)
        parts.append(chunk)


def _too_large(max_bytes: int) -> None:
    raise ApiError(413, f"request body is larger than {max_bytes} bytes", "body",
                   close=True)


def json_body(max_bytes: int) -> Any:
    """Parse an ``application/json`` request body or raise 415, 413 or 400."""
    if request.mimetype != "application/json":
        # Also what keeps a web page from posting here: a cross-site form can only
        # send text/plain, form or multipart bodies without a CORS preflight.
        raise ApiError(415, "request body must be sent with 'Content-Type: "
                       f"application/json', got {request.mimetype or 'none'!r}", "Content-Type")
    data = read_body(max_bytes)
    if not data:
        raise ApiError(400, "request body must be a JSON document", "body")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}", "body") from None
    # PostgreSQL text cannot hold NUL: refused here rather than failing in the store
    if b"\\u0000" in data and _holds_nul(doc):
        raise ApiError(400, "request body must not contain NUL characters (\\u0000)", "body")
    return doc


def _holds_nul(doc: Any) -> bool:
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def base_app(
    name: str,
    registry: CollectorRegistry,
    *,
    openapi: dict[str, Any],
    ready: Callable[[], tuple[bool, dict[str, Any]]] | None = None,
) -> Flask:
    """A Flask app with health, readiness, metrics, OpenAPI and JSON errors."""
    app = Flask(name)
    app.config["REGISTRY"] = registry
    # *_created series double every counter and mean nothing to Prometheus users
    disable_created_metrics()

    declared = declared_query_parameters(openapi)

    @app.before_request
    def strict_query() -> None:
        # The OpenAPI document is the contract: a parameter it does not declare is a
        # client's typo (``?severty=high``) that would otherwise silently widen a query.
        rule = request.url_rule
        method = "get" if request.method == "HEAD" else request.method.lower()
        allowed = None if rule is None else declared.get((openapi_path(rule), method))
        if allowed is None:
            return
        for name, value in (request.view_args or {}).items():
            if isinstance(value, str) and "\x00" in value:
                raise ApiError(400, f"path parameter '{name}' must not contain NUL", name)
        for key, values in request.args.lists():
            if "\x00" in key or any("\x00" in v for v in values):
                raise ApiError(400, "query parameters must not contain NUL characters",
                               key.replace("\x00", "")[:40])
            if key not in allowed:
                known = ", ".join(sorted(allowed)) or "none"
                raise ApiError(400, f"unknown query parameter {key[:40]!r} (known: {known})",
                               key[:40])
            if len(values) > 1:
                raise ApiError(400, f"query parameter '{key}' is given more than once", key)
            if values[0] == "":
                raise ApiError(400, f"query parameter '{key}' is empty; leave it out instead",
                               key)

    @app.get("/healthz")
    def healthz() -> Response:
        return json_response({"status": "ok", "service": name})

    @app.get("/readyz")
    def readyz() -> Response:
        ok, detail = ready() if ready is not None else (True, {})
        return json_response({"ready": ok, **detail}, 200 if ok else 503)

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    @app.get("/openapi.json")
    def openapi_doc() -> Response:
        return json_response(openapi)

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return json_response(exc.body(), exc.status,
                             {"Connection": "close"} if exc.close else None)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return json_response({"error": exc.description or exc.name}, exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.path})
        return json_response({"error": "internal error"}, 500)

    return app


def openapi_path(rule: Any) -> str:
    """A werkzeug ``Rule`` in OpenAPI path syntax (``/v1/feeds/{feed}``)."""
    path: str = rule.rule
    for arg in rule.arguments:
        for conv in ("", "string:", "int:", "path:"):
            path = path.replace(f"<{conv}{arg}>", "{" + arg + "}")
    return path


def route_paths(app: Flask) -> set[str]:
    """Routes of ``app`` in OpenAPI path syntax (``/v1/feeds/{feed}``)."""
    return {openapi_path(rule) for rule in app.url_map.iter_rules()
            if rule.endpoint != "static"}


def declared_query_parameters(doc: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """``(path, method) -> names of its query parameters`` from an OpenAPI document."""
    out: dict[tuple[str, str], set[str]] = {}
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters" or not isinstance(op, dict):
                continue
            out[(path, method)] = {p["name"] for p in [*shared, *op.get("parameters", [])]
                                   if p.get("in") == "query"}
    return out


class Server:
    """A threaded WSGI server in a background thread; ``port=0`` picks a free port."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        _probe_port(host, port)
        try:
            self._server = ThreadedWSGIServer(host, port, app)
        except SystemExit:
            # werkzeug prints and exits when the port is taken; callers want an error to report
            raise OSError(errno.EADDRINUSE, f"{host}:{port} is already in use") from None
        self._server.daemon_threads = True
        self.host = host
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"http-{self.port}", daemon=True
        )

    def start(self) -> Server:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _probe_port(host: str, port: int) -> None:
    """Raise ``OSError`` if ``host:port`` cannot be bound (with SO_REUSEADDR, as servers do).

    werkzeug prints its own advice to stderr before exiting on a busy port; probing
    first leaves the caller's message, which names the flag and env var, the only one.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def run_until_signalled(
    start: Callable[[], None], stop: Callable[[], None], *, timeout: float | None = None
) -> None:
    """Call ``start``, wait for SIGTERM/SIGINT (or ``timeout``), then ``stop``."""
    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        done.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        start()
        # Poll instead of one blocking wait: a process-directed signal may be taken by
        # another thread, and a main thread parked in an untimed lock wait would never
        # run the Python handler.
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done.wait(0.2):
            if deadline is not None and time.monotonic() >= deadline:
                break
    finally:
        try:
            stop()
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)


class PortBusy(Exception):
    """A port a service must listen on is taken; the message says how to move it."""


def port_in_use_message(host: str, port: int, where: str) -> str:
    """Why a service cannot start on ``host:port`` and the fix; ``where`` names the flag
    and env var that choose the port (``Settings.where``)."""
    return (
        f"port {port} on {host} is already in use. Stop the process that holds it "
        f"(`ss -ltnp 'sport = :{port}'` shows it) or choose another port with {where}."
    )


@contextmanager
def binding(host: str, port: int, where: str) -> Iterator[None]:
    """Turn a busy ``host:port`` met inside the block into :class:`PortBusy`.

    Every server binds inside one of these, so a taken port reads the same in every
    service: the port, how to find its holder, and the flag and env var to change.
    """
    try:
        yield
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise PortBusy(port_in_use_message(host, port, where)) from None
