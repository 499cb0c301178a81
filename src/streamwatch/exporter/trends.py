"""Hashtag trends and window sentiment: validation and a bounded, superseding store.

Rows arrive in the shape of the hashtags job's output (see
``example_trends.json``). The job runs in update mode, so the same
``window_start`` + ``hashtag`` arrives again as its count grows: the later row
replaces the earlier one. Only the ``max_windows`` newest windows are kept, and
within a window the ``max_rows_per_window`` best ranked hashtags, so memory and
``/metrics`` stay bounded however many tags the stream invents.

``parse_trends`` validates a whole body before ``TrendStore.apply`` touches
anything, so a bad row anywhere means nothing of that post is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamwatch.exporter.validation import (
    ValidationError,
    is_int,
    is_number,
    require_int,
    require_str,
    require_ts,
)

MAX_HASHTAG_CHARS = 280


@dataclass(frozen=True)
class TrendRow:
    window_start: str
    window_end: str
    start: float
    hashtag: str
    count: int
    rank: int
    sentiment: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"window_start": self.window_start, "window_end": self.window_end,
                "hashtag": self.hashtag, "count": self.count, "rank": self.rank,
                "sentiment": self.sentiment}


@dataclass(frozen=True)
class SentimentRow:
    window_start: str
    window_end: str
    start: float
    tweets: int
    sentiment: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"window_start": self.window_start, "window_end": self.window_end,
                "tweets": self.tweets, "sentiment": self.sentiment}


def _window(row: dict[str, Any], path: str) -> tuple[str, str, float]:
    start = require_ts(row, "window_start", f"{path}.window_start")
    end = require_ts(row, "window_end", f"{path}.window_end")
    if end <= start:
        raise ValidationError(f"{path}.window_end", "must be later than window_start")
    return row["window_start"], row["window_end"], start


def _sentiment(row: dict[str, Any], path: str) -> float | None:
    # VADER compound scores lie in [-1, 1]; null means "not scored" (e.g. sentiment off).
    value = row.get("sentiment")
    if value is None:
        return None
    if not is_number(value) or not -1.0 <= value <= 1.0:
        raise ValidationError(path, "must be a number within -1..1 or null")
    return float(value)


def _rows(body: dict[str, Any], key: str) -> list[dict[str, Any]]:
    rows = body.get(key)
    if not isinstance(rows, list):
        raise ValidationError(key, "must be an array of objects")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ValidationError(f"{key}[{i}]", "must be an object")
    return rows


def parse_trends(body: Any) -> tuple[list[TrendRow], list[SentimentRow]]:
    """Validate a ``POST /v1/trends`` body; raise ``ValidationError`` naming the field."""
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object with 'trends' and/or 'sentiment'")
    if "trends" not in body and "sentiment" not in body:
        raise ValidationError("trends", "one of 'trends' or 'sentiment' is required")
    trends: list[TrendRow] = []
    if "trends" in body:
        for i, row in enumerate(_rows(body, "trends")):
            path = f"trends[{i}]"
            window_start, window_end, start = _window(row, path)
            hashtag = require_str(row, "hashtag", f"{path}.hashtag", max_len=MAX_HASHTAG_CHARS)
            count = require_int(row, "count", f"{path}.count")
            rank = require_int(row, "rank", f"{path}.rank", minimum=1)
            trends.append(TrendRow(window_start, window_end, start, hashtag, count, rank,
                                   _sentiment(row, f"{path}.sentiment")))
    sentiment: list[SentimentRow] = []
    if "sentiment" in body:
        for i, row in enumerate(_rows(body, "sentiment")):
            path = f"sentiment[{i}]"
            window_start, window_end, start = _window(row, path)
            tweets = row.get("tweets")
            if not is_int(tweets) or tweets < 0:
                raise ValidationError(f"{path}.tweets", "must be an integer >= 0")
            sentiment.append(SentimentRow(window_start, window_end, start, tweets,
                                          _sentiment(row, f"{path}.sentiment")))
    return trends, sentiment


def _by_rank(row: TrendRow) -> tuple[int, int, str]:
    return (row.rank, -row.count, row.hashtag)


class TrendStore:
    """Newest windows of top hashtags and sentiment. Not thread-safe: callers lock."""

    def __init__(self, max_windows: int, max_rows_per_window: int) -> None:
        self.max_windows = max_windows
        self.max_rows_per_window = max_rows_per_window
        self._windows: dict[float, dict[str, TrendRow]] = {}
        self._window_bounds: dict[float, tuple[str, str]] = {}
        self._sentiment: dict[float, SentimentRow] = {}

    def apply(self, trends: list[TrendRow], sentiment: list[SentimentRow]) -> None:
        for row in trends:
            rows = self._windows.setdefault(row.start, {})
            rows[row.hashtag] = row
            self._window_bounds[row.start] = (row.window_start, row.window_end)
            if len(rows) > self.max_rows_per_window:
                worst = max(rows.values(), key=_by_rank)
                del rows[worst.hashtag]
        for srow in sentiment:
            self._sentiment[srow.start] = srow
        self._evict()

    def _evict(self) -> None:
        for start in sorted(self._windows)[: -self.max_windows or None]:
            del self._windows[start]
            del self._window_bounds[start]
        for start in sorted(self._sentiment)[: -self.max_windows or None]:
            del self._sentiment[start]

    def windows(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Windows newest first, each with its rows ordered by rank."""
        starts = sorted(self._windows, reverse=True)[:limit]
        out = []
        for start in starts:
            window_start, window_end = self._window_bounds[start]
            top = sorted(self._windows[start].values(), key=_by_rank)
            out.append({"window_start": window_start, "window_end": window_end,
                        "top": [r.to_dict() for r in top]})
        return out

    def sentiment(self, limit: int | None = None) -> list[dict[str, Any]]:
        starts = sorted(self._sentiment, reverse=True)[:limit]
        return [self._sentiment[s].to_dict() for s in starts]

    def current_top(self, n: int) -> list[TrendRow]:
        """The ``n`` best ranked rows of the newest window (what ``/metrics`` shows)."""
        if not self._windows:
            return []
        newest = self._windows[max(self._windows)]
        return sorted(newest.values(), key=_by_rank)[:n]

    def current_sentiment(self) -> SentimentRow | None:
        return self._sentiment[max(self._sentiment)] if self._sentiment else None
