"""``/v1/alerts`` (alerting): the ingest batch and the answers, around ``events.Alert``."""

from __future__ import annotations

from pydantic import BaseModel, Field

from streamwatch.contracts.events import Alert
from streamwatch.contracts.fields import LENIENT


class AlertBatch(BaseModel):
    """``POST /v1/alerts``: validated whole; one bad alert refuses the batch."""

    model_config = LENIENT

    alerts: list[Alert]


class IngestResult(BaseModel):
    accepted: list[str] = Field(description="alert ids stored by this request")
    duplicates: list[str] = Field(description="alert ids that were already stored")


class AlertPage(BaseModel):
    alerts: list[Alert]
    next_cursor: str | None = Field(
        description="cursor of the last returned alert; null when none was returned")
