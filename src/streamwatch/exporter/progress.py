"""A ``StreamingQueryProgress`` (``contracts.progress.Progress``) into the few figures
the exporter keeps.

Those figures are: identity, batch, rates, the batch's wall time
(``durationMs.triggerExecution``, ``batchDuration`` as fallback), the watermark
delay, state rows and memory summed over the state operators, and the fraud job's
``observedMetrics.fraud`` (docs/fraud-rules.md) as :class:`FraudFigures`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamwatch.contracts.progress import FraudObservation, Progress
from streamwatch.contracts.times import parse_ts
from streamwatch.exporter.validation import validate

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


FRAUD_FIELDS = tuple(FraudObservation.model_fields)


@dataclass(frozen=True)
class FraudFigures:
    """``observedMetrics.fraud`` of one progress event; None = null (a batch without rows)."""

    alerts: int | None
    rules_version: int | None
    rules_reload_errors_total: int | None
    cards_in_state: int | None
    recent_rows: int | None


def _duration_seconds(doc: Progress) -> float | None:
    if doc.durationMs is not None and "triggerExecution" in doc.durationMs:
        return doc.durationMs["triggerExecution"] / 1000.0
    if doc.batchDuration is not None:
        return doc.batchDuration / 1000.0
    return None


def _watermark_delay(doc: Progress, timestamp: float) -> float | None:
    if doc.eventTime is None or "watermark" not in doc.eventTime:
        return None
    watermark = parse_ts(doc.eventTime["watermark"]).timestamp()
    if watermark <= _EPOCH:
        return None
    # A watermark ahead of the trigger time means event times from the future;
    # the delay is then reported as 0 rather than negative.
    return max(0.0, timestamp - watermark)


def _fraud(doc: Progress) -> FraudFigures | None:
    if doc.observedMetrics is None or doc.observedMetrics.fraud is None:
        return None
    return FraudFigures(**doc.observedMetrics.fraud.model_dump())


def parse_progress(body: Any) -> ProgressSample:
    """Validate a progress document; raise ``ValidationError`` naming the bad field."""
    doc = validate(Progress, body)
    timestamp = parse_ts(doc.timestamp).timestamp()
    operators = doc.stateOperators or []
    name = doc.name.strip() if doc.name else ""
    return ProgressSample(
        # An unnamed query is labelled by its id, which is stable across restarts.
        query=name or doc.id,
        query_id=doc.id,
        run_id=doc.runId,
        timestamp=timestamp,
        batch_id=doc.batchId,
        num_input_rows=doc.numInputRows,
        input_rows_per_second=doc.inputRowsPerSecond,
        processed_rows_per_second=doc.processedRowsPerSecond,
        batch_duration_seconds=_duration_seconds(doc),
        watermark_delay_seconds=_watermark_delay(doc, timestamp),
        state_rows=sum(op.numRowsTotal for op in operators) if operators else None,
        state_memory_bytes=sum(op.memoryUsedBytes for op in operators) if operators else None,
        fraud=_fraud(doc),
    )
