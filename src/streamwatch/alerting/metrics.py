"""Prometheus metrics of the alerting service, on the app's own registry.

Counters and the latency histogram are process-local; the outbox depth and the
subscription counts are read from the database at scrape time, so every replica
reports the same shared figures.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streamwatch.alerting.store import SqlStore
from streamwatch.alerting.store.models import OUTCOMES

log = logging.getLogger(__name__)

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class StoreCollector(Collector):
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            depth = self._store.outbox_depth()
            counts = self._store.subscription_counts()
        except Exception:  # a scrape must not fail because the database blinked
            log.warning("could not read outbox metrics", exc_info=True)
            return
        yield GaugeMetricFamily("streamwatch_webhook_outbox_depth",
                                "Webhook deliveries waiting in the outbox (pending messages).",
                                value=depth)
        subs = GaugeMetricFamily("streamwatch_webhook_subscriptions",
                                 "Webhook subscriptions by state.", labels=["state"])
        for state, n in sorted(counts.items()):
            subs.add_metric([state], n)
        yield subs


class AlertingMetrics:
    def __init__(self, registry: CollectorRegistry, store: SqlStore) -> None:
        self.alerts_received = Counter(
            "streamwatch_alerts_received_total",
            "Valid alerts received on POST /v1/alerts, duplicates included.",
            registry=registry)
        self.alerts_deduplicated = Counter(
            "streamwatch_alerts_deduplicated_total",
            "Received alerts whose alert_id was already stored.", registry=registry)
        self.deliveries = Counter(
            "streamwatch_webhook_deliveries_total",
            "Webhook delivery attempts by outcome (delivered, retrying, dead, or failed: "
            "the subscription was disabled and the message parked).",
            ["outcome"], registry=registry)
        for outcome in OUTCOMES:
            self.deliveries.labels(outcome)
        self.delivery_duration = Histogram(
            "streamwatch_webhook_delivery_duration_seconds",
            "Duration of one webhook delivery attempt.", buckets=_LATENCY_BUCKETS,
            registry=registry)
        registry.register(StoreCollector(store))
