"""Alert bodies as the processor posts them (the alert schema), for tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamwatch.contracts.events import alert_id


def alert_body(rule: str, card: str, txn_ids: Sequence[str], *, severity: str = "high",
               score: float = 0.8, event_time: str = "2026-11-20T10:15:03.120Z",
               detected_at: str = "2026-11-20T10:15:04.000Z",
               reason: str = "test") -> dict[str, Any]:
    """A valid alert whose ``alert_id`` is the deterministic id of (rule, card, first txn)."""
    return {"alert_id": alert_id(rule, card, txn_ids[0]), "rule": rule, "severity": severity,
            "score": score, "card_id": card, "txn_ids": list(txn_ids),
            "event_time": event_time, "detected_at": detected_at, "reason": reason}
