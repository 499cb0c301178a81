"""Serving feed logs: the HTTP range API and the live TCP line socket.

HTTP (see ``FEED_ROUTES``; the contract is ARCHITECTURE.md)::

    GET /v1/feeds                    {"feeds": [{"name", "earliest", "latest", "socket_port"}]}
    GET /v1/feeds/{feed}/offsets     {"earliest": E, "latest": L}
    GET /v1/feeds/{feed}/records?start=A&end=B   NDJSON of [A, min(B, L, A + cap))

The records response carries ``X-Streamwatch-Start``, ``X-Streamwatch-End``
(the exclusive end actually returned; resume from it), ``X-Streamwatch-Earliest``
and ``X-Streamwatch-Latest``. A start below ``earliest`` is ``410`` with
``{"error", "field": "start", "earliest": E}``; a start at or past ``latest``
is ``200`` with an empty body and ``X-Streamwatch-End == start``.

Line socket: :class:`LineTail` accepts any number of TCP clients and sends
each new record of one feed as a line. Each client has a bounded buffer; one
that falls further behind is disconnected and counted, so a slow reader never
blocks the producer. Delivery is at-most-once (a tail starts at ``latest``);
use the HTTP API to replay.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field

from streamwatch import __version__
from streamwatch.contracts.errors import Error
from streamwatch.core.http import ApiError, base_app, json_response, query_int
from streamwatch.core.openapi import Answer, Param, Route, Routes, build, error
from streamwatch.feed.log import FeedLog, OffsetOutOfRange

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
_SOCKET_SNDBUF = 256 << 10


class FeedMetrics:
    """The ``streamwatch_feed_*`` metrics of one producer, on its own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.produced = Counter("streamwatch_feed_events_produced_total",
                                "Events appended to the feed log", ["feed"], registry=registry)
        self.records_served = Counter("streamwatch_feed_records_served_total",
                                      "Records returned by range reads over HTTP", ["feed"],
                                      registry=registry)
        self.range_requests = Counter("streamwatch_feed_range_requests_total",
                                      "Range read requests by HTTP status code",
                                      ["feed", "code"], registry=registry)
        self.readers = Gauge("streamwatch_feed_readers", "Range reads in flight", ["feed"],
                             registry=registry)
        self.socket_clients = Gauge("streamwatch_feed_socket_clients",
                                    "Clients connected to the line socket", ["feed"],
                                    registry=registry)
        self.socket_dropped = Counter("streamwatch_feed_socket_clients_dropped_total",
                                      "Line-socket clients disconnected for falling behind",
                                      ["feed"], registry=registry)
        self.torn = Counter("streamwatch_feed_torn_records_truncated_total",
                            "Torn records truncated from the log tail at open (after a crash)",
                            ["feed"], registry=registry)
        self.fsync_seconds = Histogram(
            "streamwatch_feed_fsync_seconds", "Time spent in fsync of feed log segments",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                     2.5),
            registry=registry)

    def watch(self, logs: dict[str, FeedLog]) -> None:
        """Export the logs' sizes and offsets, and the torn records found at open."""
        for feed, feed_log in logs.items():
            for metric in (self.produced, self.records_served, self.socket_dropped,
                           self.torn):
                metric.labels(feed)
            self.readers.labels(feed)
            self.torn.labels(feed).inc(feed_log.torn_truncations)
        self.registry.register(_LogCollector(logs))


class _LogCollector(Collector):
    """Reads sizes and offsets at scrape time, so they are never stale."""

    def __init__(self, logs: dict[str, FeedLog]) -> None:
        self.logs = logs

    def collect(self) -> Iterable[GaugeMetricFamily]:
        size = GaugeMetricFamily("streamwatch_feed_log_bytes", "Bytes held by the feed log",
                                 labels=["feed"])
        earliest = GaugeMetricFamily("streamwatch_feed_earliest_offset",
                                     "Earliest offset still retained", labels=["feed"])
        latest = GaugeMetricFamily("streamwatch_feed_latest_offset",
                                   "Next offset (exclusive end of what readers see)",
                                   labels=["feed"])
        for feed, feed_log in self.logs.items():
            size.add_metric([feed], feed_log.size_bytes)
            earliest.add_metric([feed], feed_log.earliest)
            latest.add_metric([feed], feed_log.latest)
        return [size, earliest, latest]

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []


@dataclass
class FeedAppConfig:
    """What the feed API serves; ``ready`` and ``socket_ports`` may change after creation."""

    service: str
    logs: dict[str, FeedLog]
    registry: CollectorRegistry
    metrics: FeedMetrics
    socket_ports: dict[str, int | None] = field(default_factory=dict)
    max_records_per_request: int = 10_000
    ready: bool = False
    extra_routes: Routes = field(default_factory=dict)


