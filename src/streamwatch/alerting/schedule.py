"""The webhook retry schedule: exponential backoff with jitter.

A schedule is the list of delays before each attempt, the first usually ``0``
(send at once). The default follows the Standard Webhooks example (the one Svix
uses): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h — ten
attempts over about 3 days 3 hours. Jitter spreads retries of many messages that
failed together so a recovering receiver is not hit by a synchronized wave.
"""

from __future__ import annotations

import argparse
import random

from streamwatch.core.flags import duration_seconds

DEFAULT_SCHEDULE = "0,5s,5m,30m,2h,5h,10h,14h,20h,24h"


def parse_schedule(text: str) -> tuple[float, ...]:
    """``"0,5s,5m"`` -> ``(0.0, 5.0, 300.0)``; argparse-friendly errors."""
    parts = [p.strip() for p in text.split(",")]
    if not parts or any(p == "" for p in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a retry schedule; use comma separated delays like 0,5s,5m,2h")
    delays = tuple(duration_seconds(p) for p in parts)
    if any(d < 0 for d in delays):
        raise argparse.ArgumentTypeError("retry delays must be >= 0")
    return delays


def total_span(schedule: tuple[float, ...]) -> float:
    return sum(schedule)


def next_delay(schedule: tuple[float, ...], attempts_made: int, jitter: float,
               rng: random.Random | None = None,
               retry_after: float | None = None) -> float | None:
    """Seconds until the next attempt after ``attempts_made`` attempts, or None when done.

    ``jitter`` is a fraction: a delay ``d`` becomes uniform in ``d*(1-j) .. d*(1+j)``.
    A receiver's ``Retry-After`` can only push the next attempt later, never earlier,
    and never beyond a day.
    """
    if attempts_made >= len(schedule):
        return None
    base = schedule[attempts_made]
    r = rng or random
    delay = base * (1.0 + r.uniform(-jitter, jitter)) if jitter else base
    if retry_after is not None:
        delay = max(delay, min(retry_after, 86_400.0))
    return max(delay, 0.0)
