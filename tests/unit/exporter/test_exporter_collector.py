"""The custom collector on a fresh registry, asserted with get_sample_value."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from streamwatch.exporter.metrics import METRICS, ExporterCollector
from streamwatch.exporter.openapi import example
from streamwatch.exporter.progress import parse_progress
from streamwatch.exporter.state import DURATION_BUCKETS, MAX_ALERT_SERIES, OTHER_RULE, ExporterState

#: a real progress event of the fraud job (observedMetrics.fraud), see test_exporter_progress
FRAUD_PROGRESS = Path(__file__).resolve().parents[1] / "data" / "progress_fraud_alerts.json"


def fresh() -> tuple[ExporterState, CollectorRegistry]:
    state = ExporterState(top_n=3, max_windows=3, max_rows_per_window=10, max_queries=5)
    registry = CollectorRegistry()
    ExporterCollector(state, registry)
    return state, registry


def alert(i: int, rule: str, severity: str = "high", txn: str = "t-1") -> dict[str, object]:
    return {"alert_id": f"a{i}", "rule": rule, "severity": severity, "txn_ids": [txn]}


def test_names_follow_conventions() -> None:
    for spec in METRICS.values():
        assert spec.name.startswith("streamwatch_")
        assert spec.name.endswith("_total") == (spec.kind == "counter"), spec.name


def test_histogram_buckets_are_cumulative() -> None:
    state, registry = fresh()
    doc = dict(example("progress"))
    for i, ms in enumerate((50, 700, 700, 200_000)):
        state.record_progress(parse_progress({**doc, "batchId": i, "durationMs": {
            "triggerExecution": ms}}))
    q = {"query": doc["name"]}
    get = registry.get_sample_value
    assert get("streamwatch_query_batch_duration_seconds_bucket", {**q, "le": "0.1"}) == 1
    assert get("streamwatch_query_batch_duration_seconds_bucket", {**q, "le": "1.0"}) == 3
    last = repr(DURATION_BUCKETS[-1])
    assert get("streamwatch_query_batch_duration_seconds_bucket", {**q, "le": last}) == 3
    assert get("streamwatch_query_batch_duration_seconds_bucket", {**q, "le": "+Inf"}) == 4
    assert get("streamwatch_query_batch_duration_seconds_sum", q) == 0.05 + 0.7 + 0.7 + 200


def test_alerts_counted_once_by_rule_and_severity_and_bounded() -> None:
    state, registry = fresh()
    state.record_alerts([alert(1, "velocity"), alert(2, "velocity", "low"),
                         alert(3, "velocity", "weird")])
    state.record_alerts([alert(1, "velocity")])  # a re-read page
    get = registry.get_sample_value
    assert get("streamwatch_fraud_alerts_total", {"rule": "velocity", "severity": "high"}) == 1
    assert get("streamwatch_fraud_alerts_total", {"rule": "velocity", "severity": "unknown"}) == 1
    state.record_alerts([alert(100 + i, f"rule{i}") for i in range(MAX_ALERT_SERIES + 5)])
    series = next(m for m in registry.collect() if m.name == "streamwatch_fraud_alerts").samples
    assert len({tuple(s.labels.items()) for s in series if s.name.endswith("_total")}) \
        <= MAX_ALERT_SERIES + 1
    assert get("streamwatch_fraud_alerts_total", {"rule": OTHER_RULE, "severity": "high"}) >= 5


def test_quality_gauges_follow_labels_and_alerts() -> None:
    state, registry = fresh()
    get = registry.get_sample_value
    assert get("streamwatch_fraud_precision_ratio", {"scenario": "all"}) is None
    state.record_labels([
        {"txn_id": "t-1", "is_fraud": True, "scenario": "card_testing", "incident_id": "i1"},
        {"txn_id": "t-2", "is_fraud": True, "scenario": "velocity", "incident_id": "i2"},
        {"txn_id": "t-3", "is_fraud": False},
    ])
    state.record_alerts([alert(1, "card_testing", txn="t-1"), alert(2, "card_testing",
                                                                    txn="t-3")])
    report = state.quality()
    card = report["by_scenario"]["card_testing"]
    assert get("streamwatch_fraud_precision_ratio", {"scenario": "card_testing"}) == \
        card["precision"]
    assert get("streamwatch_fraud_recall_ratio", {"scenario": "all"}) == \
        report["overall"]["recall"]
    assert get("streamwatch_fraud_incidents", {"scenario": "velocity"}) == 1
    assert get("streamwatch_fraud_incidents_detected", {"scenario": "velocity"}) == 0
    assert get("streamwatch_exporter_labels_read_total") == 3
    assert report["alerts_by_rule"] == {"card_testing": 2}


def _fraud_progress(batch: int, **fraud: object) -> dict[str, object]:
    doc = json.loads(FRAUD_PROGRESS.read_text())
    doc["batchId"] = batch
    doc["observedMetrics"]["fraud"].update(fraud)
    return doc


def test_fraud_job_figures_are_exposed_per_query() -> None:
    state, registry = fresh()
    get = registry.get_sample_value
    q = {"query": "fraud-alerts"}
    assert get("streamwatch_fraud_rules_version", q) is None  # nothing reported yet
    state.record_progress(parse_progress(_fraud_progress(5)))
    assert get("streamwatch_fraud_rules_version", q) == 1
    assert get("streamwatch_fraud_rules_reload_errors_total", q) == 0
    assert get("streamwatch_fraud_cards_in_state", q) == 32751
    # a valid reload, then a rejected edit: the job's cumulative count becomes a counter
    state.record_progress(parse_progress(_fraud_progress(6, rules_version=2,
                                                         cards_in_state=33002)))
    state.record_progress(parse_progress(_fraud_progress(7, rules_reload_errors_total=1,
                                                         rules_version=2)))
    assert get("streamwatch_fraud_rules_version", q) == 2
    assert get("streamwatch_fraud_rules_reload_errors_total", q) == 1
    assert get("streamwatch_fraud_cards_in_state", q) == 32751
    # a batch without rows reports nulls: the last known figures stay
    state.record_progress(parse_progress(_fraud_progress(
        8, rules_version=None, rules_reload_errors_total=None, cards_in_state=None)))
    assert get("streamwatch_fraud_rules_reload_errors_total", q) == 1
    assert get("streamwatch_fraud_rules_version", q) == 2
    # queries without the observation expose no fraud series
    state.record_progress(parse_progress(example("progress")))
    assert get("streamwatch_fraud_rules_version", {"query": "hashtags"}) is None
    families = {m.name: m for m in registry.collect()}
    assert families["streamwatch_fraud_rules_reload_errors"].type == "counter"
    assert families["streamwatch_fraud_rules_version"].type == "gauge"
    assert families["streamwatch_fraud_cards_in_state"].type == "gauge"


def test_fraud_job_figures_follow_the_exposition_format() -> None:
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    state, registry = fresh()
    state.record_progress(parse_progress(_fraud_progress(5, rules_reload_errors_total=3)))
    text = generate_latest(registry).decode()
    assert ('streamwatch_fraud_rules_reload_errors_total{query="fraud-alerts"} 3.0'
            in text.splitlines())
    assert re.search(r"^# TYPE streamwatch_fraud_rules_reload_errors(_total)? counter$", text,
                     re.MULTILINE)
    parsed = {f.name: f for f in text_string_to_metric_families(text)}
    assert parsed["streamwatch_fraud_cards_in_state"].samples[0].value == 32751


def test_alert_ids_and_quality_items_are_bounded() -> None:
    state = ExporterState(top_n=3, max_windows=3, max_rows_per_window=10, max_queries=5,
                          quality_max_incidents=10, quality_max_alerts=10)
    assert state.record_alerts([alert(i, "velocity", txn=f"t-{i}") for i in range(25)]) == 25
    # recent repeats (a poller overlap) are dropped; an id older than the bound is not
    assert state.record_alerts([alert(i, "velocity", txn=f"t-{i}") for i in range(20, 25)]) == 0
    assert state.record_alerts([alert(0, "velocity", txn="t-0")]) == 1
    state.record_labels([{"txn_id": f"t-{i}", "is_fraud": True, "scenario": "velocity",
                          "incident_id": f"i-{i}"} for i in range(30)])
    velocity = state.quality()["by_scenario"]["velocity"]
    # every alert and incident still counts once the live ones are bounded
    assert (velocity["alerts"], velocity["incidents"]) == (26, 30)


def test_detection_delay_is_a_histogram_per_rule_from_each_new_alert() -> None:
    state, registry = fresh()

    def timed(i: int, rule: str, event: str, detected: str) -> dict[str, object]:
        return {**alert(i, rule), "event_time": f"2026-11-20T10:{event}Z",
                "detected_at": f"2026-11-20T10:{detected}Z"}

    state.record_alerts([
        timed(1, "velocity", "00:00.000", "00:00.800"),
        timed(2, "velocity", "00:00.000", "00:02.500"),
        timed(3, "velocity", "00:10.000", "00:09.000"),   # the detector's clock trails
        timed(4, "card_testing", "00:00.000", "59:00.000"),
        {**alert(5, "velocity"), "detected_at": "garbage"},
    ])
    state.record_alerts([timed(1, "velocity", "00:00.000", "00:00.800")])  # a re-read page
    get = registry.get_sample_value
    v = {"rule": "velocity"}
    assert get("streamwatch_fraud_detection_delay_seconds_bucket", {**v, "le": "0.25"}) == 1
    assert get("streamwatch_fraud_detection_delay_seconds_bucket", {**v, "le": "1.0"}) == 2
    assert get("streamwatch_fraud_detection_delay_seconds_bucket", {**v, "le": "3.0"}) == 3
    assert get("streamwatch_fraud_detection_delay_seconds_count", v) == 3
    assert get("streamwatch_fraud_detection_delay_seconds_sum", v) == 0.8 + 2.5
    c = {"rule": "card_testing"}
    assert get("streamwatch_fraud_detection_delay_seconds_bucket", {**c, "le": "3600.0"}) == 1
    assert get("streamwatch_fraud_detection_delay_seconds_sum", c) == 3540.0
