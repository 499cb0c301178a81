"""bench_e2e_latency's pure parts: the producer's accept trace maps an offset to the batch
that held it, "flat" is the documented rule, the headroom search walks a bounded path, and
the headline trigger is the fraud job's real default."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bench_e2e_latency import (
    DEFAULT_TRIGGER,
    flat_verdict,
    headroom,
    next_rate,
    planned_runs,
    trend,
)
from bench.traced_producer import _Traced, accepted_at, read_trace


def test_an_offset_maps_to_the_batch_whose_range_holds_it(tmp_path: Path) -> None:
    # batches [0, 50) at 10.0, [50, 120) at 10.01, [120, 121) at 10.02
    trace = tmp_path / "t.txt"
    trace.write_text("10.000000 50\n10.010000 120\n10.020000 121\n")
    times, ends = read_trace(trace)
    assert accepted_at(times, ends, 0) == 10.0
    assert accepted_at(times, ends, 49) == 10.0
    assert accepted_at(times, ends, 50) == 10.01
    assert accepted_at(times, ends, 119) == 10.01
    assert accepted_at(times, ends, 120) == 10.02
    assert accepted_at(times, ends, 121) is None  # not produced (yet)
    assert accepted_at(times, ends, -1) is None


def test_a_torn_last_line_and_a_missing_file_are_skipped(tmp_path: Path) -> None:
    trace = tmp_path / "t.txt"
    trace.write_text("1.5 10\n1.6 20\n1.7 2")  # killed mid-write: "2" of "25"
    times, ends = read_trace(trace)
    # "1.7 2" parses but does not grow: dropped, so offset 15 still maps to 1.6
    assert ends == [10, 20] and accepted_at(times, ends, 15) == 1.6
    assert read_trace(tmp_path / "none.txt") == ([], [])


def test_the_traced_source_writes_each_transactions_batch_after_the_records_held(
        tmp_path: Path) -> None:
    class Source:
        feeds = ("transactions", "labels")
        held = {"transactions": 100, "labels": 100}

        def run(self, emit, stop) -> None:  # type: ignore[no-untyped-def]
            emit("labels", [b"l"] * 3)
            emit("transactions", [b"t"] * 3)
            emit("transactions", [])
            emit("transactions", [b"t"] * 2)

    got: list[tuple[str, int]] = []
    path = tmp_path / "trace.txt"
    traced = _Traced(Source(), path, "transactions")
    assert traced.feeds == ("transactions", "labels")
    traced.run(lambda feed, payloads: got.append((feed, len(payloads))), None)
    # every batch reaches the real emit, the empty one too; only transactions are traced
    assert got == [("labels", 3), ("transactions", 3), ("transactions", 0), ("transactions", 2)]
    times, ends = read_trace(path)
    assert ends == [103, 105] and times[0] <= times[1]
    assert accepted_at(times, ends, 102) == times[0] and accepted_at(times, ends, 103) == times[1]


def test_trend_compares_the_first_and_last_fifth_and_says_when_it_grows() -> None:
    steady = [(float(i), 1.0) for i in range(100)]
    t = trend(steady)
    assert t["first_fifth_mean_s"] == t["last_fifth_mean_s"] == 1.0 and not t["growing"]
    rising = [(float(i), 1.0 + i / 50) for i in range(100)]  # 1.2 s -> 2.8 s
    t = trend(rising)
    assert t["growing"] and t["last_over_first"] == pytest.approx(
        t["last_fifth_mean_s"] / t["first_fifth_mean_s"])
    assert t["first_fifth_p50_s"] < t["last_fifth_p50_s"]
    # within 1.25 x + 0.1 s: not growing (1.0 -> 1.34)
    assert not trend([(0.0, 1.0)] * 20 + [(1.0, 1.2)] * 60 + [(2.0, 1.34)] * 20)["growing"]
    assert trend([(0.0, 1.0)] * 20 + [(1.0, 1.2)] * 60 + [(2.0, 1.36)] * 20)["growing"]
    assert trend([])["growing"] is None


def test_flat_needs_a_steady_latency_a_small_lag_and_the_offered_rate() -> None:
    steady = trend([(float(i), 1.0) for i in range(100)])
    assert flat_verdict(5000, steady, 4000, 4990, caught_up=True) == (True, [])
    ok, why = flat_verdict(5000, steady, 10_000, 4990, caught_up=True)  # 2 s of input behind
    assert not ok and "lag" in why[0]
    ok, why = flat_verdict(5000, steady, 4000, 4800, caught_up=True)  # < 0.97 x 5000
    assert not ok and "processed" in why[0]
    ok, why = flat_verdict(5000, trend([(float(i), 1.0 + i / 50) for i in range(100)]),
                           4000, 4990, caught_up=True)
    assert not ok and "grows" in why[0]
    assert flat_verdict(5000, trend([]), None, None, caught_up=True)[0] is False


def test_a_run_that_began_measuring_with_its_start_up_backlog_is_not_flat() -> None:
    # a backlog draining during the window makes latency fall, which the trend rule passes
    draining = trend([(float(i), 3.0 - i / 50) for i in range(100)])
    assert not draining["growing"]
    ok, why = flat_verdict(4000, draining, 3000, 4010, caught_up=False)
    assert not ok and why == [why[0]] and "backlog" in why[0]


def test_the_search_goes_up_while_flat_and_stops_at_the_first_change() -> None:
    flat_below_6500 = {r: r < 6500 for r in (3000.0, 4000.0, 5000.0, 6000.0, 7000.0)}
    history: list[tuple[float, bool]] = []
    while (rate := next_rate(history, 5000, 1000, 3000, 7000)) is not None:
        history.append((rate, flat_below_6500[rate]))
    assert [r for r, _ in history] == [5000, 6000, 7000]
    assert headroom(history) == 6000


def test_the_search_goes_down_while_not_flat_and_stays_within_the_bounds() -> None:
    flat_below_3500 = {r: r < 3500 for r in (2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7000.0)}
    history: list[tuple[float, bool]] = []
    while (rate := next_rate(history, 5000, 1000, 3000, 7000)) is not None:
        history.append((rate, flat_below_3500[rate]))
    assert [r for r, _ in history] == [5000, 4000, 3000]
    assert headroom(history) == 3000
    # never flat down to the floor: no headroom, and no run below the floor
    history = []
    while (rate := next_rate(history, 5000, 1000, 3000, 7000)) is not None:
        history.append((rate, False))
    assert [r for r, _ in history] == [5000, 4000, 3000] and headroom(history) is None
    # always flat: it stops at the cap
    history = []
    while (rate := next_rate(history, 5000, 1000, 3000, 7000)) is not None:
        history.append((rate, True))
    assert [r for r, _ in history] == [5000, 6000, 7000] and headroom(history) == 7000


@pytest.mark.parametrize(("start", "floor", "cap", "runs"),
                         [(5000, 3000, 7000, 3), (5000, 2000, 7000, 4), (5000, 5000, 5000, 1),
                          (5000, 1000, 6000, 5)])
def test_planned_runs_is_the_longest_path_of_the_search(start: float, floor: float, cap: float,
                                                       runs: int) -> None:
    assert planned_runs(start, 1000, floor, cap) == runs
    for verdict in (True, False):
        history: list[tuple[float, bool]] = []
        while (rate := next_rate(history, start, 1000, floor, cap)) is not None:
            history.append((rate, verdict))
        assert len(history) <= runs


def test_the_headline_trigger_is_the_fraud_jobs_default() -> None:
    import dataclasses

    from streamwatch.processor.settings import FraudSettings, trigger_value

    default = {f.name: f.default for f in dataclasses.fields(FraudSettings)}
    assert trigger_value(DEFAULT_TRIGGER) == default["trigger"]
    assert default["max_records_per_trigger"] == 0  # what measure() passes
