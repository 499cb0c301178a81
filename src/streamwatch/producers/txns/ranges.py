"""The ranges a robustness sweep draws simulator configurations from.

A detector tuned to the simulator's defaults can look perfect and still fail on
traffic written with other parameters. ``streamwatch eval fraud --sweep`` draws
configurations from the ranges below (``docs/fraud-scenarios.md`` lists them)
and reports detection quality as a distribution over them. Each scenario
parameter is drawn as a sub-interval of its range, so one configuration may
hold only small spikes, another only large ones.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from streamwatch.producers.txns.config import SimConfig


@dataclass(frozen=True)
class SweepRanges:
    """Lower and upper bounds of every parameter a sweep varies."""

    fraud_rate: tuple[float, float] = (0.001, 0.05)
    #: transactions per second and cards per transaction-per-second; few cards per unit of
    #: rate means busy cards (long histories), many means cards with little history
    rate: tuple[float, float] = (2.0, 6.0)
    cards_per_rate: tuple[float, float] = (200.0, 500.0)
    card_testing_txns: tuple[int, int] = (3, 12)
    card_testing_cents: tuple[int, int] = (50, 300)
    velocity_txns: tuple[int, int] = (5, 12)
    velocity_gap_s: tuple[float, float] = (3.0, 30.0)
    travel_gap_s: tuple[float, float] = (600.0, 7200.0)
    spike_ratio: tuple[float, float] = (5.0, 30.0)
    takeover_ratio: tuple[float, float] = (3.0, 15.0)
    #: share of takeovers whose fraudster's purchases carry no device id
    takeover_deviceless: tuple[float, float] = (0.0, 0.6)

    def draw(self, rng: np.random.Generator, seed: int) -> SimConfig:
        """One configuration: every parameter drawn within its range."""
        base = SimConfig(seed=seed)
        rate = float(rng.uniform(*self.rate))
        cards = int(rate * rng.uniform(*self.cards_per_rate))
        sc = base.scenarios
        ct_n = _int_span(rng, self.card_testing_txns)
        ct_c = _int_span(rng, self.card_testing_cents)
        v_n = _int_span(rng, self.velocity_txns)
        v_g = _span(rng, self.velocity_gap_s)
        t_g = _span(rng, self.travel_gap_s)
        s_r = _span(rng, self.spike_ratio)
        a_r = _span(rng, self.takeover_ratio)
        scenarios = replace(
            sc,
            card_testing=replace(sc.card_testing, min_txns=ct_n[0], max_txns=ct_n[1],
                                 min_amount_cents=ct_c[0], max_amount_cents=ct_c[1]),
            velocity=replace(sc.velocity, min_txns=v_n[0], max_txns=v_n[1],
                             min_gap_s=v_g[0], max_gap_s=v_g[1]),
            impossible_travel=replace(sc.impossible_travel, min_gap_s=t_g[0], max_gap_s=t_g[1]),
            amount_spike=replace(sc.amount_spike, min_ratio=s_r[0], max_ratio=s_r[1]),
            account_takeover=replace(sc.account_takeover, min_spend_ratio=a_r[0],
                                     max_spend_ratio=a_r[1],
                                     deviceless_share=float(rng.uniform(
                                         *self.takeover_deviceless))),
        )
        return replace(base, rate=rate, cards=max(cards, base.with_(rate=rate).min_cards()),
                       fraud_rate=float(np.exp(rng.uniform(*np.log(self.fraud_rate)))),
                       scenarios=scenarios)


def _span(rng: np.random.Generator, bounds: tuple[float, float]) -> tuple[float, float]:
    """A sub-interval of ``bounds``: two sorted uniform draws."""
    a, b = sorted(float(x) for x in rng.uniform(bounds[0], bounds[1], 2))
    return a, b


def _int_span(rng: np.random.Generator, bounds: tuple[int, int]) -> tuple[int, int]:
    a, b = sorted(int(x) for x in rng.integers(bounds[0], bounds[1] + 1, 2))
    return a, b
