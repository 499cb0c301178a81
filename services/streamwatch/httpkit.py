"""Flask plumbing shared by every service.

``base_app`` gives each service the same operational surface: ``/healthz``
(the process answers), ``/readyz`` (its dependencies answer), ``/metrics``
(its own Prometheus registry, never the global one, so tests and several apps
in one process do not collide), ``/openapi.json`` and JSON errors.
``serve`` runs an app on a threaded WSGI server until SIGTERM/SIGINT.
"""

from __future__ import annotations

import errno
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
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
from werkzeug.serving import BaseWSGIServer, make_server

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error answered as ``{"error": message, "field": field}`` with ``status``."""

    def __init__(
        self,
        status: int,
        message: str,
        field: str | None = None,
        *,
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.details = details

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
    """Read an integer query parameter or raise a 400 naming it."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        if required:
            raise ApiError(400, f"query parameter '{name}' is required", name)
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"query parameter '{name}' must be an integer, got {raw!r}",
                       name) from None
    if minimum is not None and value < minimum:
        raise ApiError(400, f"query parameter '{name}' must be >= {minimum}", name)
    if maximum is not None and value > maximum:
        raise ApiError(400, f"query parameter '{name}' must be <= {maximum}", name)
    return value


def json_body(max_bytes: int | None = None) -> Any:
    """Parse the request body as JSON or raise a 400 (413 if too large)."""
    if max_bytes is not None and (request.content_length or 0) > max_bytes:
        raise ApiError(413, f"request body is larger than {max_bytes} bytes", "body")
    data = request.get_data(cache=False)
    if max_bytes is not None and len(data) > max_bytes:
        raise ApiError(413, f"request body is larger than {max_bytes} bytes", "body")
    if not data:
        raise ApiError(400, "request body must be a JSON document", "body")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}", "body") from None


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
        return json_response(exc.body(), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        return json_response({"error": exc.description or exc.name}, exc.code or 500)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        log.exception("unhandled error", extra={"path": request.path})
        return json_response({"error": "internal error"}, 500)

    return app


def openapi_document(title: str, version: str, paths: dict[str, Any],
                     schemas: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OpenAPI 3.0 document with the operational endpoints every service has."""
    plain = {"200": {"description": "OK"}}
    common = {
        "/healthz": {"get": {"summary": "Liveness", "responses": plain}},
        "/readyz": {"get": {"summary": "Readiness", "responses": {
            "200": {"description": "ready"}, "503": {"description": "not ready"}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {
            "200": {"description": "OK", "content": {"text/plain": {"schema": {
                "type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This document", "responses": plain}},
    }
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": {**common, **paths},
    }
    if schemas:
        doc["components"] = {"schemas": schemas}
    return doc


def route_paths(app: Flask) -> set[str]:
    """Routes of ``app`` in OpenAPI path syntax (``/v1/feeds/{feed}``)."""
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = rule.rule
        for arg in rule.arguments:
            for conv in ("", "string:", "int:", "path:"):
                path = path.replace(f"<{conv}{arg}>", "{" + arg + "}")
        out.add(path)
    return out


class Server:
    """A threaded WSGI server in a background thread; ``port=0`` picks a free port."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        try:
            self._server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        except SystemExit:
            # werkzeug prints and exits when the port is taken; callers want an error to report
            raise OSError(errno.EADDRINUSE, port_in_use_message(host, port, "--port")) from None
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


def port_in_use_message(host: str, port: int, flag: str) -> str:
    return (
        f"port {port} on {host} is already in use. Stop the process that holds it "
        f"(`ss -ltnp 'sport = :{port}'` shows it) or choose another with {flag} "
        f"(env twin STREAMWATCH_{flag.lstrip('-').replace('-', '_').upper()})."
    )


def ndjson_lines(items: Iterable[bytes]) -> Iterable[bytes]:
    for item in items:
        yield item + b"\n"
