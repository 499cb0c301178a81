"""Field validation shared by the exporter's POST endpoints.

Each helper raises ``ValidationError`` with the dotted path of the offending
field (``trends[3].count``), which the HTTP layer answers as a 400 naming it.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

from streamwatch.contracts.events import parse_ts
from streamwatch.core.http import EARLIEST, LATEST, TimeOutOfRange, parse_bounded_ts


class ValidationError(ValueError):
    """A request body is malformed; ``field`` names the first offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> TypeGuard[int | float]:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def require_str(doc: dict[str, Any], key: str, path: str, *, max_len: int = 256) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(path, "must be a non-empty string")
    if len(value) > max_len:
        raise ValidationError(path, f"must be at most {max_len} characters")
    return value


def require_int(doc: dict[str, Any], key: str, path: str, *, minimum: int = 0) -> int:
    value = doc.get(key)
    if not is_int(value):
        raise ValidationError(path, "must be an integer")
    if value < minimum:
        raise ValidationError(path, f"must be >= {minimum}")
    return value


def optional_number(doc: dict[str, Any], key: str, path: str, *, minimum: float = 0.0
                    ) -> float | None:
    if key not in doc or doc[key] is None:
        return None
    value = doc[key]
    if not is_number(value):
        raise ValidationError(path, "must be a finite number")
    if value < minimum:
        raise ValidationError(path, f"must be >= {minimum}")
    return float(value)


def require_ts(doc: dict[str, Any], key: str, path: str, *, bounded: bool = True) -> float:
    """A timestamp field as epoch seconds; ``bounded`` keeps it within 2000..2100.

    Times that place data (a trend window, a progress report) are bounded: a window
    dated 9999 would otherwise stay the newest until a restart. Event times copied
    from the data (``eventTime``, and Spark's epoch watermark) are not.
    """
    value = doc.get(key)
    not_a_timestamp = ValidationError(path, "must be an RFC 3339 timestamp like "
                                      "2026-11-20T10:15:03.120Z")
    if not isinstance(value, str):
        raise not_a_timestamp
    try:
        return (parse_bounded_ts(value) if bounded else parse_ts(value)).timestamp()
    except TimeOutOfRange:
        raise ValidationError(path, f"must lie between {EARLIEST.date()} and "
                              f"{LATEST.date()}") from None
    except (ValueError, OverflowError):
        raise not_a_timestamp from None
