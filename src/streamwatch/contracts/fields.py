"""Field types the contract models share, each with the JSON schema it publishes.

Every model validates in strict mode: JSON gives exact types, and a ``"42"`` where a
number belongs, or ``true`` where an integer belongs, is a client's bug to hear
about, not something to coerce.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, Strict, StringConstraints

from streamwatch.contracts.times import (
    EARLIEST,
    LATEST,
    TS_PATTERN,
    TimeOutOfRange,
    parse_bounded_ts,
    parse_ts,
)

#: the config of a request body: exact JSON types, unknown fields refused
STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
#: the config of a body whose producer adds fields over time (Spark's progress)
OPEN = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)
#: the config of a body whose unknown fields are ignored, as they always were
LENIENT = ConfigDict(strict=True, extra="ignore", allow_inf_nan=False)

_TS_EXAMPLE = "2026-11-20T10:15:03.120Z"


def _real_time(text: str) -> str:
    try:
        parse_ts(text)  # the pattern passes 2026-13-45T99:00:00Z; the calendar does not
    except OverflowError:
        raise ValueError("is outside the range of dates") from None
    return text


def _bounded_time(text: str) -> str:
    try:
        parse_bounded_ts(text)  # also checks the calendar, like _real_time
    except TimeOutOfRange:
        raise ValueError(f"must lie between {EARLIEST.date()} and {LATEST.date()}") from None
    return text


#: an RFC 3339 time, any year (event times copied from the data)
Timestamp = Annotated[str, StringConstraints(pattern=TS_PATTERN),
                      AfterValidator(_real_time),
                      Field(json_schema_extra={"format": "date-time",
                                               "examples": [_TS_EXAMPLE]})]
#: an RFC 3339 time within 2000-01-01 .. 2100-01-01 (a time that places data)
BoundedTimestamp = Annotated[str, StringConstraints(pattern=TS_PATTERN),
                             AfterValidator(_bounded_time),
                             Field(description=f"RFC 3339, within {EARLIEST.date()} .. "
                                               f"{LATEST.date()}",
                                   json_schema_extra={"format": "date-time",
                                                      "examples": [_TS_EXAMPLE]})]


#: a string with something besides white space (pattern searches, unanchored)
NOT_BLANK = r"\S"

Count = Annotated[int, Strict(), Field(ge=0)]
PositiveInt = Annotated[int, Strict(), Field(ge=1)]
NonNegative = Annotated[float, Field(ge=0)]
