"""VADER compound sentiment, vectorised and scored once per distinct text.

Key concepts:
- VADER costs ~80 us per text (PERFORMANCE-NOTES.md), so it bounds the
  hashtags job. ``score_texts`` scores each distinct text of a batch once and
  keeps a bounded LRU cache per Python worker (workers are reused), so
  retweets and repeated texts cost nothing after the first.
- ``sentiment_udf`` is an Arrow UDF (no pandas conversion either way); null
  texts are not scored (callers pass null for rows whose sentiment no result
  needs) and come back null.

Usage::

    df.select(sentiment_udf()(F.col("text")).alias("sentiment"))

Expected output: a DOUBLE column in [-1, 1], null where the text was null.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

CACHE_SIZE = 100_000


@functools.cache
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


class _Lru:
    """Bounded text -> score cache, one per worker process."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[str, float] = OrderedDict()

    def get_or_score(self, texts: Iterable[str]) -> dict[str, float]:
        out: dict[str, float] = {}
        analyzer = _analyzer()
        for t in texts:
            hit = self.data.get(t)
            if hit is None:
                hit = float(analyzer.polarity_scores(t)["compound"])
                self.data[t] = hit
                if len(self.data) > self.size:
                    self.data.popitem(last=False)
            else:
                self.data.move_to_end(t)
            out[t] = hit
        return out


@functools.cache
def _cache() -> _Lru:
    return _Lru(CACHE_SIZE)


def score_texts(texts: list[str | None]) -> list[float | None]:
    """Compound scores of ``texts`` (None stays None); each distinct text scored once."""
    scores = _cache().get_or_score({t for t in texts if t is not None})
    return [None if t is None else scores[t] for t in texts]


def sentiment_udf() -> Any:
    """The Arrow UDF ``text -> compound score`` (built lazily: needs an active session)."""
    import pyarrow as pa
    from pyspark.sql.functions import arrow_udf

    def vader_compound(texts: pa.Array) -> pa.Array:
        return pa.array(score_texts(texts.to_pylist()), type=pa.float64())

    # Real classes, not the postponed strings of `from __future__ import annotations`:
    # arrow_udf infers the UDF kind from them.
    vader_compound.__annotations__ = {"texts": pa.Array, "return": pa.Array}
    return arrow_udf("double")(vader_compound)  # type: ignore[call-overload]
