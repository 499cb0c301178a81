"""Detection delay: how long after its event each fraud alert was raised.

``detected_at - event_time`` of every new alert, per rule, as a Prometheus
histogram. It measures the pipeline a user waits on — feed, micro-batch,
stateful rules — from the transaction's own timestamp, so it also shows a
producer whose event times lag (a replay of old data lands in ``+Inf``).

A negative delay means the detector's clock trails the producer's (the
alerting service accepts up to ``DETECTION_CLOCK_SKEW``); it is counted in
the lowest bucket and adds 0 to the sum, which Prometheus expects never to
decrease.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from streamwatch.contracts.events import parse_ts

#: seconds; sub-second up to a batch backlog of an hour
DELAY_BUCKETS: tuple[float, ...] = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
                                    300.0, 3600.0)


@dataclass
class DelayHistogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(DELAY_BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(DELAY_BUCKETS, seconds)] += 1
        self.total += max(0.0, seconds)

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, count)`` pairs as Prometheus' histogram families take them."""
        out, running = [], 0
        for bound, count in zip((*DELAY_BUCKETS, float("inf")), self.counts, strict=True):
            running += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
        return out

    def copy(self) -> DelayHistogram:
        return DelayHistogram(list(self.counts), self.total)


def delay_seconds(alert: Mapping[str, Any]) -> float | None:
    """``detected_at - event_time`` in seconds, or None when either is unreadable."""
    try:
        return (parse_ts(alert["detected_at"]) - parse_ts(alert["event_time"])).total_seconds()
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
