"""Validation of StreamingQueryProgress JSON (fixture captured from Spark 4.3)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from streamwatch.contracts.events import parse_ts
from streamwatch.exporter.openapi import example
from streamwatch.exporter.progress import FraudFigures, parse_progress
from streamwatch.exporter.validation import ValidationError


@pytest.fixture
def doc() -> dict[str, Any]:
    return copy.deepcopy(example("progress"))


def test_real_progress_is_read(doc: dict[str, Any]) -> None:
    sample = parse_progress(doc)
    assert sample.query == doc["name"]
    assert sample.batch_id == doc["batchId"]
    assert sample.num_input_rows == doc["numInputRows"]
    assert sample.input_rows_per_second == doc["inputRowsPerSecond"]
    assert sample.processed_rows_per_second == doc["processedRowsPerSecond"]
    assert sample.batch_duration_seconds == doc["durationMs"]["triggerExecution"] / 1000
    assert sample.state_rows == sum(op["numRowsTotal"] for op in doc["stateOperators"])
    assert sample.state_memory_bytes == sum(op["memoryUsedBytes"] for op in doc["stateOperators"])
    expected = (parse_ts(doc["timestamp"]) - parse_ts(doc["eventTime"]["watermark"]))
    assert sample.watermark_delay_seconds == pytest.approx(expected.total_seconds(), abs=1e-3)


def test_spark_omissions_are_accepted(doc: dict[str, Any]) -> None:
    # Spark drops NaN rates and eventTime when there is no watermark; name may be null.
    for key in ("inputRowsPerSecond", "processedRowsPerSecond", "eventTime",
                "stateOperators", "sources", "sink"):
        del doc[key]
    doc["name"] = None
    sample = parse_progress(doc)
    assert sample.query == doc["id"]
    assert sample.input_rows_per_second is None
    assert sample.watermark_delay_seconds is None
    assert sample.state_rows is None


def test_epoch_watermark_means_no_watermark_yet(doc: dict[str, Any]) -> None:
    doc["eventTime"] = {"watermark": "1970-01-01T00:00:00.000Z"}
    assert parse_progress(doc).watermark_delay_seconds is None


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d.pop("id"), "id"),
    (lambda d: d.update(runId=7), "runId"),
    (lambda d: d.update(timestamp="yesterday"), "timestamp"),
    (lambda d: d.update(batchId=-1), "batchId"),
    (lambda d: d.update(batchId=True), "batchId"),
    (lambda d: d.update(numInputRows="100"), "numInputRows"),
    (lambda d: d.update(inputRowsPerSecond="fast"), "inputRowsPerSecond"),
    (lambda d: d.update(processedRowsPerSecond=-3.0), "processedRowsPerSecond"),
    (lambda d: d["durationMs"].update(triggerExecution="1s"), "durationMs.triggerExecution"),
    (lambda d: d["eventTime"].update(watermark="soon"), "eventTime.watermark"),
    (lambda d: d.update(stateOperators={}), "stateOperators"),
    (lambda d: d["stateOperators"][0].pop("numRowsTotal"), "stateOperators[0].numRowsTotal"),
    (lambda d: d["stateOperators"][0].update(memoryUsedBytes=1.5),
     "stateOperators[0].memoryUsedBytes"),
    (lambda d: d.update(sources="rate"), "sources"),
    (lambda d: d.update(name=["q"]), "name"),
])
def test_malformed_fields_are_named(doc: dict[str, Any], mutate: Any, field: str) -> None:
    mutate(doc)
    with pytest.raises(ValidationError) as info:
        parse_progress(doc)
    assert info.value.field == field


def test_non_object_body_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        parse_progress([1, 2])
    assert info.value.field == "body"


# --- observedMetrics.fraud (the fraud job's figures) -----------------------------------------

FRAUD_PROGRESS = Path(__file__).resolve().parents[1] / "data" / "progress_fraud_alerts.json"


@pytest.fixture
def fraud_doc() -> dict[str, Any]:
    """A progress event of the ``fraud-alerts`` query captured from a Spark 4.3 run
    (local[2], 32 buckets): observedMetrics carries ``corrupt`` and ``fraud``."""
    return json.loads(FRAUD_PROGRESS.read_text())


def test_fraud_figures_are_read(fraud_doc: dict[str, Any]) -> None:
    sample = parse_progress(fraud_doc)
    observed = fraud_doc["observedMetrics"]["fraud"]
    assert sample.query == "fraud-alerts"
    assert sample.fraud == FraudFigures(**observed)
    assert sample.fraud.cards_in_state == observed["cards_in_state"] > 0


def test_other_queries_have_no_fraud_figures(doc: dict[str, Any],
                                             fraud_doc: dict[str, Any]) -> None:
    assert parse_progress(doc).fraud is None
    fraud_doc["observedMetrics"] = {"corrupt": fraud_doc["observedMetrics"]["corrupt"]}
    assert parse_progress(fraud_doc).fraud is None
    del fraud_doc["observedMetrics"]
    assert parse_progress(fraud_doc).fraud is None


def test_fraud_figures_of_a_batch_without_rows_are_null(fraud_doc: dict[str, Any]) -> None:
    # max()/sum() over no rows are null in Spark's JSON; alerts is coalesced to 0
    fraud_doc["observedMetrics"]["fraud"] = {"alerts": 0, **dict.fromkeys(
        ("rules_version", "rules_reload_errors_total", "cards_in_state", "recent_rows"))}
    assert parse_progress(fraud_doc).fraud == FraudFigures(0, None, None, None, None)


@pytest.mark.parametrize(("mutate", "field"), [
    (lambda d: d.update(observedMetrics=[1]), "observedMetrics"),
    (lambda d: d["observedMetrics"].update(corrupt=3), "observedMetrics.corrupt"),
    (lambda d: d["observedMetrics"]["fraud"].update(rules_version="2"),
     "observedMetrics.fraud.rules_version"),
    (lambda d: d["observedMetrics"]["fraud"].update(cards_in_state=-1),
     "observedMetrics.fraud.cards_in_state"),
    (lambda d: d["observedMetrics"]["fraud"].update(rules_reload_errors_total=1.5),
     "observedMetrics.fraud.rules_reload_errors_total"),
])
def test_malformed_fraud_figures_are_named(fraud_doc: dict[str, Any], mutate: Any,
                                           field: str) -> None:
    mutate(fraud_doc)
    with pytest.raises(ValidationError) as info:
        parse_progress(fraud_doc)
    assert info.value.field == field
