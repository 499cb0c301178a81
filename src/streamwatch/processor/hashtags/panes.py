"""Sliding and tumbling windows assembled from final panes, with a durable pane store.

Key concepts:
- The hashtags job aggregates in the JVM per *pane*: a tumbling window of
  ``gcd(window, slide, sentiment window)`` per hashtag, plus one row per pane
  for all tweets (hashtag ``None``). A pane is emitted once, when the watermark
  passes its end (append mode), with ``count``, ``s_sum`` and ``s_n`` (sum and
  number of sentiment scores). Every window of the job is a union of whole
  panes, so its figures are exact sums of pane figures ("No pane, no gain",
  Li et al., SIGMOD Record 2005). One aggregation with one row per tag then
  serves both the 5-minute sliding trends and the 15-minute sentiment windows,
  instead of a 5x expanded sliding aggregation plus a second query that parsed
  and deduplicated the whole input again.
- A window is complete once a pane at or after its end is final: panes become
  final in event-time order, so ``final_through`` (the largest end of a final
  pane so far) only grows. A window is emitted in the first batch whose
  ``final_through`` reaches its end. If the stream pauses, a window whose last
  pane had no tweets waits for the next final pane.
- :class:`PaneStore` keeps each batch's final panes in ``<dir>/<batch_id>.json``
  (written atomically). A batch replayed after a crash reads the panes of the
  batches before it from disk, so it emits exactly the windows of the first
  attempt; sinks are idempotent per batch id. Panes that no re-run of the
  last 100 batches (Spark's ``minBatchesToRetain``) can need are pruned.

Usage::

    store = PaneStore(path, pane_ms=60_000, horizon_ms=max(window_ms, sentiment_window_ms))
    final = store.commit(batch_id, panes)      # panes of earlier batches + these
    trends = trend_windows(final, window_ms, slide_ms, top)
    overall = sentiment_windows(final, sentiment_window_ms)
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamwatch.processor.io.files import write_atomically

# (pane start ms, hashtag or None for all tweets, count, sentiment sum, sentiment n)
Pane = tuple[int, str | None, int, float, int]
RETAIN = 100  # Spark's default spark.sql.streaming.minBatchesToRetain


def pane_ms(*durations_ms: int) -> int:
    """The pane length: the largest duration that divides every window and slide."""
    return math.gcd(*durations_ms)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Final:
    """What a batch may emit: panes within reach, indexed by start, and due window ends."""

    by_start: dict[int, list[Pane]]
    pane_ms: int
    emitted_through: int | None  # window ends <= this were emitted by earlier batches
    final_through: int | None  # window ends <= this are complete now

    def ends(self, length_ms: int, slide_ms: int) -> list[int]:
        """Ends of windows ``[k*slide, k*slide + length)`` that hold a pane and are due now."""
        if self.final_through is None:
            return []
        out: set[int] = set()
        low = self.emitted_through
        for start in self.by_start:
            s = start - start % slide_ms  # the latest window start at or before the pane
            while s + length_ms > start:
                end = s + length_ms
                if (low is None or end > low) and end <= self.final_through:
                    out.add(end)
                s -= slide_ms
        return sorted(out)

    def panes_in(self, start: int, end: int) -> Iterator[Pane]:
        for p_start in range(start, end, self.pane_ms):
            yield from self.by_start.get(p_start, ())


@dataclass
class PaneStore:
    """Final panes per batch id under ``directory``; see the module docstring.

    ``horizon_ms`` is the longest window: older panes can no longer be part of
    a window that is not emitted yet.
    """

    directory: Path
    pane_ms: int
    horizon_ms: int
    _batches: dict[int, dict[str, Any]] = field(default_factory=dict)
    _loaded: bool = False

    def _load(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in self.directory.glob("*.json"):
            if path.stem.isdigit():
                doc = json.loads(path.read_bytes())
                if doc.get("pane_ms", self.pane_ms) != self.pane_ms:
                    raise ValueError(
                        f"{path}: panes of {doc['pane_ms']} ms, but this run uses "
                        f"{self.pane_ms} ms; --window, --slide or --sentiment-window changed: "
                        f"start with a new --checkpoint")
                doc["panes"] = [tuple(p) for p in doc["panes"]]
                doc.setdefault("emitted_through", None)
                self._batches[int(path.stem)] = doc
        self._loaded = True

    def commit(self, batch_id: int, panes: Iterable[Sequence[Any]]) -> Final:
        """Record ``panes`` (final in ``batch_id``); return what windows may use now."""
        if not self._loaded:
            self._load()
        # A replayed batch redoes its own record (and any a rolled-back run left behind).
        for stale in [b for b in self._batches if b >= batch_id]:
            del self._batches[stale]
            (self.directory / f"{stale}.json").unlink(missing_ok=True)
        emitted = [b["final_through"] for b in self._batches.values()]
        emitted_through = max(emitted) if emitted else None
        mine: list[Pane] = sorted(
            ((int(p[0]), p[1], int(p[2]), float(p[3]), int(p[4])) for p in panes),
            key=lambda p: (p[0], p[1] or ""))
        final_through = emitted_through
        if mine:
            newest = mine[-1][0] + self.pane_ms
            final_through = newest if final_through is None else max(final_through, newest)
            doc = {"batch_id": batch_id, "pane_ms": self.pane_ms,
                   "emitted_through": emitted_through, "final_through": final_through,
                   "panes": mine}
            write_atomically(self.directory / f"{batch_id}.json", json.dumps(doc).encode())
            self._batches[batch_id] = doc
        reach = None if emitted_through is None else emitted_through - self.horizon_ms
        self._prune(batch_id)
        by_start: dict[int, list[Pane]] = defaultdict(list)
        for doc in self._batches.values():
            for p in doc["panes"]:
                if reach is None or p[0] >= reach:
                    by_start[p[0]].append(p)
        return Final(dict(by_start), self.pane_ms, emitted_through, final_through)

    def _prune(self, batch_id: int) -> None:
        """Forget batches that no recommit of the last ``RETAIN`` batches can need.

        Spark may re-run any of its last ``minBatchesToRetain`` (100) batches when
        a checkpoint is rolled back; a recommit of batch M reads the panes of
        earlier batches from ``emitted_through(M) - horizon`` on, and
        ``emitted_through`` grows with M, so the oldest retained batch bounds it.
        """
        oldest = batch_id - RETAIN
        kept = [doc["emitted_through"] for b, doc in self._batches.items() if b >= oldest]
        if not kept or any(e is None for e in kept):
            return
        reach = min(kept) - self.horizon_ms
        for b, doc in list(self._batches.items()):
            if b < oldest and all(p[0] < reach for p in doc["panes"]):
                del self._batches[b]
                (self.directory / f"{b}.json").unlink(missing_ok=True)


def trend_windows(final: Final, length_ms: int, slide_ms: int, top: int
                  ) -> list[dict[str, Any]]:
    """Top-``top`` hashtags of each due sliding window, ranked by count desc, tag asc."""
    rows: list[dict[str, Any]] = []
    for end in final.ends(length_ms, slide_ms):
        start = end - length_ms
        per_tag: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
        for _p, tag, count, s_sum, s_n in final.panes_in(start, end):
            if tag is not None:
                acc = per_tag[tag]
                acc[0] += count
                acc[1] += s_sum
                acc[2] += s_n
        ranked = sorted(per_tag.items(), key=lambda kv: (-kv[1][0], kv[0]))[:top]
        for rank, (tag, (total, total_sum, total_n)) in enumerate(ranked, start=1):
            rows.append({"window_start": iso(start), "window_end": iso(end), "hashtag": tag,
                         "count": int(total), "rank": rank,
                         "sentiment": round(total_sum / total_n, 4) if total_n else None})
    return rows


def sentiment_windows(final: Final, length_ms: int) -> list[dict[str, Any]]:
    """Tweets and mean sentiment of each due tumbling window of ``length_ms``."""
    rows = []
    for end in final.ends(length_ms, length_ms):
        start = end - length_ms
        tweets, s_sum, s_n = 0, 0.0, 0
        for _p, tag, count, p_sum, p_n in final.panes_in(start, end):
            if tag is None:
                tweets += count
                s_sum += p_sum
                s_n += p_n
        if tweets:
            rows.append({"window_start": iso(start), "window_end": iso(end), "tweets": tweets,
                         "sentiment": round(s_sum / s_n, 4) if s_n else None})
    return rows
