"""Orders per minute: the orders job's final rows, kept bounded, served and exported.

Key concepts:

- **Rows.** The orders job (``streamwatch process orders``) writes one row per
  event-time minute and status once the minute is final, plus the same minute
  broken down by ``category`` and by ``region`` (docs/architecture.md,
  "Orders per minute")::

      {"minute_start": "2026-11-20T10:15:00Z", "minute_end": "2026-11-20T10:16:00Z",
       "status": "shipped", "category": null, "region": null, "orders": 120,
       "units": 311, "since_purchase_s": {"p50": 21.4, "p90": 40.2, "p99": 58.0, "n": 117}}

  It POSTs them to ``/v1/orders`` as ``{"orders": [rows], "late_events_total": n}``;
  ``late_events_total`` is the job's running count of events that arrived after
  their minute was final (they are dead-lettered, not counted).
- **Replays are harmless.** A row replaces the row of the same minute, status,
  category and region, so a batch the job replays after a crash changes nothing,
  and the totals per status count each minute once.
- **Bounded.** The newest ``MAX_MINUTES`` minutes are kept, and per minute and
  status at most ``MAX_BREAKDOWN`` categories and regions (the job's
  vocabularies are small; a flood of invented names cannot grow memory).
- ``GET /v1/orders`` answers the rows newest minute first; the web dashboard
  reads the same rows (``OrdersStore.rows``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app
from prometheus_client.core import Metric
from prometheus_client.registry import CollectorRegistry

from streamwatch.contracts.events import ORDER_STATUSES
from streamwatch.contracts.orders import QUANTILES, OrdersBody
from streamwatch.contracts.times import parse_ts
from streamwatch.core.http import ApiError, json_body, json_response, query_int, require_bearer
from streamwatch.exporter.metric_specs import CatalogueCollector, MetricSpec, catalogue
from streamwatch.exporter.validation import ValidationError, validate

STATUSES = ORDER_STATUSES
MAX_MINUTES = 180
MAX_BREAKDOWN = 64

# (minute start, status, category, region); category and region are "" on total rows
Key = tuple[float, str, str, str]


@dataclass(frozen=True)
class OrderRow:
    minute_start: str
    minute_end: str
    start: float
    status: str
    category: str | None
    region: str | None
    orders: int
    units: int
    since_purchase_s: dict[str, float | int] | None

    @property
    def key(self) -> Key:
        return (self.start, self.status, self.category or "", self.region or "")

    @property
    def is_total(self) -> bool:
        return self.category is None and self.region is None

    def to_dict(self) -> dict[str, Any]:
        return {"minute_start": self.minute_start, "minute_end": self.minute_end,
                "status": self.status, "category": self.category, "region": self.region,
                "orders": self.orders, "units": self.units,
                "since_purchase_s": self.since_purchase_s}


def parse_orders(body: Any) -> tuple[list[OrderRow], int | None]:
    """Validate a ``POST /v1/orders`` body whole; raise ``ValidationError`` naming the field."""
    doc = validate(OrdersBody, body)
    rows = [OrderRow(r.minute_start, r.minute_end, parse_ts(r.minute_start).timestamp(),
                     r.status, r.category, r.region, r.orders, r.units,
                     None if r.since_purchase_s is None else r.since_purchase_s.model_dump())
            for r in doc.orders]
    return rows, doc.late_events_total


class OrdersStore:
    """The newest minutes of order rows; thread-safe. ``on_change`` runs after each change."""

    def __init__(self, max_minutes: int = MAX_MINUTES, max_breakdown: int = MAX_BREAKDOWN,
                 on_change: Callable[[], None] | None = None) -> None:
        self.max_minutes = max_minutes
        self.max_breakdown = max_breakdown
        self.on_change = on_change
        self._lock = threading.Lock()
        self._rows: dict[Key, OrderRow] = {}
        self._minutes: set[float] = set()
        self._breakdown: dict[tuple[float, str], int] = {}
        self._orders_total = dict.fromkeys(STATUSES, 0)
        self._units_total = dict.fromkeys(STATUSES, 0)
        self._late_total: int | None = None
        self._rows_accepted = 0
        self._rows_dropped = 0

    def apply(self, rows: list[OrderRow], late_events_total: int | None) -> None:
        with self._lock:
            for row in rows:
                self._put(row)
            if late_events_total is not None:
                self._late_total = late_events_total
            self._evict()
        if self.on_change is not None:
            self.on_change()

    def _put(self, row: OrderRow) -> None:
        if (self._minutes and row.start not in self._minutes
                and len(self._minutes) >= self.max_minutes and row.start < min(self._minutes)):
            self._rows_dropped += 1  # older than every minute kept: it would go at once
            return
        old = self._rows.get(row.key)
        if old is None and not row.is_total:
            slot = (row.start, row.status)
            if self._breakdown.get(slot, 0) >= self.max_breakdown:
                self._rows_dropped += 1
                return
            self._breakdown[slot] = self._breakdown.get(slot, 0) + 1
        if row.is_total:
            self._orders_total[row.status] += row.orders - (old.orders if old else 0)
            self._units_total[row.status] += row.units - (old.units if old else 0)
        self._rows[row.key] = row
        self._minutes.add(row.start)
        self._rows_accepted += 1

    def _evict(self) -> None:
        if len(self._minutes) <= self.max_minutes:
            return
        keep = set(sorted(self._minutes)[-self.max_minutes:])
        for key in [k for k in self._rows if k[0] not in keep]:
            del self._rows[key]
        self._breakdown = {k: v for k, v in self._breakdown.items() if k[0] in keep}
        self._minutes = keep

    def rows(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Rows of the ``limit`` newest minutes, newest minute first; within a minute
        by status, then totals before categories before regions."""
        with self._lock:
            starts = set(sorted(self._minutes, reverse=True)[:limit])
            chosen = [r for k, r in self._rows.items() if k[0] in starts]
        order = {s: i for i, s in enumerate(STATUSES)}
        chosen.sort(key=lambda r: (-r.start, order[r.status], r.region is not None,
                                   r.category is not None, r.category or "", r.region or ""))
        return [r.to_dict() for r in chosen]

    def snapshot(self) -> dict[str, Any]:
        """Figures for ``/metrics``: the newest minute's totals and the running counts."""
        with self._lock:
            newest = max(self._minutes) if self._minutes else None
            latest: dict[str, OrderRow] = {}
            for (start, status, category, region), row in self._rows.items():
                if start == newest and not category and not region:
                    latest[status] = row
            timed: dict[str, OrderRow] = {}
            for row in self._rows.values():
                if row.is_total and row.since_purchase_s is not None and (
                        row.status not in timed or row.start > timed[row.status].start):
                    timed[row.status] = row
            return {"newest": newest, "latest": latest, "timed": timed,
                    "orders_total": dict(self._orders_total),
                    "units_total": dict(self._units_total), "late_total": self._late_total,
                    "rows_accepted": self._rows_accepted, "rows_dropped": self._rows_dropped}


