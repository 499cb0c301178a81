"""``POST /v1/orders`` (exporter): final orders-per-minute rows of the orders job.

docs/architecture.md "Orders per minute" defines the rows; a row breaks a minute
down by category or by region, never both.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from streamwatch.contracts.errors import field_error
from streamwatch.contracts.events import OrderStatus
from streamwatch.contracts.fields import (
    LENIENT,
    NOT_BLANK,
    BoundedTimestamp,
    Count,
    NonNegative,
    PositiveInt,
)
from streamwatch.contracts.times import parse_ts

MAX_ROWS_PER_POST = 20_000
QUANTILES = ("p50", "p90", "p99")

BreakdownName = Annotated[str, Field(min_length=1, max_length=64, pattern=NOT_BLANK)]


class SincePurchase(BaseModel):
    """Exact percentiles of event time since the order's purchase, over ``n`` events."""

    model_config = LENIENT

    n: PositiveInt
    p50: NonNegative
    p90: NonNegative
    p99: NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.p90 < self.p50:
            raise field_error("p90", "must not be below p50")
        if self.p99 < self.p90:
            raise field_error("p99", "must not be below p90")
        return self


class OrderRow(BaseModel):
    model_config = LENIENT

    minute_start: BoundedTimestamp
    minute_end: BoundedTimestamp
    status: OrderStatus
    category: BreakdownName | None = None
    region: BreakdownName | None = None
    orders: Count
    units: Count
    since_purchase_s: SincePurchase | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if parse_ts(self.minute_end) <= parse_ts(self.minute_start):
            raise field_error("minute_end", "must be later than minute_start")
        if self.category is not None and self.region is not None:
            raise field_error("region", "a row breaks a minute down by category or by "
                              "region, not both: one of them must be null")
        return self


class OrdersBody(BaseModel):
    model_config = LENIENT

    orders: Annotated[list[OrderRow], Field(max_length=MAX_ROWS_PER_POST,
                                            description="send more rows in chunks")]
    late_events_total: Count | None = Field(
        default=None, description="the job's running count of events that arrived after "
                                  "their minute was final")
