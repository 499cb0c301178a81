"""``/v1/subscriptions`` (alerting): webhook subscriptions, deliveries, messages, replays.

The request models check what a request can say on its own; whether a URL may be
called (the SSRF guard, which resolves the host) is the service's check, made
after the model's.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self, get_args

from pydantic import BaseModel, Field, model_validator

from streamwatch.contracts.errors import field_error
from streamwatch.contracts.events import RULE_PATTERN, Severity
from streamwatch.contracts.fields import STRICT, BoundedTimestamp, Count, PositiveInt

MessageState = Literal["pending", "delivered", "dead"]
Outcome = Literal["delivered", "failed", "retrying", "dead"]
MESSAGE_STATES: tuple[str, ...] = get_args(MessageState)
OUTCOMES: tuple[str, ...] = get_args(Outcome)
MAX_RULES = 100
MAX_DESCRIPTION = 500

Rule = Annotated[str, Field(pattern=RULE_PATTERN)]
_TIME = Field(json_schema_extra={"format": "date-time",
                                 "examples": ["2026-11-20T10:15:03.120Z"]})


class NewSubscription(BaseModel):
    """``POST /v1/subscriptions``."""

    model_config = STRICT

    url: Annotated[str, Field(min_length=1, description="http(s) webhook URL")]
    rules: Annotated[list[Rule], Field(min_length=1, max_length=MAX_RULES)] | None = Field(
        default=None, description="rules to receive, like card_testing; omit for every rule")
    min_severity: Severity | None = None
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION)] | None = None


class Replay(BaseModel):
    """``POST /v1/subscriptions/{sub_id}/replay``: exactly one of the two fields."""

    model_config = STRICT

    message_id: Annotated[str, Field(min_length=1)] | None = None
    since: BoundedTimestamp | None = Field(
        default=None, description="re-send every alert received since this time")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.message_id is None) == (self.since is None):
            raise field_error("message_id", "give exactly one of 'message_id' or 'since'")
        return self


class Subscription(BaseModel):
    id: str
    url: str
    rules: list[str] | None
    min_severity: Severity | None
    description: str | None = None
    created_at: Annotated[str, _TIME]
    enabled: bool
    disabled_reason: str | None = None
    consecutive_failures: int = 0
    previous_secret_expires_at: str | None = None


class SubscriptionWithSecret(Subscription):
    secret: Annotated[str, Field(pattern="^whsec_[A-Za-z0-9+/=]+$",
                                 description="shown only in this answer")]


class SubscriptionList(BaseModel):
    subscriptions: list[Subscription]


class Delivery(BaseModel):
    message_id: str = Field(description="the webhook-id header")
    alert_id: str
    attempt: PositiveInt
    outcome: Outcome
    status_code: int | None
    latency_ms: float
    error: str | None
    timestamp: Annotated[str, _TIME]


class DeliveryPage(BaseModel):
    deliveries: list[Delivery]
    next_cursor: str | None


class Message(BaseModel):
    message_id: str
    alert_id: str
    state: MessageState
    attempts: int
    next_attempt_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    created_at: Annotated[str, _TIME] | None = None
    updated_at: Annotated[str, _TIME] | None = None


class MessagePage(BaseModel):
    messages: list[Message]
    next_cursor: str | None


class ReplayResult(BaseModel):
    replayed: Count
