"""Event types exchanged between services, defined once as models.

Each type is a frozen pydantic model: ``from_dict`` validates (naming every bad
field by its JSON path, ``EventError``), ``to_dict`` gives the wire form,
``json_schema()`` its JSON schema and ``DDL`` the Spark DDL of the same shape;
``tests/unit/contracts/test_events.py`` checks that the DDL and the fields agree.

Times are RFC 3339 UTC strings with millisecond precision and a ``Z`` suffix.
``amount`` is a decimal string so that no binary rounding happens on the wire.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal, Self, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from streamwatch.contracts.errors import field_error, field_errors
from streamwatch.contracts.fields import LENIENT, STRICT, BoundedTimestamp, Timestamp
from streamwatch.contracts.times import format_epoch_ms as format_epoch_ms
from streamwatch.contracts.times import format_ts as format_ts
from streamwatch.contracts.times import parse_ts as parse_ts

Severity = Literal["low", "medium", "high"]
Scenario = Literal["card_testing", "velocity", "impossible_travel", "amount_spike",
                   "account_takeover"]
Channel = Literal["pos", "online", "atm"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
SCENARIOS: tuple[str, ...] = get_args(Scenario)
CHANNELS: tuple[str, ...] = get_args(Channel)

#: detection times before this come from a broken clock (Spark's -1 processing time)
DETECTED_AT_MIN = datetime(2000, 1, 1, tzinfo=UTC)
#: how far the detector's clock may trail the clock that stamped the event
DETECTION_CLOCK_SKEW = timedelta(minutes=5)
RULE_PATTERN = "^[a-z][a-z0-9_]{0,63}$"


class EventError(ValueError):
    """Invalid event; ``errors`` lists ``{"field": ..., "error": ...}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['error']}" for e in errors))
        self.errors = errors


def _str(max_length: int) -> Any:
    return Field(min_length=1, max_length=max_length)


class Event(BaseModel):
    """What every event type shares: validation from a JSON document, the wire form."""

    # unknown fields are ignored: a feed's consumers read the fields they know
    model_config = ConfigDict(**LENIENT, frozen=True)
    DDL: ClassVar[str]

    @classmethod
    def from_dict(cls, doc: Any, **context: Any) -> Self:
        """Validate ``doc``; raise ``EventError`` naming every bad field."""
        try:
            return cls.model_validate(doc, context=context or None)
        except ValidationError as exc:
            raise EventError(field_errors(exc, root="(root)")) from None

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return cls.model_json_schema()


class Tweet(Event):
    id: Annotated[str, _str(64)]
    created_at: Timestamp
    user: Annotated[str, _str(256)]
    lang: Annotated[str, _str(16)]
    text: str

    DDL: ClassVar[str] = "id STRING, created_at STRING, user STRING, lang STRING, text STRING"


class Transaction(Event):
    txn_id: Annotated[str, _str(128)]
    event_time: Timestamp
    card_id: Annotated[str, _str(128)]
    customer_id: Annotated[str, _str(128)]
    amount: Annotated[str, Field(pattern=r"^\d+(\.\d+)?$", max_length=32,
                                 description="a decimal string >= 0 such as 42.10")]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    merchant_id: Annotated[str, _str(128)]
    merchant_category: Annotated[str, _str(128)]
    channel: Channel
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    device_id: Annotated[str, _str(128)] | None = None

    DDL: ClassVar[str] = (
        "txn_id STRING, event_time STRING, card_id STRING, customer_id STRING, "
        "amount STRING, currency STRING, merchant_id STRING, merchant_category STRING, "
        "channel STRING, lat DOUBLE, lon DOUBLE, country STRING, device_id STRING"
    )


class Label(Event):
    txn_id: Annotated[str, _str(128)]
    is_fraud: bool
    scenario: Scenario | None = Field(default=None,
                                      description="required when is_fraud is true")
    incident_id: Annotated[str, _str(128)] | None = None

    DDL: ClassVar[str] = "txn_id STRING, is_fraud BOOLEAN, scenario STRING, incident_id STRING"

    @model_validator(mode="after")
    def _fraud_has_a_scenario(self) -> Self:
        if self.is_fraud and self.scenario is None:
            raise field_error("scenario", "is required when is_fraud is true")
        return self


