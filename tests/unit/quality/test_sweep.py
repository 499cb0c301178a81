"""The robustness sweep: configurations stay within their ranges, a tiny sweep reports
every scenario's figures as distributions, and cut-off incidents are not judged."""

from __future__ import annotations

from dataclasses import fields

import numpy as np

from streamwatch.contracts.events import SCENARIOS
from streamwatch.producers.txns.ranges import SweepRanges
from streamwatch.quality.sweep import Generated, SweepSettings, score, summarise, sweep

TINY = SweepSettings(min_events=15_000, max_events=15_000)


def test_drawn_configurations_stay_within_the_ranges() -> None:
    ranges = SweepRanges()
    rng = np.random.default_rng(7)
    for i in range(50):
        cfg = ranges.draw(rng, i)
        assert not cfg.problems()
        sc = cfg.scenarios
        assert ranges.fraud_rate[0] <= cfg.fraud_rate <= ranges.fraud_rate[1]
        lo, hi = ranges.spike_ratio
        assert lo <= sc.amount_spike.min_ratio <= sc.amount_spike.max_ratio <= hi
        lo, hi = ranges.card_testing_txns
        assert lo <= sc.card_testing.min_txns <= sc.card_testing.max_txns <= hi
        lo, hi = ranges.travel_gap_s
        assert lo <= sc.impossible_travel.min_gap_s <= sc.impossible_travel.max_gap_s <= hi
        lo, hi = ranges.takeover_ratio
        assert (lo <= sc.account_takeover.min_spend_ratio
                <= sc.account_takeover.max_spend_ratio <= hi)


def test_a_tiny_sweep_reports_distributions_per_scenario() -> None:
    report = sweep(2, seed=5, settings=TINY)
    assert len(report["runs"]) == 2
    assert report["runs"][0]["config"] != report["runs"][1]["config"]
    summary = report["summary"]
    assert set(summary) == {*SCENARIOS, "overall"}
    for figures in summary.values():
        for q in figures.values():
            if q["n"]:
                assert 0.0 <= q["min"] <= q["p10"] <= q["median"] <= 1.0
    assert summary["overall"]["recall"]["n"] == 2
    # the same seed draws the same configurations and gives the same figures
    assert sweep(2, seed=5, settings=TINY)["runs"] == report["runs"]


def test_incidents_cut_off_by_the_end_are_not_judged() -> None:
    labels = [{"txn_id": "t-1", "is_fraud": True, "scenario": "velocity", "incident_id": "i-1"},
              {"txn_id": "t-2", "is_fraud": True, "scenario": "velocity", "incident_id": "i-2"},
              {"txn_id": "t-3", "is_fraud": False, "scenario": None, "incident_id": None}]
    alerts = [{"alert_id": "a", "rule": "velocity", "txn_ids": ["t-2"]}]
    judged = score(Generated([], labels, unfinished={"i-2"}), alerts)["by_scenario"]["velocity"]
    assert (judged["incidents"], judged["alerts"], judged["recall"]) == (1, 0, 0.0)
    whole = score(Generated([], labels), alerts)["by_scenario"]["velocity"]
    assert (whole["incidents"], whole["alerts"], whole["recall"]) == (2, 1, 0.5)


def test_summary_ignores_configurations_without_a_figure() -> None:
    def report(p: float | None) -> dict:
        fig = {"precision": p, "recall": 1.0, "f1": None}
        return {"by_scenario": dict.fromkeys(SCENARIOS, fig), "overall": fig}

    s = summarise([report(0.5), report(None), report(1.0)])
    assert s["velocity"]["precision"]["n"] == 2
    assert s["velocity"]["precision"]["median"] == 0.75
    assert s["overall"]["f1"]["n"] == 0
    assert {f.name for f in fields(SweepSettings)} >= {"buckets", "batch_rows"}