class Offsets(BaseModel):
    earliest: int = Field(ge=0, description="earliest retained offset")
    latest: int = Field(ge=0, description="exclusive end: the next offset appended")


class FeedInfo(BaseModel):
    name: str
    earliest: int
    latest: int
    socket_port: int | None = Field(description="the feed's line socket; null if none")


class FeedList(BaseModel):
    feeds: list[FeedInfo]


class FeedError(Error):
    earliest: int | None = Field(default=None,
                                 description="on a 410: the earliest retained offset")


_ERR = error("bad parameter (named in field)", FeedError)
_NOT_FOUND = error("unknown feed", FeedError)
_FEED = Param("feed", {"type": "string"}, where="path")
_OFFSET_HEADERS = {name: {"schema": {"type": "integer"}, "description": text} for name, text in (
    ("X-Streamwatch-Start", "first offset returned"),
    ("X-Streamwatch-End", "exclusive end actually returned; the next start"),
    ("X-Streamwatch-Earliest", "earliest retained offset"),
    ("X-Streamwatch-Latest", "exclusive end of the feed when answered"))}

FEED_ROUTES: Routes = {
    "/v1/feeds": {"get": Route("Feeds served, with their offsets and line-socket ports",
                               {200: Answer("OK", FeedList)})},
    "/v1/feeds/{feed}/offsets": {"get": Route(
        "Earliest retained offset and exclusive end of one feed",
        {200: Answer("OK", Offsets), 400: _ERR, 404: _NOT_FOUND}, params=(_FEED,))},
    "/v1/feeds/{feed}/records": {"get": Route(
        "Records [start, min(end, latest, start + cap)) as NDJSON, stored bytes",
        {200: Answer("one JSON record per line (empty at or past latest)", media=NDJSON,
                     schema={"type": "string"}, headers=_OFFSET_HEADERS),
         400: _ERR, 404: _NOT_FOUND,
         410: error("start is below earliest (deleted by retention)", FeedError)},
        params=(_FEED,
                Param("start", {"type": "integer", "minimum": 0}, required=True),
                Param("end", {"type": "integer", "minimum": 0},
                      "exclusive end; defaults to start + the per-request cap")))},
}


def feeds_blueprint(config: FeedAppConfig) -> Blueprint:
    """The ``/v1/feeds`` routes over ``config.logs``."""
    bp = Blueprint("feeds", __name__)
    metrics = config.metrics

    def feed_log(feed: str) -> FeedLog:
        try:
            return config.logs[feed]
        except KeyError:
            raise ApiError(404, f"unknown feed {feed!r}; this service serves "
                           f"{sorted(config.logs)}", "feed") from None

    @bp.get("/v1/feeds")
    def list_feeds() -> Response:
        return json_response({"feeds": [
            {"name": name, "earliest": lg.earliest, "latest": lg.latest,
             "socket_port": config.socket_ports.get(name)}
            for name, lg in config.logs.items()]})

    @bp.get("/v1/feeds/<feed>/offsets")
    def offsets(feed: str) -> Response:
        lg = feed_log(feed)
        return json_response({"earliest": lg.earliest, "latest": lg.latest})

    @bp.get("/v1/feeds/<feed>/records")
    def records(feed: str) -> Response:
        lg = feed_log(feed)
        try:
            start = query_int("start", required=True, minimum=0)
            end = query_int("end", minimum=0)
            assert start is not None
            if end is not None and end < start:
                raise ApiError(400, f"query parameter 'end' ({end}) must be >= start "
                               f"({start})", "end")
        except ApiError:
            metrics.range_requests.labels(feed, "400").inc()
            raise
        cap = config.max_records_per_request
        readers = metrics.readers.labels(feed)
        readers.inc()
        try:
            body, stop = lg.read_ndjson(start, end, cap)
        except OffsetOutOfRange as exc:
            metrics.range_requests.labels(feed, "410").inc()
            return json_response({
                "error": f"offset {start} is no longer retained; the earliest is "
                         f"{exc.earliest}", "field": "start", "earliest": exc.earliest}, 410)
        finally:
            readers.dec()
        metrics.range_requests.labels(feed, "200").inc()
        metrics.records_served.labels(feed).inc(stop - start)
        return Response(body, 200, mimetype=NDJSON, headers={
            "X-Streamwatch-Start": str(start), "X-Streamwatch-End": str(stop),
            "X-Streamwatch-Earliest": str(lg.earliest), "X-Streamwatch-Latest": str(lg.latest),
        })

    return bp


