"""The ``transformWithStateInPandas`` processor of the fraud job.

Key concepts:
- The grouping key is a *bucket* of cards (``pmod(xxhash64(card_id), N)``),
  not a card: the Python stateful operator costs ~0.7 ms per key per batch,
  so per-card keys cannot keep up with 100k+ cards, while N buckets cost N
  calls per batch whatever the card count. Each bucket keeps the profiles of
  its cards in one value (``state.BucketState``) updated with vectorised
  pandas/numpy code (``detector.detect``).
- State stays bounded without Spark's TTL: there are at most N keys (the
  buckets), and inside a bucket each card expires after ``--state-ttl`` of
  *event* time without a transaction. Spark's state TTL counts processing
  time, which would make a replay of old data forget cards that the original
  run kept; and it needs ``timeMode="ProcessingTime"``, whose timer batches
  keep an ``available-now`` query from ever finishing.
- Rules are read from the snapshot the driver publishes (``rules.publish``)
  once per task, i.e. once per partition per micro-batch, so an edit of the
  rules file reaches every executor at the next micro-batch.
- Output rows are alerts (``kind = 'alert'``) plus one ``kind = 'stats'`` row
  per bucket and batch carrying the rules version, reload error count and
  state size; the job turns those into observed metrics and drops them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql.streaming import StatefulProcessor, StatefulProcessorHandle

from streamwatch_processor.fraud.detector import detect
from streamwatch_processor.fraud.rules import RuleSet, read_published
from streamwatch_processor.fraud.state import STATE_SCHEMA, TXN_COLUMNS, BucketState

OUTPUT_SCHEMA = (
    "kind STRING, alert_id STRING, rule STRING, severity STRING, score DOUBLE, card_id STRING, "
    "txn_ids ARRAY<STRING>, event_time STRING, detected_at STRING, reason STRING, "
    "rules_version LONG, rules_reload_errors LONG, cards_in_state LONG, recent_rows LONG"
)
OUTPUT_COLUMNS = [c.split()[0] for c in OUTPUT_SCHEMA.split(", ")]
ALERT_FIELDS = ("alert_id", "rule", "severity", "score", "card_id", "txn_ids", "event_time",
                "detected_at", "reason")


STATS_FIELDS = ("rules_version", "rules_reload_errors", "cards_in_state", "recent_rows")


def output_frame(alerts: list[dict[str, Any]], stats: dict[str, int]) -> pd.DataFrame:
    """The alert rows plus one stats row, in ``OUTPUT_SCHEMA`` (built column by column:
    a per-bucket call must stay cheap, the processor pays it for every bucket and batch)."""
    n = len(alerts)
    cols: dict[str, Any] = {"kind": ["alert"] * n + ["stats"]}
    for field in ALERT_FIELDS:
        values = [a[field] for a in alerts]
        cols[field] = (np.array([*values, np.nan], dtype=np.float64) if field == "score"
                       else pd.Series([*values, None], dtype=object))
    for field in STATS_FIELDS:
        cols[field] = pd.array([None] * n + [stats[field]], dtype="Int64")
    return pd.DataFrame(cols, columns=OUTPUT_COLUMNS)


class FraudProcessor(StatefulProcessor):
    """Per-bucket fraud detection; see the module docstring."""

    def __init__(self, rules_dir: str, buckets: int, ttl_ms: int, initial: dict[str, Any]):
        self.rules_dir = rules_dir
        self.buckets = buckets
        self.ttl_ms = ttl_ms
        # used only if the published snapshot cannot be read (never expected)
        self.initial = initial

    def init(self, handle: StatefulProcessorHandle) -> None:
        self.value = handle.getValueState("bucket", STATE_SCHEMA)
        self._rules: tuple[RuleSet, dict[str, Any]] | None = None

    def _current_rules(self) -> tuple[RuleSet, dict[str, Any]]:
        if self._rules is None:
            try:
                self._rules = read_published(self.rules_dir)
            except (OSError, ValueError, KeyError):
                self._rules = (RuleSet.from_json(self.initial), {"reload_errors_total": 0})
        return self._rules

    def handleInputRows(self, key: Any, rows: Iterator[pd.DataFrame],
                        timerValues: Any) -> Iterator[pd.DataFrame]:
        frames = [f for f in rows if len(f)]
        if not frames:
            return
        new = pd.concat(frames, ignore_index=True)[list(TXN_COLUMNS)]
        rules, status = self._current_rules()
        state = (BucketState.from_value(self.value.get(), self.buckets)
                 if self.value.exists() else BucketState.new())
        alerts, state = detect(state, new, rules, ttl_ms=self.ttl_ms,
                               detected_at_ms=timerValues.getCurrentProcessingTimeInMs())
        self.value.update(state.to_value(self.buckets))
        yield output_frame(alerts, {
            "rules_version": rules.version,
            "rules_reload_errors": int(status.get("reload_errors_total", 0)),
            "cards_in_state": state.n_cards, "recent_rows": state.n_recent,
        })

    def close(self) -> None:
        pass
