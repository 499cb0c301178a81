"""What the live view shows, read from the services' own HTTP APIs.

Everything here is read-only and tolerant: a service that is down or slow
shows as unhealthy, it never stops the view.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import requests

TIMEOUT = 1.5


@dataclass(frozen=True)
class Endpoints:
    tweets: str
    txns: str
    alerting: str
    exporter: str
    orders: str | None = None

    def services(self) -> dict[str, str]:
        out = {"tweet-ingester": self.tweets, "txn-simulator": self.txns}
        if self.orders is not None:
            out["order-simulator"] = self.orders
        return {**out, "alerting": self.alerting, "metrics-exporter": self.exporter}

    def feeds(self) -> list[str]:
        return [u for u in (self.tweets, self.txns, self.orders) if u is not None]


@dataclass
class Snapshot:
    at: float
    health: dict[str, bool] = field(default_factory=dict)
    feed_latest: dict[str, int] = field(default_factory=dict)
    feed_rate: dict[str, float] = field(default_factory=dict)
    window: dict[str, Any] | None = None
    alerts_by_rule: dict[str, float] = field(default_factory=dict)
    quality: dict[str, Any] | None = None
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the newest final minute of orders: status -> orders (``GET /v1/orders?limit=1``)
    orders_minute: str | None = None
    orders: dict[str, int] = field(default_factory=dict)


def _get(url: str) -> requests.Response | None:
    try:
        r = requests.get(url, timeout=TIMEOUT)
    except requests.RequestException:
        return None
    return r


class StatusReader:
    """Polls the services; rates are derived from successive snapshots."""

    def __init__(self, endpoints: Endpoints) -> None:
        self.endpoints = endpoints
        self._previous: Snapshot | None = None

    def read(self) -> Snapshot:
        snap = Snapshot(at=time.monotonic())
        for name, base in self.endpoints.services().items():
            r = _get(f"{base}/readyz")
            snap.health[name] = r is not None and r.ok
        for base in self.endpoints.feeds():
            r = _get(f"{base}/v1/feeds")
            if r is not None and r.ok:
                for feed in r.json().get("feeds", []):
                    snap.feed_latest[feed["name"]] = int(feed["latest"])
        prev = self._previous
        if prev is not None and snap.at > prev.at:
            for feed, latest in snap.feed_latest.items():
                if feed in prev.feed_latest:
                    snap.feed_rate[feed] = (latest - prev.feed_latest[feed]) / (snap.at - prev.at)
        r = _get(f"{self.endpoints.exporter}/v1/trends?limit=1")
        if r is not None and r.ok:
            windows = r.json().get("windows") or []
            snap.window = windows[0] if windows else None
        r = _get(f"{self.endpoints.exporter}/v1/orders?limit=1")
        if r is not None and r.ok:
            for row in r.json().get("orders") or []:
                if row.get("category") is None and row.get("region") is None:
                    snap.orders_minute = row.get("minute_start")
                    snap.orders[str(row.get("status"))] = int(row.get("orders") or 0)
        r = _get(f"{self.endpoints.exporter}/v1/quality")
        if r is not None and r.ok:
            snap.quality = r.json()
            snap.alerts_by_rule = {str(k): float(v) for k, v in
                                   (snap.quality.get("alerts_by_rule") or {}).items()}
        r = _get(f"{self.endpoints.exporter}/v1/progress")
        if r is not None and r.ok:
            for q in r.json().get("queries", []):
                snap.queries[str(q.get("query"))] = {
                    "input_rps": q.get("input_rows_per_second"),
                    "processed_rps": q.get("processed_rows_per_second"),
                    "batch_seconds": q.get("batch_duration_seconds"),
                    "watermark_delay": q.get("watermark_delay_seconds"),
                }
        self._previous = snap
        return snap
