"""``POST /v1/progress`` (exporter): one ``StreamingQueryProgress`` as PySpark's
``event.progress.json`` gives it (``exporter/example_progress.json`` is a real one).

Spark omits rate fields whose value is NaN (the first trigger's
``inputRowsPerSecond``) and ``eventTime`` when the query has no watermark, so
those are optional; identity fields, ``timestamp``, ``batchId`` and
``numInputRows`` are always present and therefore required. Spark adds fields
between releases: unknown ones are kept, not refused.

``observedMetrics`` holds one object per ``Dataset.observe`` name. The fraud job
observes ``fraud`` (docs/fraud-rules.md); aggregates over a batch without rows are
null in Spark's JSON, so every figure is optional.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from streamwatch.contracts.fields import (
    LENIENT,
    NOT_BLANK,
    OPEN,
    BoundedTimestamp,
    Count,
    NonNegative,
    Timestamp,
)

#: ``observedMetrics`` name of the fraud job's figures
FRAUD_OBSERVATION = "fraud"

Identity = Annotated[str, Field(min_length=1, max_length=256, pattern=NOT_BLANK)]


class StateOperator(BaseModel):
    model_config = OPEN

    numRowsTotal: Count
    memoryUsedBytes: Count
    customMetrics: dict[str, Any] | None = None


class FraudObservation(BaseModel):
    """``observedMetrics.fraud`` of the fraud job (query ``fraud-alerts``)."""

    model_config = LENIENT

    alerts: Count | None = None
    rules_version: Count | None = None
    rules_reload_errors_total: Count | None = None
    cards_in_state: Count | None = None
    recent_rows: Count | None = None


class ObservedMetrics(BaseModel):
    """One object (or null, a batch without rows) per observation name."""

    model_config = OPEN
    __pydantic_extra__: dict[str, dict[str, Any] | None] = Field(init=False)

    fraud: FraudObservation | None = None


class Progress(BaseModel):
    model_config = OPEN

    id: Identity
    runId: Identity
    name: Annotated[str, Field(max_length=128)] | None = Field(
        default=None, description="the query's name; an unnamed query is labelled by its id")
    timestamp: BoundedTimestamp
    batchId: Count
    numInputRows: Count
    inputRowsPerSecond: NonNegative | None = None
    processedRowsPerSecond: NonNegative | None = None
    durationMs: dict[str, Count] | None = Field(
        default=None, description="triggerExecution is the batch's wall time")
    batchDuration: Count | None = None
    eventTime: dict[str, Timestamp] | None = Field(
        default=None, description="event times copied from the data (any year); watermark "
                                  "is the epoch until the first batch with data sets it")
    stateOperators: list[StateOperator] | None = None
    sources: list[dict[str, Any]] | None = None
    sink: dict[str, Any] | None = None
    observedMetrics: ObservedMetrics | None = None
