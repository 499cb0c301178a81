"""Timestamps on the wire: RFC 3339 UTC strings, parsed and bounded in one place.

Times are written with millisecond precision and a ``Z`` suffix; any RFC 3339
offset is read. A time that places data (an alert, a trend window, a progress
report) must lie within ``EARLIEST`` .. ``LATEST``: outside it, it is a mistake
(a clock at 0, a typo'd year), not data.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)

#: the syntax of an RFC 3339 date-time; ``parse_ts`` also checks that it is a real time
TS_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$"
_TS = re.compile(TS_PATTERN)
_FRACTION = re.compile(r"^(.*?\.)(\d+)(.*)$")


class TimeOutOfRange(ValueError):
    """A well-formed timestamp outside ``EARLIEST`` .. ``LATEST``."""


def format_ts(dt: datetime) -> str:
    """``datetime`` -> ``2026-11-20T10:15:03.120Z``."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def format_epoch_ms(ms: int) -> str:
    secs, milli = divmod(int(ms), 1000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{milli:03d}Z"


def parse_ts(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or offset) into an aware UTC datetime."""
    if not isinstance(text, str) or not _TS.match(text):
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp like 2026-11-20T10:15:03.120Z")
    t = text[:-1] + "+00:00" if text.endswith("Z") else text
    m = _FRACTION.match(t)
    if m and len(m.group(2)) > 6:  # Python parses at most microseconds
        t = m.group(1) + m.group(2)[:6] + m.group(3)
    return datetime.fromisoformat(t).astimezone(UTC)


def parse_bounded_ts(text: Any) -> datetime:
    """``parse_ts`` limited to ``EARLIEST`` .. ``LATEST``; ValueError otherwise."""
    try:
        dt = parse_ts(text)
    except OverflowError:
        # 9999-12-31T23:59:59-01:00 is past datetime's range once moved to UTC
        dt = None
    if dt is None or not EARLIEST <= dt < LATEST:
        raise TimeOutOfRange(f"{text!r} is outside {EARLIEST.date()} .. {LATEST.date()}")
    return dt
