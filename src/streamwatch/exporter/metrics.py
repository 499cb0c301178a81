"""The Prometheus collector: every exporter metric, built from one state snapshot per scrape.

A catalogue collector (``metric_specs``) rather than long-lived ``Gauge`` objects,
so the exposed label sets are exactly the current state: a hashtag that leaves
the top-N, or a query evicted from the bounded set, disappears from ``/metrics``
instead of lingering at its last value. ``METRICS`` is the catalogue.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import Metric
from prometheus_client.registry import CollectorRegistry

from streamwatch.exporter.metric_specs import CatalogueCollector, MetricSpec, catalogue, family
from streamwatch.exporter.state import ENDPOINTS, POLLERS, ExporterState, Snapshot

if TYPE_CHECKING:
    from streamwatch.exporter.metric_specs import Family


_SPECS = (
    # per streaming query (label bounded by --max-queries)
    MetricSpec("streamwatch_query_input_rows_per_second", "gauge",
               "Rate at which rows arrived, over the last trigger.", ("query",)),
    MetricSpec("streamwatch_query_processed_rows_per_second", "gauge",
               "Rate at which Spark processed rows, over the last trigger.", ("query",)),
    MetricSpec("streamwatch_query_input_rows_total", "counter",
               "Rows read by the query since the exporter started.", ("query",)),
    MetricSpec("streamwatch_query_batch_duration_seconds", "histogram",
               "Wall time of each trigger (durationMs.triggerExecution).", ("query",)),
    MetricSpec("streamwatch_query_last_batch_id", "gauge",
               "Id of the latest micro-batch reported.", ("query",)),
    MetricSpec("streamwatch_query_last_progress_timestamp_seconds", "gauge",
               "Start time of the latest reported trigger, Unix seconds.", ("query",)),
    MetricSpec("streamwatch_query_state_rows", "gauge",
               "Rows held in state by all stateful operators of the query.", ("query",)),
    MetricSpec("streamwatch_query_state_memory_bytes", "gauge",
               "Memory used by the query's state stores.", ("query",)),
    MetricSpec("streamwatch_query_watermark_delay_seconds", "gauge",
               "Trigger time minus event-time watermark.", ("query",)),
    # hashtag trends (hashtag label bounded by --top-n)
    MetricSpec("streamwatch_trend_hashtag_tweets", "gauge",
               "Tweets containing the hashtag in the newest window (top-N only).",
               ("hashtag", "rank")),
    MetricSpec("streamwatch_trend_hashtag_sentiment", "gauge",
               "Mean VADER compound sentiment of the hashtag in the newest window (top-N only).",
               ("hashtag", "rank")),
    MetricSpec("streamwatch_trend_sentiment", "gauge",
               "Mean VADER compound sentiment of all tweets in the newest window."),
    MetricSpec("streamwatch_trend_window_tweets", "gauge",
               "Tweets in the newest sentiment window."),
    MetricSpec("streamwatch_trend_window_start_timestamp_seconds", "gauge",
               "Start of the newest trends window, Unix seconds."),
    # fraud alerts and quality
    MetricSpec("streamwatch_fraud_alerts_total", "counter",
               "Fraud alerts read from the alerting service.", ("rule", "severity")),
    MetricSpec("streamwatch_fraud_detection_delay_seconds", "histogram",
               "Alert detected_at minus its event_time, per rule.", ("rule",)),
    MetricSpec("streamwatch_fraud_precision_ratio", "gauge",
               "Share of alerts that name a labelled fraud of their scenario "
               "(scenario=\"all\": any fraud).", ("scenario",)),
    MetricSpec("streamwatch_fraud_recall_ratio", "gauge",
               "Share of labelled fraud incidents detected.", ("scenario",)),
    MetricSpec("streamwatch_fraud_f1_ratio", "gauge",
               "Harmonic mean of precision and recall.", ("scenario",)),
    MetricSpec("streamwatch_fraud_incidents", "gauge",
               "Labelled fraud incidents seen so far.", ("scenario",)),
    MetricSpec("streamwatch_fraud_incidents_detected", "gauge",
               "Labelled fraud incidents named by at least one alert.", ("scenario",)),
    # fraud job figures (observedMetrics.fraud of the query's progress events)
    MetricSpec("streamwatch_fraud_rules_version", "gauge",
               "Version of the fraud rules in force (1 at start, +1 per valid reload).",
               ("query",)),
    MetricSpec("streamwatch_fraud_rules_reload_errors_total", "counter",
               "Invalid rules-file edits rejected by the fraud job since it started "
               "(the previous rules stay in force).", ("query",)),
    MetricSpec("streamwatch_fraud_cards_in_state", "gauge",
               "Cards whose profiles the fraud job keeps, in the buckets that saw data "
               "in the latest batch with rows.", ("query",)),
    # the exporter itself
    MetricSpec("streamwatch_exporter_progress_events_total", "counter",
               "Progress events accepted (retried duplicates excluded)."),
    MetricSpec("streamwatch_exporter_duplicate_progress_events_total", "counter",
               "Progress events ignored because they repeated the previous one."),
    MetricSpec("streamwatch_exporter_trend_rows_total", "counter",
               "Trend and sentiment rows accepted."),
    MetricSpec("streamwatch_exporter_rejected_posts_total", "counter",
               "POST bodies rejected as malformed.", ("endpoint",)),
    MetricSpec("streamwatch_exporter_polls_total", "counter",
               "Polls of an upstream (alerts or labels), failed ones included.", ("poller",)),
    MetricSpec("streamwatch_exporter_poll_errors_total", "counter",
               "Polls that failed (upstream down or malformed answer).", ("poller",)),
    MetricSpec("streamwatch_exporter_last_successful_poll_timestamp_seconds", "gauge",
               "Time of the last successful poll, Unix seconds.", ("poller",)),
    MetricSpec("streamwatch_exporter_labels_read_total", "counter",
               "Ground-truth labels read from the labels feed."),
)
METRICS: dict[str, MetricSpec] = catalogue(_SPECS)


def _family(name: str, labels: tuple[str, ...] | None = None) -> Family:
    return family(METRICS[name], labels)


class ExporterCollector(CatalogueCollector):
    """Exposes an ``ExporterState``; registers itself on ``registry`` when given one."""

    specs = METRICS

    def __init__(self, state: ExporterState, registry: CollectorRegistry | None = None) -> None:
        self.state = state
        super().__init__(registry)

    def collect(self) -> Iterator[Metric]:
        snap = self.state.snapshot()
        yield from self._queries(snap)
        yield from self._trends(snap)
        yield from self._fraud(snap)
        yield from self._fraud_job(snap)
        yield from self._own(snap)

    @staticmethod
    def _queries(snap: Snapshot) -> Iterator[Metric]:
        fams = {name: _family(name) for name in METRICS if name.startswith("streamwatch_query_")}
        for query, stats in sorted(snap.queries.items()):
            last, lv = stats.last, [query]
            optional = {
                "streamwatch_query_input_rows_per_second": last.input_rows_per_second,
                "streamwatch_query_processed_rows_per_second": last.processed_rows_per_second,
                "streamwatch_query_state_rows": last.state_rows,
                "streamwatch_query_state_memory_bytes": last.state_memory_bytes,
                "streamwatch_query_watermark_delay_seconds": last.watermark_delay_seconds,
            }
            for name, value in optional.items():
                if value is not None:
                    fams[name].add_metric(lv, value)
            fams["streamwatch_query_input_rows_total"].add_metric(lv, stats.input_rows_total)
            fams["streamwatch_query_last_batch_id"].add_metric(lv, last.batch_id)
            fams["streamwatch_query_last_progress_timestamp_seconds"].add_metric(
                lv, last.timestamp)
            fams["streamwatch_query_batch_duration_seconds"].add_metric(
                lv, stats.cumulative_buckets(), stats.duration_sum)
        yield from fams.values()

    @staticmethod
    def _trends(snap: Snapshot) -> Iterator[Metric]:
        count = _family("streamwatch_trend_hashtag_tweets")
        sentiment = _family("streamwatch_trend_hashtag_sentiment")
        for row in snap.top:
            lv = [row.hashtag, str(row.rank)]
            count.add_metric(lv, row.count)
            if row.sentiment is not None:
                sentiment.add_metric(lv, row.sentiment)
        yield count
        yield sentiment
        overall = _family("streamwatch_trend_sentiment")
        tweets = _family("streamwatch_trend_window_tweets")
        if snap.sentiment is not None:
            tweets.add_metric([], snap.sentiment.tweets)
            if snap.sentiment.sentiment is not None:
                overall.add_metric([], snap.sentiment.sentiment)
        yield overall
        yield tweets
        start = _family("streamwatch_trend_window_start_timestamp_seconds")
        if snap.top:
            start.add_metric([], snap.top[0].start)
        yield start

    @staticmethod
    def _fraud(snap: Snapshot) -> Iterator[Metric]:
        alerts = _family("streamwatch_fraud_alerts_total")
        for (rule, severity), n in sorted(snap.alerts.items()):
            alerts.add_metric([rule, severity], n)
        yield alerts
        delay = _family("streamwatch_fraud_detection_delay_seconds")
        for rule, hist in sorted(snap.detection_delay.items()):
            delay.add_metric([rule], hist.cumulative(), hist.total)
        yield delay
        figures = {
            "streamwatch_fraud_precision_ratio": "precision",
            "streamwatch_fraud_recall_ratio": "recall",
            "streamwatch_fraud_f1_ratio": "f1",
            "streamwatch_fraud_incidents": "incidents",
            "streamwatch_fraud_incidents_detected": "detected",
        }
        fams = {name: _family(name) for name in figures}
        if snap.quality is not None:
            rows = {"all": snap.quality["overall"], **snap.quality["by_scenario"]}
            for scenario, row in rows.items():
                for name, key in figures.items():
                    # None means "undefined so far" (no alerts, no incidents): no sample.
                    if row.get(key) is not None:
                        fams[name].add_metric([scenario], row[key])
        yield from fams.values()

    @staticmethod
    def _fraud_job(snap: Snapshot) -> Iterator[Metric]:
        # the reload error count is cumulative in the job (it restarts at 0 with the
        # driver, which Prometheus reads as a counter reset), so it is exposed as a counter
        fields = {
            "streamwatch_fraud_rules_version": "rules_version",
            "streamwatch_fraud_rules_reload_errors_total": "rules_reload_errors_total",
            "streamwatch_fraud_cards_in_state": "cards_in_state",
        }
        fams = {name: _family(name) for name in fields}
        for query, stats in sorted(snap.queries.items()):
            for name, key in fields.items():
                if key in stats.fraud:
                    fams[name].add_metric([query], stats.fraud[key])
        yield from fams.values()

    @staticmethod
    def _own(snap: Snapshot) -> Iterator[Metric]:
        def single(name: str, value: float) -> Metric:
            fam = _family(name)
            fam.add_metric([], value)
            return fam

        yield single("streamwatch_exporter_progress_events_total", snap.progress_events)
        yield single("streamwatch_exporter_duplicate_progress_events_total",
                     snap.duplicate_progress_events)
        yield single("streamwatch_exporter_trend_rows_total", snap.trend_rows)
        yield single("streamwatch_exporter_labels_read_total", snap.labels_read)
        rejected = _family("streamwatch_exporter_rejected_posts_total")
        for endpoint in ENDPOINTS:
            rejected.add_metric([endpoint], snap.rejected[endpoint])
        yield rejected
        polls = _family("streamwatch_exporter_polls_total")
        errors = _family("streamwatch_exporter_poll_errors_total")
        last_ok = _family("streamwatch_exporter_last_successful_poll_timestamp_seconds")
        for poller in POLLERS:
            status = snap.pollers[poller]
            polls.add_metric([poller], status.polls)
            errors.add_metric([poller], status.errors)
            if status.last_success is not None:
                last_ok.add_metric([poller], status.last_success)
        yield polls
        yield errors
        yield last_ok
