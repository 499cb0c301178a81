"""Validation of ``StreamingQueryProgress`` JSON into the few figures the exporter keeps.

The body is what PySpark's ``event.progress.json`` gives (see
``example_progress.json``, captured from a real Spark 4.3 query). Spark omits
rate fields whose value is NaN (for example the first trigger's
``inputRowsPerSecond``) and ``eventTime`` when the query has no watermark, so
those are optional; identity fields, ``timestamp``, ``batchId`` and
``numInputRows`` are always present and therefore required.

Every problem is reported with a dotted path (``stateOperators[0].numRowsTotal``)
so the 400 answer names the field.

``observedMetrics`` holds one object per ``Dataset.observe`` name. The fraud job
(query ``fraud-alerts``) observes ``fraud = {alerts, rules_version,
rules_reload_errors_total, cards_in_state, recent_rows}`` (docs/fraud-rules.md);
those are read into :class:`FraudFigures`. Aggregates over a batch without rows
are ``null`` in Spark's JSON, so every figure is optional; other observations are
only checked to be objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamwatch.exporter.validation import (
    ValidationError,
    is_int,
    optional_number,
    require_int,
    require_str,
    require_ts,
)

# Spark reports the watermark as the epoch until the first batch with data sets it.
_EPOCH = 0.0


@dataclass(frozen=True)
class ProgressSample:
    """What one progress event contributes to the metrics."""

    query: str
    query_id: str
    run_id: str
    timestamp: float
    batch_id: int
    num_input_rows: int
    input_rows_per_second: float | None
    processed_rows_per_second: float | None
    batch_duration_seconds: float | None
    watermark_delay_seconds: float | None
    state_rows: int | None
    state_memory_bytes: int | None
    fraud: FraudFigures | None = None


#: ``observedMetrics`` name of the fraud job's figures
FRAUD_OBSERVATION = "fraud"
FRAUD_FIELDS = ("alerts", "rules_version", "rules_reload_errors_total", "cards_in_state",
                "recent_rows")


@dataclass(frozen=True)
class FraudFigures:
    """``observedMetrics.fraud`` of one progress event; None = null (a batch without rows)."""

    alerts: int | None
    rules_version: int | None
    rules_reload_errors_total: int | None
    cards_in_state: int | None
    recent_rows: int | None


def _optional_object(doc: dict[str, Any], key: str) -> dict[str, Any] | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError(key, "must be an object")
    return value


def _duration_seconds(doc: dict[str, Any]) -> float | None:
    """Batch wall time: ``durationMs.triggerExecution`` (``batchDuration`` as fallback)."""
    durations = _optional_object(doc, "durationMs")
    if durations is not None:
        for name, value in durations.items():
            if not is_int(value) or value < 0:
                raise ValidationError(f"durationMs.{name}", "must be an integer >= 0")
        if "triggerExecution" in durations:
            return float(durations["triggerExecution"]) / 1000.0
    if "batchDuration" in doc:
        return require_int(doc, "batchDuration", "batchDuration") / 1000.0
    return None


def _watermark_delay(doc: dict[str, Any], timestamp: float) -> float | None:
    event_time = _optional_object(doc, "eventTime")
    if event_time is None:
        return None
    for name in event_time:
        require_ts(event_time, name, f"eventTime.{name}", bounded=False)
    if "watermark" not in event_time:
        return None
    watermark = require_ts(event_time, "watermark", "eventTime.watermark", bounded=False)
    if watermark <= _EPOCH:
        return None
    # A watermark ahead of the trigger time means event times from the future;
    # the delay is then reported as 0 rather than negative.
    return max(0.0, timestamp - watermark)


def _state(doc: dict[str, Any]) -> tuple[int | None, int | None]:
    operators = doc.get("stateOperators")
    if operators is None:
        return None, None
    if not isinstance(operators, list):
        raise ValidationError("stateOperators", "must be an array")
    if not operators:
        return None, None
    rows = memory = 0
    for i, op in enumerate(operators):
        path = f"stateOperators[{i}]"
        if not isinstance(op, dict):
            raise ValidationError(path, "must be an object")
        rows += require_int(op, "numRowsTotal", f"{path}.numRowsTotal")
        memory += require_int(op, "memoryUsedBytes", f"{path}.memoryUsedBytes")
        custom = op.get("customMetrics")
        if custom is not None and not isinstance(custom, dict):
            raise ValidationError(f"{path}.customMetrics", "must be an object")
    return rows, memory


def _fraud(doc: dict[str, Any]) -> FraudFigures | None:
    observed = _optional_object(doc, "observedMetrics")
    if observed is None:
        return None
    for name, row in observed.items():
        if row is not None and not isinstance(row, dict):
            raise ValidationError(f"observedMetrics.{name}", "must be an object")
    row = observed.get(FRAUD_OBSERVATION)
    if row is None:
        return None
    values: dict[str, int | None] = {}
    for name in FRAUD_FIELDS:
        value = row.get(name)
        path = f"observedMetrics.{FRAUD_OBSERVATION}.{name}"
        values[name] = None if value is None else require_int(row, name, path)
    return FraudFigures(**values)


def parse_progress(doc: Any) -> ProgressSample:
    """Validate a progress document; raise ``ValidationError`` naming the bad field."""
    if not isinstance(doc, dict):
        raise ValidationError("body", "must be a JSON object (StreamingQueryProgress.json)")
    query_id = require_str(doc, "id", "id")
    run_id = require_str(doc, "runId", "runId")
    name = doc.get("name")
    if name is not None and not isinstance(name, str):
        raise ValidationError("name", "must be a string or null")
    if name is not None and len(name) > 128:
        raise ValidationError("name", "must be at most 128 characters")
    timestamp = require_ts(doc, "timestamp", "timestamp")
    batch_id = require_int(doc, "batchId", "batchId")
    num_input_rows = require_int(doc, "numInputRows", "numInputRows")
    input_rate = optional_number(doc, "inputRowsPerSecond", "inputRowsPerSecond")
    processed_rate = optional_number(doc, "processedRowsPerSecond", "processedRowsPerSecond")
    duration = _duration_seconds(doc)
    delay = _watermark_delay(doc, timestamp)
    state_rows, state_memory = _state(doc)
    sources = doc.get("sources")
    if sources is not None and not (
        isinstance(sources, list) and all(isinstance(s, dict) for s in sources)
    ):
        raise ValidationError("sources", "must be an array of objects")
    _optional_object(doc, "sink")
    fraud = _fraud(doc)
    return ProgressSample(
        # An unnamed query is labelled by its id, which is stable across restarts.
        query=name.strip() if name and name.strip() else query_id,
        query_id=query_id,
        run_id=run_id,
        timestamp=timestamp,
        batch_id=batch_id,
        num_input_rows=num_input_rows,
        input_rows_per_second=input_rate,
        processed_rows_per_second=processed_rate,
        batch_duration_seconds=duration,
        watermark_delay_seconds=delay,
        state_rows=state_rows,
        state_memory_bytes=state_memory,
        fraud=fraud,
    )
