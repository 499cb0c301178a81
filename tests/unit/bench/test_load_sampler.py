"""The load a figure carries is the load while it was measured, not at the end of the run."""

from __future__ import annotations

import time

import pytest

from bench.common import LoadSampler, load_text, result


def test_a_window_summarises_only_the_samples_inside_it() -> None:
    sampler = LoadSampler(period=60)  # never samples by itself: the samples are set here
    sampler.samples = [(10.0, 1.0, 0.5), (12.0, 3.0, 1.0), (14.0, 9.0, None)]
    w = sampler.window(9.0, 12.5)
    assert w == {"load1_mean": 2.0, "load1_max": 3.0, "cpu_busy_mean": 0.75, "samples": 2}
    assert sampler.window(13.0)["load1_max"] == 9.0
    assert sampler.window(13.0)["cpu_busy_mean"] is None


def test_a_window_without_samples_reports_the_load_now() -> None:
    w = LoadSampler(period=60).window(0.0, 1.0)
    assert w["samples"] == 0 and w["load1_mean"] >= 0


def test_the_sampler_measures_cpu_busy_share_between_samples() -> None:
    sampler = LoadSampler(period=0.2).start()
    t0 = time.monotonic()
    deadline = t0 + 0.7
    while time.monotonic() < deadline:  # keep one core busy
        pass
    w = sampler.window(t0)
    assert w["samples"] >= 2
    assert w["cpu_busy_mean"] is not None and 0.0 < w["cpu_busy_mean"] <= 1.0


def test_every_result_carries_the_load_during_the_run() -> None:
    doc = result("x", figures={"a": 1})
    assert {"load1_mean", "load1_max", "samples"} <= set(doc["machine"]["load_during_run"])
    assert load_text({"load1_mean": 1.5, "load1_max": 2.0, "cpu_busy_mean": 0.5}) == \
        "load 1.5 (max 2), CPU 50 % busy"


def test_the_goals_table_names_each_goal_with_its_baseline_and_load() -> None:
    from bench.report import goals_summary

    doc = result("fraud", figures={"tx": 40_000}, baseline={"detector": 200_000},
                 goals={"tx": {"min": 50_000}},
                 extra={"goal_labels": {"tx": "100k cards, feed, 200k rows a batch"}})
    doc["machine"]["load_during_run"] = {"load1_mean": 1.9, "load1_max": 2.4,
                                         "cpu_busy_mean": 0.97, "samples": 30}
    text = "\n".join(goals_summary({"fraud": doc}))
    assert "100k cards, feed, 200k rows a batch (`tx`)" in text
    assert "**missed** by x1.25" in text and "detector 200,000" in text
    assert "1.9 mean, 2.4 max; CPUs 97 % busy" in text and doc["command"] in text


def test_a_run_among_several_in_one_process_carries_its_own_window() -> None:
    own = {"load1_mean": 0.7, "load1_max": 0.9, "cpu_busy_mean": 0.4, "samples": 12}
    assert result("x", figures={}, load=own)["machine"]["load_during_run"] == own


def test_a_missed_goal_row_says_what_limits_it_from_the_run_s_own_figures(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import report

    monkeypatch.setitem(report.GOAL_LIMITS, ("fraud", "tx"),
                        "state step {share:.0%} of a batch; {absent:,} unknown; "
                        "flat up to {headroom:,.0f}")
    doc = result("fraud", figures={"tx": 40_000, "share": 0.42, "headroom": None},
                 goals={"tx": {"min": 50_000}})
    text = "\n".join(report.goals_summary({"fraud": doc}))
    assert "state step 42% of a batch; ? unknown; flat up to none" in text
    met = result("fraud", figures={"tx": 60_000, "share": 0.42}, goals={"tx": {"min": 50_000}})
    assert "state step" not in "\n".join(report.goals_summary({"fraud": met}))


def test_every_limit_text_names_figures_the_recorded_results_have() -> None:
    import string

    from bench import report

    docs = report.load_results(report.ROOT / "bench" / "results")
    texts = [(name, text) for name, text in report.LIMITS.items()]
    texts += [(name, text) for (name, _), text in report.GOAL_LIMITS.items()]
    checked = 0
    for name, text in texts:
        doc = docs.get(name)
        if doc is None:
            continue
        known = {**doc.get("figures", {}), **doc.get("baseline", {}), **doc.get("ratios", {})}
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        assert fields <= set(known), (name, fields - set(known))
        checked += 1
    assert checked
