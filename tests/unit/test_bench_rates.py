"""``bench_alerting.rate_series``: binned rates keep every event, whatever the bin edges."""

from __future__ import annotations

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
