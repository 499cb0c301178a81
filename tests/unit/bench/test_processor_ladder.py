"""The feed-vs-socket ladder's verdicts: a step keeps up only when it processed what was
offered and its lag did not grow; a source's capacity stops at its first step behind."""

from __future__ import annotations

import pytest

from bench.bench_processor import capacity, keeps_up, window_figures


def test_a_step_that_processes_what_is_offered_with_a_flat_lag_keeps_up() -> None:
    assert keeps_up(20_000, 19_800, lag_start=15_000, lag_end=16_000)


def test_a_step_that_processes_too_little_falls_behind() -> None:
    assert not keeps_up(20_000, 18_000, lag_start=15_000, lag_end=15_000)


def test_a_growing_lag_falls_behind_even_at_the_offered_rate() -> None:
    # 98 % processed, but the lag grew by 1.5 s of offered lines over the window
    assert not keeps_up(20_000, 19_600, lag_start=10_000, lag_end=40_000)
    assert keeps_up(20_000, 19_600, lag_start=10_000, lag_end=30_000)  # exactly 1 s: kept


def test_nothing_offered_is_not_keeping_up() -> None:
    assert not keeps_up(0, 0, lag_start=0, lag_end=0)


def _step(offered: float, ok: bool) -> dict[str, object]:
    return {"offered_rps": offered, "keeps_up": ok}


def test_capacity_is_the_highest_rate_kept_before_the_first_step_behind() -> None:
    steps = [_step(9_990, True), _step(19_970, True), _step(29_000, False),
             _step(45_000, True)]  # a later step that kept up (noise) does not count
    assert capacity(steps) == 19_970


def test_capacity_of_a_ladder_behind_at_its_first_step_is_none() -> None:
    assert capacity([_step(5_000, False), _step(10_000, True)]) is None
    assert capacity([]) is None


def test_a_ladder_that_never_fell_behind_reports_its_top_step() -> None:
    assert capacity([_step(10_000, True), _step(20_000, True)]) == 20_000


def test_window_figures_rates_and_lag() -> None:
    # 1,000 lines/s appended from t=0 in 0.1 s ticks; the query processes 1 s batches,
    # each ending 0.5 s after its second ends, until t=6, then nothing more
    appended = [(i / 10, i * 100) for i in range(0, 121)]
    batches = [(s + 0.5, 1_000) for s in range(1, 7)]  # rows of [s-1, s) at s + 0.5
    fig = window_figures(appended, batches, t0=2.0, t1=10.0, edge_s=2.0)
    assert fig["offered_rps"] == pytest.approx(1_000)
    # batches ending in (2, 10]: those at 2.5 .. 6.5, 5,000 rows over 8 s
    assert fig["processed_rps"] == pytest.approx(625)
    assert fig["lag_end_lines"] == pytest.approx(10_000 - 6_000)
    assert fig["lag_end_mean_lines"] > fig["lag_start_lines"] + 2_000
    assert not keeps_up(fig["offered_rps"], fig["processed_rps"], fig["lag_start_lines"],
                        fig["lag_end_mean_lines"])
