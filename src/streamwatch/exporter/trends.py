"""Hashtag trends and window sentiment: validation and a bounded, superseding store.

Rows arrive in the shape of the hashtags job's output (see
``example_trends.json``). The job runs in update mode, so the same
``window_start`` + ``hashtag`` arrives again as its count grows: the later row
replaces the earlier one. Only the ``max_windows`` newest windows are kept, and
within a window the ``max_rows_per_window`` best ranked hashtags, so memory and
``/metrics`` stay bounded however many tags the stream invents.

``parse_trends`` validates a whole body (``contracts.trends.TrendsBody``) before
``TrendStore.apply`` touches anything, so a bad row anywhere means nothing of that
post is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from streamwatch.contracts.trends import TrendsBody
from streamwatch.exporter.validation import validate


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


def parse_trends(body: Any) -> tuple[list[TrendRow], list[SentimentRow]]:
    """Validate a ``POST /v1/trends`` body; raise ``ValidationError`` naming the field."""
    doc = validate(TrendsBody, body)
    trends = [TrendRow(r.window_start, r.window_end, r.window_start_s, r.hashtag, r.count,
                       r.rank, r.sentiment) for r in doc.trends]
    sentiment = [SentimentRow(r.window_start, r.window_end, r.window_start_s, r.tweets,
                              r.sentiment) for r in doc.sentiment]
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
