"""The exporter's in-memory state: latest progress per query, trends, alerts, quality.

One lock guards everything and is held only for dictionary updates and copies,
so HTTP handlers, the ``/metrics`` collector and the pollers never wait on each
other for long. The quality report is computed by the pollers after each change
and cached, because ``QualityTracker.report()`` walks every alert.

Every change bumps ``version``, notes which area of the state it touched
(``changed_since``) and wakes ``wait_for_change`` (a condition on the same
lock): the web dashboard's event streams push what changed at once instead of
polling, and rebuild only the sections fed by the areas that changed.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from streamwatch.contracts.events import SEVERITIES
from streamwatch.exporter.detection import DelayHistogram, delay_seconds
from streamwatch.exporter.progress import FRAUD_FIELDS, ProgressSample
from streamwatch.exporter.trends import SentimentRow, TrendRow, TrendStore
from streamwatch.quality.incidents import QualityTracker

# Micro-batch durations: sub-second local batches up to multi-minute stalls.
DURATION_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)
# Rule names come from a YAML file users edit; past this many (rule, severity)
# pairs new rules are counted under rule="other" to keep the label set bounded.
MAX_ALERT_SERIES = 64
OTHER_RULE = "other"
POLLERS = ("alerts", "labels")
ENDPOINTS = ("progress", "trends", "orders")
# The dashboard lists the newest alerts as they arrive; older ones are in the alerting service.
RECENT_ALERTS = 50
#: what a change touched (``changed_since``); ANY: not said (a change held elsewhere)
AREAS = ("progress", "trends", "alerts", "quality", "labels", "pollers", "orders")
ANY = "*"


@dataclass
class QueryStats:
    last: ProgressSample
    input_rows_total: int = 0
    # Per-bucket (not cumulative) counts; the last slot is +Inf.
    buckets: list[int] = field(default_factory=lambda: [0] * (len(DURATION_BUCKETS) + 1))
    duration_sum: float = 0.0
    duration_count: int = 0
    touched: float = 0.0
    #: latest non-null ``observedMetrics.fraud`` figures (a batch without rows reports nulls)
    fraud: dict[str, int] = field(default_factory=dict)

    def cumulative_buckets(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for bound, count in zip((*DURATION_BUCKETS, float("inf")), self.buckets, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return out


@dataclass
class PollerStatus:
    polls: int = 0
    errors: int = 0
    last_success: float | None = None
    last_error: str | None = None


@dataclass
class Snapshot:
    """A consistent copy of the state for one scrape or one JSON answer."""

    queries: dict[str, QueryStats]
    top: list[TrendRow]
    sentiment: SentimentRow | None
    alerts: dict[tuple[str, str], int]
    quality: dict[str, Any] | None
    progress_events: int
    duplicate_progress_events: int
    trend_rows: int
    rejected: dict[str, int]
    pollers: dict[str, PollerStatus]
    labels_read: int
    #: rule -> detection delay of its alerts (``detection.py``)
    detection_delay: dict[str, DelayHistogram] = field(default_factory=dict)


_ALERT_FIELDS = ("alert_id", "rule", "severity", "score", "card_id", "event_time",
                 "detected_at", "reason")


def _alert_summary(alert: Mapping[str, Any]) -> dict[str, Any]:
    # what the dashboard lists of an alert; txn_ids can be long and are not shown
    return {name: alert.get(name) for name in _ALERT_FIELDS}


class ExporterState:
    def __init__(self, *, top_n: int, max_windows: int, max_rows_per_window: int,
                 max_queries: int, quality_max_incidents: int | None = None,
                 quality_max_alerts: int | None = None) -> None:
        self.top_n = top_n
        self.max_queries = max_queries
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._version = 0
        self._area_versions: dict[str, int] = {}
        self._closed = False
        self._queries: dict[str, QueryStats] = {}
        self._trends = TrendStore(max_windows, max_rows_per_window)
        self._alerts: dict[tuple[str, str], int] = {}
        self._delays: dict[str, DelayHistogram] = {}
        # ids of the alerts seen, oldest first, bounded like the tracker's alerts: the
        # poller pages by cursor, so a repeat comes only from a restart or an overlap
        self._alert_ids: OrderedDict[str, None] = OrderedDict()
        self._recent_alerts: deque[dict[str, Any]] = deque(maxlen=RECENT_ALERTS)
        self._max_alert_ids = quality_max_alerts
        self._progress_events = 0
        self._duplicates = 0
        self._trend_rows = 0
        self._rejected = dict.fromkeys(ENDPOINTS, 0)
        self._pollers = {name: PollerStatus() for name in POLLERS}
        self._labels_read = 0
        self._quality_lock = threading.Lock()
        self._tracker = QualityTracker(max_incidents=quality_max_incidents,
                                       max_alerts=quality_max_alerts)
        self._quality: dict[str, Any] | None = None

    # -- change notification ------------------------------------------------
    def _bump(self, *areas: str) -> None:
        """Called with the lock held after every change to ``areas`` (none: any area)."""
        self._version += 1
        for area in areas or (ANY,):
            self._area_versions[area] = self._version
        self._changed.notify_all()

    def changed_since(self, version: int) -> set[str]:
        """Areas changed after ``version``; ``ANY`` among them when a change did not say."""
        with self._lock:
            return {area for area, v in self._area_versions.items() if v > version}

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def wait_for_change(self, since: int, timeout: float) -> int | None:
        """The version once it differs from ``since`` (or at ``timeout``); None once closed."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != since or self._closed, timeout)
            return None if self._closed else self._version

    def changed(self, area: str = ANY) -> None:
        """Note a change held elsewhere (the orders store: area ``orders``) and wake
        ``wait_for_change``."""
        with self._lock:
            self._bump(area)

    def close(self) -> None:
        """Release every ``wait_for_change`` for good (the exporter is stopping)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    # -- progress -------------------------------------------------------------
    def record_progress(self, sample: ProgressSample) -> bool:
        """Apply one progress event; False when it repeats the last one (a retried POST)."""
        with self._lock:
            stats = self._queries.get(sample.query)
            if stats is not None and (
                (stats.last.run_id, stats.last.batch_id, stats.last.timestamp)
                == (sample.run_id, sample.batch_id, sample.timestamp)
            ):
                self._duplicates += 1
                return False
            if stats is None:
                self._evict_queries()
                stats = self._queries[sample.query] = QueryStats(last=sample)
            stats.last = sample
            stats.touched = time.monotonic()
            stats.input_rows_total += sample.num_input_rows
            if sample.batch_duration_seconds is not None:
                slot = bisect.bisect_left(DURATION_BUCKETS, sample.batch_duration_seconds)
                stats.buckets[slot] += 1
                stats.duration_sum += sample.batch_duration_seconds
                stats.duration_count += 1
            if sample.fraud is not None:
                for name in FRAUD_FIELDS:
                    value = getattr(sample.fraud, name)
                    if value is not None:
                        stats.fraud[name] = value
            self._progress_events += 1
            self._bump("progress")
            return True

    def _evict_queries(self) -> None:
        # Called with the lock held, before adding a query: drop the stalest.
        while len(self._queries) >= self.max_queries:
            stalest = min(self._queries, key=lambda q: self._queries[q].touched)
            del self._queries[stalest]

    # -- trends ---------------------------------------------------------------
    def record_trends(self, trends: list[TrendRow], sentiment: list[SentimentRow]) -> None:
        with self._lock:
            self._trends.apply(trends, sentiment)
            self._trend_rows += len(trends) + len(sentiment)
            self._bump("trends")

    def trends(self, limit: int | None) -> dict[str, Any]:
        with self._lock:
            return {"windows": self._trends.windows(limit),
                    "sentiment": self._trends.sentiment(limit)}

    def record_rejected(self, endpoint: str) -> None:
        with self._lock:
            self._rejected[endpoint] += 1

    # -- pollers --------------------------------------------------------------
    def record_poll(self, poller: str, error: str | None = None) -> None:
        with self._lock:
            status = self._pollers[poller]
            status.polls += 1
            if error is None:
                status.last_success = time.time()
            else:
                status.errors += 1
                status.last_error = error
            self._bump("pollers")

    def record_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> int:
        """Count new alerts by rule and severity and feed them to the quality tracker."""
        fresh = []
        with self._lock:
            for alert in alerts:
                alert_id = str(alert["alert_id"])
                if alert_id in self._alert_ids:
                    continue
                self._alert_ids[alert_id] = None
                if self._max_alert_ids and len(self._alert_ids) > self._max_alert_ids:
                    self._alert_ids.popitem(last=False)
                fresh.append(alert)
                self._recent_alerts.appendleft(_alert_summary(alert))
                severity = str(alert.get("severity"))
                key = (str(alert["rule"]), severity if severity in SEVERITIES else "unknown")
                if key not in self._alerts and len(self._alerts) >= MAX_ALERT_SERIES:
                    key = (OTHER_RULE, key[1])
                self._alerts[key] = self._alerts.get(key, 0) + 1
                delay = delay_seconds(alert)
                if delay is not None:
                    self._delays.setdefault(key[0], DelayHistogram()).observe(delay)
            if fresh:
                self._bump("alerts")
        if fresh:
            with self._quality_lock:
                self._tracker.add_alerts(fresh)
                self._refresh_quality()
        return len(fresh)

    def record_labels(self, labels: list[Mapping[str, Any]]) -> None:
        with self._quality_lock:
            self._tracker.add_labels(labels)
            self._refresh_quality()
        with self._lock:
            self._labels_read += len(labels)
            self._bump("labels")

    def _refresh_quality(self) -> None:
        report = self._tracker.report()
        with self._lock:
            self._quality = report
            self._bump("quality")

    def quality(self) -> dict[str, Any]:
        """The cached quality report, with the state of both pollers."""
        with self._lock:
            report = self._quality
            pollers = {name: vars(status).copy() for name, status in self._pollers.items()}
            by_rule: dict[str, int] = {}
            for (rule, _severity), n in self._alerts.items():
                by_rule[rule] = by_rule.get(rule, 0) + n
            labels_read = self._labels_read
        if report is None:
            with self._quality_lock:
                report = self._tracker.report()
        return {**report, "alerts_by_rule": by_rule, "alerts_total": sum(by_rule.values()),
                "labels_read": labels_read, "pollers": pollers}

    def recent_alerts(self) -> list[dict[str, Any]]:
        """The newest alerts first, at most ``RECENT_ALERTS``."""
        with self._lock:
            return list(self._recent_alerts)

    # -- reading --------------------------------------------------------------
    def progress(self) -> list[dict[str, Any]]:
        """Latest figures per query, for the live view."""
        with self._lock:
            items = sorted(self._queries.items())
            return [{
                "query": name, "id": s.last.query_id, "run_id": s.last.run_id,
                "batch_id": s.last.batch_id, "timestamp": s.last.timestamp,
                "input_rows_total": s.input_rows_total,
                "num_input_rows": s.last.num_input_rows,
                "input_rows_per_second": s.last.input_rows_per_second,
                "processed_rows_per_second": s.last.processed_rows_per_second,
                "batch_duration_seconds": s.last.batch_duration_seconds,
                "watermark_delay_seconds": s.last.watermark_delay_seconds,
                "state_rows": s.last.state_rows,
                "state_memory_bytes": s.last.state_memory_bytes,
            } for name, s in items]

    def snapshot(self) -> Snapshot:
        with self._lock:
            return Snapshot(
                queries={q: QueryStats(s.last, s.input_rows_total, list(s.buckets),
                                       s.duration_sum, s.duration_count, s.touched,
                                       dict(s.fraud))
                         for q, s in self._queries.items()},
                top=self._trends.current_top(self.top_n),
                sentiment=self._trends.current_sentiment(),
                alerts=dict(self._alerts),
                quality=self._quality,
                progress_events=self._progress_events,
                duplicate_progress_events=self._duplicates,
                trend_rows=self._trend_rows,
                rejected=dict(self._rejected),
                pollers={n: PollerStatus(**vars(s)) for n, s in self._pollers.items()},
                labels_read=self._labels_read,
                detection_delay={r: h.copy() for r, h in self._delays.items()},
            )
