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

from streamwatch.processor.fraud.processor import (
    LEGACY_NAME,
    LEGACY_SCHEMA,
    FraudProcessor,
    input_frame,
)
from streamwatch.processor.fraud.state import BucketState


class WholeBucketProcessor(FraudProcessor):
    def init(self, handle: StatefulProcessorHandle) -> None:
        self.bucket = handle.getValueState(LEGACY_NAME, LEGACY_SCHEMA)
        self._rules = None

    def handleInputRows(self, key: Any, rows: Iterator[pd.DataFrame],
                        timerValues: Any) -> Iterator[pd.DataFrame]:
        new = input_frame(rows)
        if new is None:
            return
        stored = self.bucket.get()
        state = BucketState.new() if stored is None else BucketState.from_tables(*stored[1:])
        alerts, _, state = self._detect(state, new)
        self.bucket.update((self.buckets, *state.to_tables()))
        yield self._output(alerts, state)
