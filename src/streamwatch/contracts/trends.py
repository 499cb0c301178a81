"""``POST /v1/trends`` (exporter): the hashtags job's output rows, exactly as in its JSONL."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator

from streamwatch.contracts.errors import field_error
from streamwatch.contracts.fields import LENIENT, NOT_BLANK, BoundedTimestamp, Count, PositiveInt
from streamwatch.contracts.times import parse_ts

MAX_HASHTAG_CHARS = 280

#: a VADER compound score; null means "not scored" (sentiment off, or no scored tweet)
Sentiment = Annotated[float, Field(ge=-1, le=1)] | None


class Window(BaseModel):
    model_config = LENIENT

    window_start: BoundedTimestamp
    window_end: BoundedTimestamp

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.window_end_s <= self.window_start_s:
            raise field_error("window_end", "must be later than window_start")
        return self

    @property
    def window_start_s(self) -> float:
        return _epoch(self.window_start)

    @property
    def window_end_s(self) -> float:
        return _epoch(self.window_end)


class TrendRow(Window):
    hashtag: Annotated[str, Field(min_length=1, max_length=MAX_HASHTAG_CHARS,
                                  pattern=NOT_BLANK)]
    count: Count
    rank: PositiveInt
    sentiment: Sentiment = None


class SentimentRow(Window):
    tweets: Count
    sentiment: Sentiment = None


class TrendsBody(BaseModel):
    """One request carries both results of the hashtags job; either may be left out."""

    model_config = LENIENT

    trends: list[TrendRow] = Field(default_factory=list)
    sentiment: list[SentimentRow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> Self:
        if not self.model_fields_set & {"trends", "sentiment"}:
            raise field_error("trends", "one of 'trends' or 'sentiment' is required")
        return self


def _epoch(text: str) -> float:
    return parse_ts(text).timestamp()
