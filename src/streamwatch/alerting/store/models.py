"""Rows of the alerting store as small typed records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from streamwatch.contracts.events import SEVERITIES, Alert, format_epoch_ms
from streamwatch.contracts.subscriptions import MESSAGE_STATES as MESSAGE_STATES
from streamwatch.contracts.subscriptions import OUTCOMES as OUTCOMES


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    url: str
    rules: tuple[str, ...] | None
    min_severity: str | None
    description: str | None
    enabled: bool
    disabled_reason: str | None
    created_ms: int
    consecutive_failures: int = 0
    previous_secret_until_ms: int | None = None

    def matches(self, alert: Alert) -> bool:
        if self.rules is not None and alert.rule not in self.rules:
            return False
        return self.min_severity is None or (
            severity_rank(alert.severity) >= severity_rank(self.min_severity))

    def to_public(self) -> dict[str, Any]:
        """The API view; secrets are never part of it."""
        return {
            "id": self.id, "url": self.url,
            "rules": list(self.rules) if self.rules is not None else None,
            "min_severity": self.min_severity, "description": self.description,
            "created_at": format_epoch_ms(self.created_ms), "enabled": self.enabled,
            "disabled_reason": self.disabled_reason,
            "consecutive_failures": self.consecutive_failures,
            "previous_secret_expires_at": (
                format_epoch_ms(self.previous_secret_until_ms)
                if self.previous_secret_until_ms else None),
        }


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: list[str]
    duplicates: list[str]
    enqueued: int


@dataclass(frozen=True, slots=True)
class StoredAlert:
    seq: int
    body: str  # the alert as JSON, exactly as stored


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox row leased by one delivery worker."""

    message_id: str
    subscription_id: str
    alert_id: str
    attempts: int  # attempts made before this one
    round_start: int  # ``attempts`` when the current retry round began (replay resets it)
    created_ms: int
    url: str
    secrets: tuple[str, ...] = field(repr=False)
    alert_body: str = field(repr=False)
    lease_owner: str = ""


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    latency_ms: float
    error: str | None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True, slots=True)
class Decision:
    """What one attempt does to its message and subscription."""

    outcome: str  # one of OUTCOMES
    state: str  # the message's next state
    next_attempt_ms: int
    disable_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: int | None
