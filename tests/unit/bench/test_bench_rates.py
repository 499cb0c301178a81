"""Small helpers of the benchmarks: binned rates keep every event whatever the bin edges;
the e2e latency trend compares the start and the end of the window."""

from __future__ import annotations

import math

import pytest

from bench.bench_alerting import rate_series


@pytest.mark.parametrize("times", [[0.1], [0.1, 0.6], [0.0, 0.2, 0.51, 1.1, 1.6], [0.3] * 5])
def test_rates_times_widths_add_up_to_the_events(times: list[float]) -> None:
    points = rate_series(times, 0.0)
    total, lo = 0.0, 0.0
    for hi, rate in points:
        total += rate * (hi - lo)
        lo = hi
    assert total == pytest.approx(len(times))


def test_a_short_last_bin_joins_the_one_before() -> None:
    # events up to 0.6 s: bins [0, 0.5) and a 0.1 s stub, merged into one bin ending at 0.6
    assert rate_series([0.1, 0.6], 0.0) == [(0.6, pytest.approx(2 / 0.6))]


def test_latency_trend_compares_the_first_and_last_fifth_in_time_order() -> None:
    from bench.bench_e2e_latency import latency_trend

    points = [(float(t), 5.0 - t / 2) for t in range(10)]  # falling from 5 s to 0.5 s
    first, last = latency_trend(list(reversed(points)))
    assert (first, last) == (4.75, 0.75)
    assert latency_trend([(0.0, 2.0)]) == (2.0, 2.0)
    assert all(math.isnan(x) for x in latency_trend([]))


def test_every_result_carries_the_machine_load_and_the_page_shows_it() -> None:
    from bench.common import result
    from bench.report import machine_line

    doc = result("probe", figures={"x": 1}, command="python -m bench.probe", quick=True)
    load = doc["machine"]["load_avg"]
    assert len(load) == 3 and all(isinstance(v, float) and v >= 0 for v in load)
    doc["machine"]["load_avg"] = [1.5, 2.25, 3.0]
    assert "load average 1.5 / 2.25 / 3 (1 / 5 / 15 min)" in machine_line(doc)
