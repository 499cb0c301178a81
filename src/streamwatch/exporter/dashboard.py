"""The live web dashboard at the exporter's ``/``.

Key concepts:

- **One document, five sections.** ``Dashboard`` reads the exporter's state
  into ``trends`` (newest window's top hashtags with sentiment),
  ``sentiment`` (overall sentiment per window, oldest first), ``orders``
  (purchased / shipped / delivered per minute), ``fraud`` (alerts as they
  arrive, live precision/recall) and ``health`` (Spark queries' progress, the
  pollers' upstreams). ``GET /v1/dashboard`` answers it whole.
- **Server-sent events.** ``GET /v1/dashboard/stream`` sends every section
  once, then each section again whenever its JSON changes. The stream waits on
  the state's change condition, so a change is on the wire as soon as the
  exporter has it; without changes it sends a comment every ``HEARTBEAT``
  seconds so a vanished client is noticed.
- **Built once per change.** The state says which area a change touched
  (``changed_since``); only the sections that area feeds (``FED_BY``) are
  rebuilt, once, and every open stream sends the same bytes. The orders
  section (the largest) is rebuilt only when orders change.
- **One thread per stream.** The exporter is one process on werkzeug's
  threaded server (its state is in memory, so it cannot be split over
  workers); each open stream holds one thread. ``MAX_STREAMS`` bounds them: a
  page turned away (503) polls ``GET /v1/dashboard`` every second instead.
- **Offline.** The page is hand-written HTML, CSS and JavaScript with SVG
  charts, shipped as package data (``static/``); no build step, no CDN. Its
  Content-Security-Policy allows this origin only.

Usage::

    streamwatch exporter --port 7104
    # open http://127.0.0.1:7104/
    curl -N http://127.0.0.1:7104/v1/dashboard/stream
    # retry: 1000
    #
    # id: 3
    # event: trends
    # data: {"window_start":"2026-11-20T10:10:00Z",...,"top":[...]}
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from flask import Blueprint, Response, current_app

from streamwatch.core.http import ApiError
from streamwatch.exporter.state import ExporterState

#: the order of the sections on the wire and in the document
SECTIONS = ("trends", "sentiment", "orders", "fraud", "health")
#: concurrent event streams; each holds a server thread for as long as the page is open
MAX_STREAMS = 16
#: longest pause between two writes to a stream (a comment when nothing changed), so a
#: vanished client is noticed and its thread freed
HEARTBEAT = 15.0
#: browsers reconnect this many milliseconds after a stream drops
RETRY_MS = 1000
#: windows of overall sentiment shown (the state keeps ``--max-windows``)
SENTIMENT_WINDOWS = 60
TOP_HASHTAGS = 10

STATIC = Path(__file__).with_name("static")
ASSETS = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
# Everything the page loads comes from this origin: an asset from elsewhere is blocked,
# so the page cannot quietly depend on a CDN.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
       "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")

#: the orders job's per-minute rows, newest first (``GET /v1/orders``); without a source
#: or rows the page says "no order data yet"
OrdersSource = Callable[[], list[dict[str, Any]] | None]


def _trends(state: ExporterState) -> dict[str, Any] | None:
    windows = state.trends(1)["windows"]
    if not windows:
        return None
    newest = windows[0]
    return {"window_start": newest["window_start"], "window_end": newest["window_end"],
            "top": [{k: row[k] for k in ("hashtag", "count", "rank", "sentiment")}
                    for row in newest["top"][:TOP_HASHTAGS]]}


def _sentiment(state: ExporterState) -> list[dict[str, Any]]:
    return list(reversed(state.trends(SENTIMENT_WINDOWS)["sentiment"]))


#: order statuses drawn as series; the others (cancelled, returned) are listed as totals
CHART_STATUSES = ("purchased", "shipped", "delivered")


def orders_by_minute(rows: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """Per-minute rows ``{minute_start, minute_end, status, orders, units, ...}`` as
    ``{"minutes": [{minute_start, minute_end, <status>: {orders, units, since_purchase_s}}]}``,
    oldest minute first; ``since_purchase_s`` is the time-to-ship (-deliver) percentiles
    ``{p50, p90, p99, n}`` of shipped (delivered) rows, or None.

    Rows broken down by ``category`` or ``region`` are left out: the chart shows the
    per-minute totals.
    """
    if not rows:
        return None
    minutes: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.get("category") is not None or row.get("region") is not None:
            continue
        minute = minutes.setdefault(row["minute_start"], {
            "minute_start": row["minute_start"], "minute_end": row["minute_end"]})
        minute[row["status"]] = {"orders": row["orders"], "units": row["units"],
                                 "since_purchase_s": row.get("since_purchase_s")}
    if not minutes:
        return None
    return {"statuses": list(CHART_STATUSES),
            "minutes": [minutes[k] for k in sorted(minutes)]}


def _fraud(state: ExporterState, quality: dict[str, Any]) -> dict[str, Any]:
    return {"alerts": state.recent_alerts(), "alerts_total": quality["alerts_total"],
            "alerts_by_rule": quality["alerts_by_rule"], "overall": quality["overall"],
            "by_scenario": quality["by_scenario"], "labels_read": quality["labels_read"]}


def _health(state: ExporterState, quality: dict[str, Any],
            upstreams: dict[str, str | None]) -> dict[str, Any]:
    pollers = {name: {**status, "url": upstreams.get(name)}
               for name, status in quality["pollers"].items()}
    queries = [{k: q[k] for k in ("query", "batch_id", "timestamp", "input_rows_total",
                                  "input_rows_per_second", "processed_rows_per_second",
                                  "batch_duration_seconds", "watermark_delay_seconds",
                                  "state_rows")}
               for q in state.progress()]
    return {"queries": queries, "pollers": pollers}


#: the sections each area of the exporter's state feeds; a change to an area not listed
#: here (``ANY``: a change held elsewhere, such as the orders store) rebuilds them all
FED_BY: dict[str, tuple[str, ...]] = {
    "trends": ("trends", "sentiment"), "progress": ("health",), "pollers": ("health",),
    "alerts": ("fraud",), "quality": ("fraud",), "labels": ("fraud",),
    "orders": ("orders",)}


class Dashboard:
    """Builds the sections of one exporter, each once per change however many pages
    watch, and counts the open streams."""

    def __init__(self, state: ExporterState, upstreams: dict[str, str | None],
                 orders: OrdersSource | None = None) -> None:
        self.state = state
        self.upstreams = upstreams
        self.orders = orders
        self._streams = threading.BoundedSemaphore(MAX_STREAMS)
        self._lock = threading.Lock()
        self._encoded: dict[str, bytes] = {}
        self._built_at: int | None = None  # the state version the encoded sections show

    def _build(self, name: str) -> Any:
        if name == "trends":
            return _trends(self.state)
        if name == "sentiment":
            return _sentiment(self.state)
        if name == "orders":
            return orders_by_minute(self.orders()) if self.orders is not None else None
        if name == "fraud":
            return _fraud(self.state, self.state.quality())
        return _health(self.state, self.state.quality(), self.upstreams)

    def encoded(self) -> tuple[int, dict[str, bytes]]:
        """The state version and every section as JSON, rebuilding only the sections
        whose areas changed since the last build."""
        with self._lock:
            # read before building: a change during the build is rebuilt next time
            version = self.state.version
            if self._built_at is None:
                dirty: set[str] = set(SECTIONS)
            else:
                areas = self.state.changed_since(self._built_at)
                dirty = {name for area in areas for name in FED_BY.get(area, SECTIONS)}
            for name in dirty:
                self._encoded[name] = orjson.dumps(self._build(name))
            self._built_at = version
            return version, dict(self._encoded)

    def document(self) -> bytes:
        version, encoded = self.encoded()
        parts = [b'"version":%d' % version]
        parts += [b'"%s":%s' % (name.encode(), encoded[name]) for name in SECTIONS]
        return b"{" + b",".join(parts) + b"}"

    def events(self) -> Iterator[bytes]:
        """The event stream of one client; ends when the state is closed."""
        yield f"retry: {RETRY_MS}\n\n".encode()
        sent: dict[str, bytes] = {}
        while True:
            version, encoded = self.encoded()
            out = []
            for name in SECTIONS:
                if sent.get(name) != encoded[name]:
                    sent[name] = encoded[name]
                    out.append(b"id: %d\nevent: %s\ndata: %s\n\n"
                               % (version, name.encode(), encoded[name]))
            yield b"".join(out) if out else b": keep-alive\n\n"
            if self.state.wait_for_change(version, HEARTBEAT) is None:
                return

    def stream(self) -> Response:
        if not self._streams.acquire(blocking=False):
            raise ApiError(503, f"more than {MAX_STREAMS} dashboard streams are open; "
                           "poll GET /v1/dashboard instead")
        response = Response(self.events(), mimetype="text/event-stream",
                            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        # the server closes the response when the client goes or the stream ends, also
        # when it never started iterating it
        response.call_on_close(self._streams.release)
        return response


EXTENSION = "streamwatch.exporter.dashboard"
ui = Blueprint("dashboard", __name__)


def _dashboard() -> Dashboard:
    api: Dashboard = current_app.extensions[EXTENSION]
    return api


def _static(name: str) -> bytes:
    return (STATIC / name).read_bytes()


@ui.get("/")
def index() -> Response:
    return Response(_static("index.html"), mimetype="text/html",
                    headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
                             "X-Content-Type-Options": "nosniff"})


@ui.get("/ui/<asset>")
def asset(asset: str) -> Response:
    if asset not in ASSETS:
        raise ApiError(404, f"no asset {asset!r}; the dashboard has {sorted(ASSETS)}", "asset")
    return Response(_static(asset), mimetype=ASSETS[asset],
                    headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


@ui.get("/v1/dashboard")
def document() -> Response:
    return Response(_dashboard().document(), mimetype="application/json")


@ui.get("/v1/dashboard/stream")
def stream() -> Response:
    return _dashboard().stream()
