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
- A batch writes what it changed, not the whole bucket. A bucket's state is a
  log (a MapState keyed by sequence number): entry 0 is a compacted *base*,
  entries 1..n are :class:`state.StateDelta` s. ``meta`` names the base
  (``epoch``), the log length (``seq``) and a random ``token`` for the state
  they produce; each entry carries the token of the state it applies to
  (``prev``) and of the state it gives. After ``COMPACT_AFTER`` entries
  (staggered per bucket, so buckets do not compact in the same batch) the next
  state becomes the new base and the older entries are dropped. Two state
  variables, because registering one costs 20-100 ms per task.
- Each Python worker process keeps the buckets it last worked on in memory
  (:class:`WorkerCache`). A batch reads ``meta``; if the cached state's token
  is ``meta.token``, or leads to it through the log entries written since,
  the bucket costs one small read and the entries it missed; otherwise the
  state is rebuilt from the base and the log. Tokens are fresh random values
  for every write, so a cached state from an attempt whose batch was rolled
  back (a failed task, a restart from the checkpoint) never matches, and the
  checkpoint stays the only source of truth. A batch's cost follows the cards
  it touches, not the cards in state (bench/component-figures.md).
- Rules are read from the snapshot the driver publishes (``rules.publish``)
  once per task, i.e. once per partition per micro-batch, so an edit of the
  rules file reaches every executor at the next micro-batch.
- Output rows are alerts (``kind = 'alert'``) plus one ``kind = 'stats'`` row
  per bucket and batch carrying the rules version, reload error count and
  state size; the job turns those into observed metrics and drops them.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql.streaming import StatefulProcessor, StatefulProcessorHandle

from streamwatch.processor.fraud.detector import detect_delta
from streamwatch.processor.fraud.rules import RuleSet, read_published
from streamwatch.processor.fraud.state import (
    LOG_KEY_SCHEMA,
    LOG_SCHEMA,
    META_SCHEMA,
    TXN_COLUMNS,
    BucketState,
    StateDelta,
)

#: log entries before a bucket is compacted into a new base, plus a per-bucket offset
#: below this (so that the buckets of a job compact in different batches)
COMPACT_AFTER = 16

OUTPUT_SCHEMA = (
    "kind STRING, alert_id STRING, rule STRING, severity STRING, score DOUBLE, card_id STRING, "
    "txn_ids ARRAY<STRING>, event_time STRING, detected_at STRING, reason STRING, "
    "rules_version LONG, rules_reload_errors LONG, cards_in_state LONG, recent_rows LONG"
)
OUTPUT_COLUMNS = [c.split()[0] for c in OUTPUT_SCHEMA.split(", ")]
ALERT_FIELDS = ("alert_id", "rule", "severity", "score", "card_id", "txn_ids", "event_time",
                "detected_at", "reason")


STATS_FIELDS = ("rules_version", "rules_reload_errors", "cards_in_state", "recent_rows")


def input_frame(rows: Iterator[pd.DataFrame]) -> pd.DataFrame | None:
    """A batch's rows of one bucket as one frame of the detector's columns (None if empty)."""
    frames = [f for f in rows if len(f)]
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True)[list(TXN_COLUMNS)]


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


@dataclass(frozen=True)
class Meta:
    """``META_SCHEMA``: the bucket's state is base ``epoch`` + log entries 1..``seq``."""

    buckets: int
    epoch: str
    seq: int
    token: str


@dataclass(frozen=True)
class Cached:
    epoch: str
    seq: int
    token: str
    state: BucketState


class WorkerCache:
    """Bucket states a Python worker process computed, by (job instance, bucket).

    It lives as long as the worker process (Spark reuses workers across tasks), so it
    is module state by necessity: a processor object is unpickled afresh for every task.
    Only a hint: every entry is checked against the checkpoint's token before use.
    """

    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple[str, int], Cached] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int]) -> Cached | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: tuple[str, int], entry: Cached) -> None:
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


WORKER_CACHE = WorkerCache()