def create_app(config: FeedAppConfig) -> Flask:
    """The producer's Flask app: feed routes plus health, readiness, metrics and OpenAPI."""
    openapi = build(config.service, __version__, {**FEED_ROUTES, **config.extra_routes})

    def ready() -> tuple[bool, dict[str, Any]]:
        return config.ready, {"feeds": sorted(config.logs)}

    app = base_app(config.service, config.registry, openapi=openapi, ready=ready)
    app.register_blueprint(feeds_blueprint(config))
    return app


class _Client:
    """One line-socket client: a bounded buffer drained by its own sender thread."""

    def __init__(self, sock: socket.socket, addr: Any, limit: int) -> None:
        self.sock = sock
        self.addr = addr
        self.limit = limit
        self.buffer: deque[bytes] = deque()
        self.cond = threading.Condition()
        self.closed = False

    def offer(self, payloads: Sequence[bytes]) -> bool:
        """Queue ``payloads``; False if that would exceed the buffer (the client lags)."""
        with self.cond:
            if self.closed:
                return True
            if len(self.buffer) + len(payloads) > self.limit:
                return False
            self.buffer.extend(payloads)
            self.cond.notify()
            return True

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify()
        # unblocks a sender stuck in sendall on a client that stopped reading
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        try:
            while True:
                with self.cond:
                    while not self.buffer and not self.closed:
                        self.cond.wait()
                    if self.closed:
                        return
                    lines = list(self.buffer)
                    self.buffer.clear()
                lines.append(b"")
                self.sock.sendall(b"\n".join(lines))
        except OSError:
            return  # the client went away; the accept loop's bookkeeping removes it
        finally:
            self.sock.close()


class LineTail:
    """A TCP server that sends every new record of one feed to every client, one per line."""

    def __init__(self, feed_log: FeedLog, feed: str, host: str, port: int, *,
                 buffer_lines: int, metrics: FeedMetrics) -> None:
        self.feed_log = feed_log
        self.feed = feed
        self.host = host
        self.requested_port = port
        self.buffer_lines = buffer_lines
        self.metrics = metrics
        self.port = port
        self._clients: list[_Client] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._unsubscribe: Any = None
        self._stopping = False

    def start(self) -> LineTail:
        """Bind and accept; raises ``OSError`` (EADDRINUSE) if the port is taken."""
        listener = socket.create_server((self.host, self.requested_port), backlog=64,
                                        reuse_port=False)
        self._listener = listener
        self.port = listener.getsockname()[1]
        self._unsubscribe = self.feed_log.subscribe(self._publish)
        self._thread = threading.Thread(target=self._accept_loop,
                                        name=f"tail-{self.feed}", daemon=True)
        self._thread.start()
        return self

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping:
            try:
                sock, addr = self._listener.accept()
            except OSError:
                return  # listener closed by stop()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # Keep the kernel's share of a client's backlog small, so the line
            # budget (--socket-buffer) is what decides when a client is too slow.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_SNDBUF)
            client = _Client(sock, addr, self.buffer_lines)
            with self._lock:
                self._clients.append(client)
            self.metrics.socket_clients.labels(self.feed).inc()
            log.info("line-socket client connected",
                     extra={"feed": self.feed, "peer": f"{addr[0]}:{addr[1]}"})
            threading.Thread(target=self._serve, args=(client,),
                             name=f"tail-{self.feed}-{addr[1]}", daemon=True).start()

    def _serve(self, client: _Client) -> None:
        try:
            client.run()
        finally:
            with self._lock:
                present = client in self._clients
                if present:
                    self._clients.remove(client)
            if present:
                self.metrics.socket_clients.labels(self.feed).dec()

    def _publish(self, payloads: Sequence[bytes]) -> None:
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            if not client.offer(payloads):
                self._drop(client)

    def _drop(self, client: _Client) -> None:
        with self._lock:
            if client not in self._clients:
                return
            self._clients.remove(client)
        self.metrics.socket_clients.labels(self.feed).dec()
        self.metrics.socket_dropped.labels(self.feed).inc()
        log.warning("line-socket client fell behind and was disconnected", extra={
            "feed": self.feed, "peer": f"{client.addr[0]}:{client.addr[1]}",
            "buffer_lines": self.buffer_lines})
        client.close()

    @property
    def client_count(self) -> int:
        with self._lock:
            return len(self._clients)

    def stop(self) -> None:
        self._stopping = True
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            clients, self._clients = self._clients, []
        for client in clients:
            self.metrics.socket_clients.labels(self.feed).dec()
            client.close()
