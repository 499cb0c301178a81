"""The contract between a producer's event source and the producer runtime.

A source generates events and hands them, already serialised, to ``emit``:
``emit(feed_name, [payload, ...])`` where each payload is one compact JSON
document (UTF-8 bytes, no newline). The runtime appends them to the feed log
of that name. Sources pace themselves (rate, replay timing, or the pace of an
upstream stream) and return when ``stop`` is set or they are exhausted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

Emit = Callable[[str, list[bytes]], None]


class Source(Protocol):
    @property
    def feeds(self) -> tuple[str, ...]:
        """Feed names this source emits to, e.g. ("transactions", "labels")."""
        ...


    def run(self, emit: Emit, stop: threading.Event) -> None: ...


class Pacer:
    """Tells a generator how many events are due, to hold ``rate`` events/s.

    Works in ticks (default 10 ms) so that a generator emits batches, which the
    feed log appends with one write; a generator that falls behind catches up
    by at most ``max_burst_s`` worth of events instead of flooding.
    """

    def __init__(self, rate: float, tick_s: float = 0.01, max_burst_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.tick_s = tick_s
        self.max_burst_s = max_burst_s
        self._clock = clock
        self._last = clock()
        self._credit = 0.0

    def due(self) -> int:
        now = self._clock()
        self._credit = min(self._credit + (now - self._last) * self.rate,
                           self.rate * self.max_burst_s)
        self._last = now
        n = int(self._credit)
        self._credit -= n
        return n

    def wait(self, stop: threading.Event) -> bool:
        """Sleep one tick; False once ``stop`` is set."""
        return not stop.wait(self.tick_s)