#: the catalogue ``/metrics`` exposes for orders
METRICS: dict[str, MetricSpec] = catalogue((
    MetricSpec("streamwatch_orders_minute_orders", "gauge",
               "Order events of the status in the newest final event-time minute "
               "(each event_id once).", ("status",)),
    MetricSpec("streamwatch_orders_minute_units", "gauge",
               "Units (sum of item quantities) of the status in the newest final minute.",
               ("status",)),
    MetricSpec("streamwatch_orders_minute_start_timestamp_seconds", "gauge",
               "Start of the newest final orders minute, Unix seconds."),
    MetricSpec("streamwatch_orders_since_purchase_seconds", "gauge",
               "Event time from purchase to this status (time to ship, to deliver, ...) in "
               "the newest minute that had any, by quantile.", ("status", "quantile")),
    MetricSpec("streamwatch_orders_total", "counter",
               "Order events counted in final minutes since the exporter started.",
               ("status",)),
    MetricSpec("streamwatch_orders_units_total", "counter",
               "Units counted in final minutes since the exporter started.", ("status",)),
    MetricSpec("streamwatch_orders_late_events_total", "counter",
               "Order events that arrived after their minute was final (dead-lettered "
               "by the job), as the job last reported."),
    MetricSpec("streamwatch_orders_rows_total", "counter",
               "Order rows accepted (replayed rows included)."),
    MetricSpec("streamwatch_orders_rows_dropped_total", "counter",
               "Order rows not kept: older than every minute kept, or past the "
               "breakdown bound of their minute."),
))


class OrdersCollector(CatalogueCollector):
    """Exposes an ``OrdersStore``; registers itself on ``registry`` when given one."""

    specs = METRICS

    def __init__(self, store: OrdersStore, registry: CollectorRegistry | None = None) -> None:
        self.store = store
        super().__init__(registry)

    def collect(self) -> Iterator[Metric]:
        snap = self.store.snapshot()
        fams = self.families()
        for status, row in sorted(snap["latest"].items()):
            fams["streamwatch_orders_minute_orders"].add_metric([status], row.orders)
            fams["streamwatch_orders_minute_units"].add_metric([status], row.units)
        if snap["newest"] is not None:
            fams["streamwatch_orders_minute_start_timestamp_seconds"].add_metric(
                [], snap["newest"])
        for status, row in sorted(snap["timed"].items()):
            for q in QUANTILES:
                fams["streamwatch_orders_since_purchase_seconds"].add_metric(
                    [status, q], row.since_purchase_s[q])
        for status in STATUSES:
            fams["streamwatch_orders_total"].add_metric([status], snap["orders_total"][status])
            fams["streamwatch_orders_units_total"].add_metric(
                [status], snap["units_total"][status])
        if snap["late_total"] is not None:
            fams["streamwatch_orders_late_events_total"].add_metric([], snap["late_total"])
        fams["streamwatch_orders_rows_total"].add_metric([], snap["rows_accepted"])
        fams["streamwatch_orders_rows_dropped_total"].add_metric([], snap["rows_dropped"])
        yield from fams.values()


EXTENSION = "streamwatch.exporter.orders"
api = Blueprint("orders_api", __name__)


@dataclass
class OrdersApi:
    """What the routes need: the store, the ingest token, the body limit, a reject hook."""

    store: OrdersStore
    ingest_token: str
    max_body_bytes: int
    on_reject: Callable[[], None]


def _api() -> OrdersApi:
    api: OrdersApi = current_app.extensions[EXTENSION]
    return api


@api.post("/v1/orders")
def post_orders() -> Response:
    orders = _api()
    require_bearer(orders.ingest_token, "ingest token")
    try:
        rows, late = parse_orders(json_body(orders.max_body_bytes))
    except ValidationError as exc:
        orders.on_reject()
        raise ApiError(400, exc.message, exc.field) from None
    except ApiError:
        orders.on_reject()
        raise
    orders.store.apply(rows, late)
    return json_response({"orders": len(rows)}, 202)


@api.get("/v1/orders")
def get_orders() -> Response:
    limit = query_int("limit", minimum=1)
    snap = _api().store.snapshot()
    return json_response({"orders": _api().store.rows(limit),
                          "late_events_total": snap["late_total"]})
