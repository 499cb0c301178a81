"""The fraud processor's whole-bucket state layout of earlier versions, for takeover tests.

Each bucket kept all its cards in one ValueState named ``bucket`` (``LEGACY_SCHEMA``);
every batch read and rewrote it whole. Spark's Python workers import this module
to run it, so it imports only what the processor does.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
from pyspark.sql.streaming import StatefulProcessorHandle

from streamwatch_processor.fraud.detector import detect_delta
from streamwatch_processor.fraud.processor import (
    LEGACY_NAME,
    LEGACY_SCHEMA,
    TXN_COLUMNS,
    FraudProcessor,
    output_frame,
)
from streamwatch_processor.fraud.state import BucketState


class WholeBucketProcessor(FraudProcessor):
    def init(self, handle: StatefulProcessorHandle) -> None:
        self.bucket = handle.getValueState(LEGACY_NAME, LEGACY_SCHEMA)
        self._rules = None

    def handleInputRows(self, key: Any, rows: Iterator[pd.DataFrame],
                        timerValues: Any) -> Iterator[pd.DataFrame]:
        frames = [f for f in rows if len(f)]
        if not frames:
            return
        new = pd.concat(frames, ignore_index=True)[list(TXN_COLUMNS)]
        rules, status = self._current_rules()
        stored = self.bucket.get()
        state = BucketState.new() if stored is None else BucketState.from_tables(*stored[1:])
        alerts, _, state = detect_delta(
            state, new, rules, ttl_ms=self.ttl_ms,
            detected_at_ms=timerValues.getCurrentProcessingTimeInMs())
        self.bucket.update((self.buckets, *state.to_tables()))
        yield output_frame(alerts, {
            "rules_version": rules.version,
            "rules_reload_errors": int(status.get("reload_errors_total", 0)),
            "cards_in_state": state.n_cards, "recent_rows": state.n_recent,
        })