def alert_id(rule: str, card_id: str, first_txn_id: str) -> str:
    """The deterministic alert id: sha256 hex of ``rule|card_id|first txn_id``."""
    return hashlib.sha256(f"{rule}|{card_id}|{first_txn_id}".encode()).hexdigest()


class Alert(Event):
    """A fraud alert: the contract's fields and nothing else (unknown fields are refused,
    so nothing unchecked is stored or sent out in a signed webhook)."""

    model_config = ConfigDict(**STRICT, frozen=True)

    alert_id: Annotated[str, Field(pattern="^[0-9a-f]{64}$",
                                   description="sha256 hex of rule|card_id|first txn_id")]
    rule: Annotated[str, Field(pattern=RULE_PATTERN)]
    severity: Severity
    score: Annotated[float, Field(ge=0, le=1)]
    card_id: Annotated[str, _str(128)]
    # a JSON array; kept as a tuple so an alert stays immutable
    txn_ids: Annotated[tuple[Annotated[str, Field(min_length=1)], ...], Strict(False),
                       Field(min_length=1, max_length=10_000)]
    event_time: BoundedTimestamp
    detected_at: Annotated[BoundedTimestamp, Field(
        description="the detector's wall clock when the alert was raised: after 2000, "
                    "and not before event_time by more than 5 minutes")]
    reason: Annotated[str, _str(2000)]

    DDL: ClassVar[str] = (
        "alert_id STRING, rule STRING, severity STRING, score DOUBLE, card_id STRING, "
        "txn_ids ARRAY<STRING>, event_time STRING, detected_at STRING, reason STRING"
    )

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Self:
        # detected_at is a wall-clock reading after the event: before 2000 (a clock that
        # reads -1 or 0) or earlier than the event allows for, the clock is wrong
        detected, event = parse_ts(self.detected_at), parse_ts(self.event_time)
        if detected < DETECTED_AT_MIN:
            raise field_error("detected_at", f"must be after {format_ts(DETECTED_AT_MIN)}: "
                              "a detection time is the wall clock when the alert was raised")
        if detected < event - DETECTION_CLOCK_SKEW:
            raise field_error("detected_at", "must not be before event_time by more than "
                              f"{DETECTION_CLOCK_SKEW.total_seconds():g} s (clock skew allowed)")
        check_id = (info.context or {}).get("check_id", True)
        if check_id and self.alert_id != alert_id(self.rule, self.card_id, self.txn_ids[0]):
            raise field_error("alert_id", "must be sha256 hex of rule|card_id|first txn_id")
        return self


OrderStatus = Literal["purchased", "shipped", "delivered", "cancelled", "returned"]
ORDER_STATUSES: tuple[str, ...] = get_args(OrderStatus)
#: statuses an order's purchase precedes; their rows carry the time since purchase
AFTER_PURCHASE = ORDER_STATUSES[1:]
MAX_ORDER_ITEMS = 100


class OrderItem(Event):
    sku: Annotated[str, _str(128)]
    category: Annotated[str, _str(128)]
    quantity: Annotated[int, Field(ge=1)]
    unit_price: Annotated[str, Field(pattern=r"^\d{1,12}(\.\d{1,4})?$",
                                     description="a decimal string >= 0 such as 12.99")]


class OrderEvent(Event):
    """One step of an order's life: purchased, then shipped and delivered (or cancelled,
    or returned after delivery). Every event of an order lists the order's items."""

    event_id: Annotated[str, _str(128)]
    order_id: Annotated[str, _str(128)]
    status: OrderStatus
    event_time: Timestamp
    region: Annotated[str, _str(128)]
    items: Annotated[tuple[OrderItem, ...], Strict(False),
                     Field(min_length=1, max_length=MAX_ORDER_ITEMS)]

    DDL: ClassVar[str] = (
        "event_id STRING, order_id STRING, status STRING, event_time STRING, region STRING, "
        "items ARRAY<STRUCT<sku: STRING, category: STRING, quantity: INT, unit_price: STRING>>"
    )