class FraudProcessor(StatefulProcessor):
    """Per-bucket fraud detection; see the module docstring."""

    def __init__(self, rules_dir: str, buckets: int, ttl_ms: int, initial: dict[str, Any],
                 instance: str | None = None):
        self.rules_dir = rules_dir
        self.buckets = buckets
        self.ttl_ms = ttl_ms
        # used only if the published snapshot cannot be read (never expected)
        self.initial = initial
        # names this run of the job in the worker caches (a new one per job start)
        self.instance = instance or uuid.uuid4().hex

    def init(self, handle: StatefulProcessorHandle) -> None:
        self.meta = handle.getValueState("meta", META_SCHEMA)
        self.log = handle.getMapState("log", LOG_KEY_SCHEMA, LOG_SCHEMA)
        self._rules: tuple[RuleSet, dict[str, Any]] | None = None

    def _current_rules(self) -> tuple[RuleSet, dict[str, Any]]:
        if self._rules is None:
            try:
                self._rules = read_published(self.rules_dir)
            except (OSError, ValueError, KeyError):
                self._rules = (RuleSet.from_json(self.initial), {"reload_errors_total": 0})
        return self._rules

    # PySpark types one base method for its pandas and its Row API; this processor runs
    # under transformWithStateInPandas only, so it takes and gives pandas frames
    def handleInputRows(self, key: Any, rows: Iterator[pd.DataFrame],  # type: ignore[override]
                        timerValues: Any) -> Iterator[pd.DataFrame]:
        new = input_frame(rows)
        if new is None:
            return
        bucket = int(key[0])
        meta, state = self._load(bucket)
        alerts, delta, state = self._detect(state, new)
        self._save(bucket, meta, delta, state)
        yield self._output(alerts, state)

    def _detect(self, state: BucketState, new: pd.DataFrame
                ) -> tuple[list[dict[str, Any]], StateDelta, BucketState]:
        rules, _ = self._current_rules()
        # The wall clock, not ``timerValues``: without a processing-time mode (see the
        # module docstring) Spark reports its processing time as -1.
        return detect_delta(state, new, rules, ttl_ms=self.ttl_ms,
                            detected_at_ms=time.time_ns() // 1_000_000)

    def _output(self, alerts: list[dict[str, Any]], state: BucketState) -> pd.DataFrame:
        rules, status = self._current_rules()
        return output_frame(alerts, {
            "rules_version": rules.version,
            "rules_reload_errors": int(status.get("reload_errors_total", 0)),
            "cards_in_state": state.n_cards, "recent_rows": state.n_recent,
        })

    def _load(self, bucket: int) -> tuple[Meta, BucketState]:
        """The bucket's state as the checkpoint holds it: from the cache when it is current."""
        value = self.meta.get()
        if value is None:
            fresh = uuid.uuid4().hex
            return Meta(self.buckets, fresh, 0, fresh), BucketState.new()
        meta = Meta(*value)
        self._check_buckets(meta.buckets)
        cached = WORKER_CACHE.get((self.instance, bucket))
        if cached is not None and cached.epoch == meta.epoch and cached.seq <= meta.seq:
            state = self._replay(cached.state, cached.token, cached.seq, meta)
            if state is not None:
                return meta, state
        base = self.log.getValue((0,))
        start = BucketState.new() if base is None else BucketState.from_tables(*base[4:])
        state = self._replay(start, meta.epoch, 0, meta)
        if state is None:
            raise RuntimeError(
                f"fraud state of bucket {bucket} is inconsistent: its log does not lead from "
                f"base {meta.epoch} to state {meta.token}; restore the checkpoint from a copy "
                "or start with a new --checkpoint")
        return meta, state

    def _check_buckets(self, stored: int) -> None:
        if stored != self.buckets:
            raise ValueError(
                f"the checkpoint's fraud state was built with --buckets {stored}, this run "
                f"asks for {self.buckets}; start with --buckets {stored} or a new --checkpoint")

    def _replay(self, state: BucketState, token: str, seq: int, meta: Meta
                ) -> BucketState | None:
        """``state`` (named ``token``, after log entry ``seq``) brought up to ``meta``, or
        None when the log does not lead from it to ``meta.token``."""
        for n in range(seq + 1, meta.seq + 1):
            entry = self.log.getValue((n,))
            if entry is None or entry[0] != token:
                return None
            state = StateDelta.from_value(*entry[2:]).apply(state)
            token = entry[1]
        return state if token == meta.token else None

    def _write_base(self, token: str, state: BucketState) -> None:
        self.log.clear()
        self.log.updateValue((0,), ("", token, b"", b"", *state.to_tables()))

    def _save(self, bucket: int, meta: Meta, delta: StateDelta, state: BucketState) -> None:
        if delta.is_empty and self.meta.exists():
            nxt = meta  # nothing changed (a replayed batch): nothing to write
        else:
            token = uuid.uuid4().hex
            if meta.seq + 1 >= COMPACT_AFTER + bucket % COMPACT_AFTER:
                self._write_base(token, state)
                nxt = Meta(self.buckets, token, 0, token)
            else:
                self.log.updateValue((meta.seq + 1,), (meta.token, token, *delta.to_value()))
                nxt = Meta(self.buckets, meta.epoch, meta.seq + 1, token)
            self.meta.update((nxt.buckets, nxt.epoch, nxt.seq, nxt.token))
        WORKER_CACHE.put((self.instance, bucket), Cached(nxt.epoch, nxt.seq, nxt.token, state))

    def close(self) -> None:
        pass
