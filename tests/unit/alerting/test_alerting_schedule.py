"""Retry schedule parsing, jitter, and what each attempt result does (RetryPolicy)."""

from __future__ import annotations

import argparse
import random

import pytest

from streamwatch.alerting.policy import RetryPolicy
from streamwatch.alerting.schedule import DEFAULT_SCHEDULE, next_delay, parse_schedule, total_span
from streamwatch.alerting.store.models import AttemptResult, Claimed


def test_parse_schedule() -> None:
    assert parse_schedule("0,5s,5m,2h,500ms") == (0.0, 5.0, 300.0, 7200.0, 0.5)
    for bad in ("", "1,,2", "soon", "1,-2"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_schedule(bad)


def test_default_schedule_spans_about_three_days() -> None:
    schedule = parse_schedule(DEFAULT_SCHEDULE)
    assert schedule[0] == 0 and schedule[1] == 5
    assert list(schedule) == sorted(schedule)  # backs off, never speeds up
    assert 2.5 * 86400 <= total_span(schedule) <= 3.5 * 86400


def test_jitter_stays_within_its_band_and_varies() -> None:
    rng = random.Random(7)
    delays = [next_delay((0, 100.0), 1, 0.2, rng) for _ in range(200)]
    assert all(d is not None and 80.0 <= d <= 120.0 for d in delays)
    assert len({round(d or 0, 6) for d in delays}) > 100
    assert next_delay((0, 100.0), 2, 0.2, rng) is None
    assert next_delay((0, 100.0), 1, 0.0) == 100.0


def test_retry_after_can_only_postpone() -> None:
    assert next_delay((0, 5.0), 1, 0.0, retry_after=60.0) == 60.0
    assert next_delay((0, 5.0), 1, 0.0, retry_after=1.0) == 5.0
    assert next_delay((0, 5.0), 1, 0.0, retry_after=10 ** 9) == 86_400.0


def _claimed(attempts: int = 0, round_start: int = 0) -> Claimed:
    return Claimed("msg_1", "sub_1", "a" * 64, attempts, round_start, 0, "http://x/",
                   ("whsec_x",), "{}", "owner")


FAIL = AttemptResult(503, 3.0, "HTTP 503")


def test_policy_outcomes() -> None:
    policy = RetryPolicy((0, 1.0, 2.0), jitter=0.0)
    assert policy.decide(_claimed(), AttemptResult(204, 1.0, None), 0, 1000).outcome == (
        "delivered")
    first = policy.decide(_claimed(0), FAIL, 1, 1000)
    assert (first.outcome, first.state, first.next_attempt_ms) == ("retrying", "pending", 2000)
    second = policy.decide(_claimed(1), FAIL, 2, 1000)
    assert second.next_attempt_ms == 3000
    last = policy.decide(_claimed(2), FAIL, 3, 1000)
    assert (last.outcome, last.state) == ("dead", "dead")
    assert last.disable_reason and "failed all 3 attempts" in last.disable_reason


def test_replay_starts_a_fresh_round() -> None:
    policy = RetryPolicy((0, 1.0), jitter=0.0)
    assert policy.decide(_claimed(5, round_start=5), FAIL, 1, 0).outcome == "retrying"
    assert policy.decide(_claimed(6, round_start=5), FAIL, 1, 0).outcome == "dead"


def test_gone_disables_at_once() -> None:
    decision = RetryPolicy((0, 1.0, 2.0)).decide(_claimed(), AttemptResult(410, 1.0, "HTTP 410"),
                                                 1, 0)
    assert (decision.outcome, decision.state) == ("dead", "dead")
    assert decision.disable_reason and "410" in decision.disable_reason


def test_consecutive_failures_park_the_subscription() -> None:
    policy = RetryPolicy((0, 1.0, 2.0), jitter=0.0, disable_after_failures=3)
    assert policy.decide(_claimed(), FAIL, 2, 0).outcome == "retrying"
    parked = policy.decide(_claimed(), FAIL, 3, 0)
    assert (parked.outcome, parked.state) == ("failed", "pending")
    assert parked.disable_reason and "3 consecutive" in parked.disable_reason
