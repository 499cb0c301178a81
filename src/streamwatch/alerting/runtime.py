"""What one running alerting app holds: its settings, store, metrics and workers."""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass

from flask import Flask, current_app

from streamwatch.alerting.delivery import DeliveryService
from streamwatch.alerting.metrics import AlertingMetrics
from streamwatch.alerting.settings import AlertingSettings
from streamwatch.alerting.store import SqlStore
from streamwatch.core.http import ApiError

EXTENSION = "alerting"
# Positions are database sequence numbers: 64-bit signed at most.
_POSITION = re.compile(r"[0-9]{1,19}")
_MAX_POSITION = 2**63 - 1


@dataclass
class Runtime:
    config: AlertingSettings  # the routes read ``Runtime.of().config``
    store: SqlStore
    metrics: AlertingMetrics
    delivery: DeliveryService

    @staticmethod
    def of(app: Flask | None = None) -> Runtime:
        runtime: Runtime = (app or current_app).extensions[EXTENSION]
        return runtime


def now_ms() -> int:
    return int(time.time() * 1000)


def encode_cursor(kind: str, position: int | None) -> str | None:
    """An opaque cursor; ``kind`` keeps one listing's cursor out of another."""
    if position is None:
        return None
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, text: str | None) -> int:
    if text is None:
        return 0
    try:
        if len(text) > 64:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        prefix, _, number = raw.partition(":")
        if prefix != kind or not _POSITION.fullmatch(number):
            raise ValueError(prefix)
        value = int(number)
        if value > _MAX_POSITION:
            raise ValueError(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ApiError(400, "query parameter 'cursor' is not a cursor returned by this "
                       "listing", "cursor") from None
    return value
