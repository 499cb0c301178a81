"""Fraud incidents carry their signature; legit traffic never does.

One generated data set (fraud-heavy so every scenario has incidents) is
checked against the thresholds in ``streamwatch.producers.txns.config``, and simple rules
written from ``docs/fraud-scenarios.md`` must find every incident and nothing
else.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

import numpy as np
import orjson
import pytest

from streamwatch.contracts.events import SCENARIOS, Label, Transaction, parse_ts
from streamwatch.producers.txns.config import CATEGORIES, SimConfig
from streamwatch.producers.txns.geo import haversine_km
from streamwatch.producers.txns.population import CHANNEL_NAMES, IN_PERSON, PROFILES, device_name
from streamwatch.producers.txns.simulator import TxnGenerator

# a low rate stretches few events over 83 min of event time, long enough for every
# scenario's incidents to complete; a high fraud rate gives each scenario dozens
CONFIG = SimConfig(seed=11, rate=12.0, fraud_rate=0.1)
N_EVENTS = 60_000


@dataclass
class Txn:
    doc: dict[str, Any]
    label: dict[str, Any]
    t: float  # epoch seconds
    cents: int

    @property
    def legit(self) -> bool:
        return not self.label["is_fraud"]


@dataclass
class Data:
    gen: TxnGenerator
    txns: list[Txn]
    by_card: dict[str, list[Txn]]
    incidents: dict[str, list[Txn]]


@pytest.fixture(scope="module")
def data() -> Data:
    gen = TxnGenerator(CONFIG)
    raw_txns, raw_labels = gen.take(N_EVENTS)
    txns = []
    for rt, rl in zip(raw_txns, raw_labels, strict=True):
        doc, label = orjson.loads(rt), orjson.loads(rl)
        assert doc["txn_id"] == label["txn_id"]
        txns.append(Txn(doc, label, parse_ts(doc["event_time"]).timestamp(),
                        int(Decimal(doc["amount"]) * 100)))
    by_card: dict[str, list[Txn]] = defaultdict(list)
    incidents: dict[str, list[Txn]] = defaultdict(list)
    for x in sorted(txns, key=lambda x: (x.t, x.doc["txn_id"])):
        by_card[x.doc["card_id"]].append(x)
        if x.label["is_fraud"]:
            incidents[x.label["incident_id"]].append(x)
    return Data(gen, txns, by_card, incidents)


def _scenario_incidents(data: Data, scenario: str) -> list[list[Txn]]:
    """Incidents of ``scenario`` that started early enough to be complete in the data."""
    horizon = data.txns[-1].t - CONFIG.scenarios.params(scenario).max_duration_s()
    out = [xs for xs in data.incidents.values()
           if xs[0].label["scenario"] == scenario and xs[0].t < horizon]
    assert len(out) >= 5, f"too few {scenario} incidents to judge: {len(out)}"
    return out


def _slot(x: Txn) -> int:
    return int(x.doc["customer_id"][2:])


def _typical(data: Data, x: Txn) -> float:
    cat = CATEGORIES.index(x.doc["merchant_category"])
    return float(data.gen.pop.typical_cents(np.array([_slot(x)]), np.array([cat]))[0])


def test_every_event_follows_the_schemas(data: Data) -> None:
    # every fraud event and a sample of legit ones (validation is slow in bulk)
    for x in data.txns[::7] + [x for x in data.txns if not x.legit]:
        Transaction.from_dict(x.doc)
        Label.from_dict(x.label)
    assert all(set(x.doc) == set(Transaction.model_fields) for x in data.txns)
    assert len({x.doc["txn_id"] for x in data.txns}) == len(data.txns)


def test_fraud_share_and_every_scenario_present(data: Data) -> None:
    fraud = sum(not x.legit for x in data.txns)
    # Poisson noise on a few hundred incidents; the target is CONFIG.fraud_rate
    assert 0.5 * CONFIG.fraud_rate < fraud / len(data.txns) < 1.5 * CONFIG.fraud_rate
    assert {xs[0].label["scenario"] for xs in data.incidents.values()} == set(SCENARIOS)


def test_a_card_belongs_to_at_most_one_incident(data: Data) -> None:
    incidents_of_card: dict[str, set[str]] = defaultdict(set)
    for x in data.txns:
        if not x.legit:
            incidents_of_card[x.doc["card_id"]].add(x.label["incident_id"])
    assert all(len(v) == 1 for v in incidents_of_card.values())


def test_legit_traffic_keeps_its_guarantees(data: Data) -> None:
    legit = CONFIG.legit
    pop = data.gen.pop
    for xs in data.by_card.values():
        ls = [x for x in xs if x.legit]
        for a, b in pairwise(ls):
            assert b.t - a.t >= legit.min_gap_s - 0.001
            d = haversine_km(a.doc["lat"], a.doc["lon"], b.doc["lat"], b.doc["lon"])
            assert d <= 2 * legit.city_radius_km * 1.01
            assert d / ((b.t - a.t) / 3600) <= legit.max_speed_kmh() * 1.01
    ls = [x for x in data.txns if x.legit]
    typical = pop.typical_cents(np.array([_slot(x) for x in ls]),
                                np.array([CATEGORIES.index(x.doc["merchant_category"])
                                          for x in ls]))
    for x, typ in zip(ls, typical.tolist(), strict=True):
        slot = _slot(x)
        assert x.cents >= 200
        assert x.cents <= legit.category_ceiling_cents(x.doc["merchant_category"])
        assert x.cents <= typ * legit.max_ratio + 1
        assert x.doc["device_id"] == device_name(int(pop.device[slot]))
        assert x.doc["country"] == pop.country[pop.home_city[slot]]
        if pop.profile[slot] == IN_PERSON:
            assert x.doc["channel"] != "online"
        assert PROFILES[pop.profile[slot]][2 + CHANNEL_NAMES.index(x.doc["channel"])] > 0


def test_card_testing_incidents_have_their_signature(data: Data) -> None:
    p = CONFIG.scenarios.card_testing
    sig = p.signature()
    for xs in _scenario_incidents(data, "card_testing"):
        assert p.min_txns <= len(xs) <= p.max_txns
        assert all(x.cents < sig["tiny_amount_below_cents"] for x in xs)
        assert all(x.doc["channel"] == sig["channel"] for x in xs)
        assert xs[sig["min_count"] - 1].t - xs[0].t <= sig["window_s"]


def test_velocity_incidents_have_their_signature(data: Data) -> None:
    p = CONFIG.scenarios.velocity
    sig = p.signature()
    for xs in _scenario_incidents(data, "velocity"):
        assert p.min_txns <= len(xs) <= p.max_txns
        assert all(x.cents >= sig["min_amount_cents"] for x in xs)
        assert xs[sig["min_count"] - 1].t - xs[0].t <= sig["window_s"]


def test_impossible_travel_incidents_have_their_signature(data: Data) -> None:
    p = CONFIG.scenarios.impossible_travel
    for xs in _scenario_incidents(data, "impossible_travel"):
        a, b = xs[0], xs[1]
        assert {a.doc["channel"], b.doc["channel"]} <= {"pos", "atm"}
        assert a.doc["country"] != b.doc["country"]
        d = haversine_km(a.doc["lat"], a.doc["lon"], b.doc["lat"], b.doc["lon"])
        assert d >= p.min_distance_km - 2 * CONFIG.legit.city_radius_km
        assert d / ((b.t - a.t) / 3600) >= p.min_speed_kmh


def test_amount_spike_incidents_have_their_signature(data: Data) -> None:
    sig = CONFIG.scenarios.amount_spike.signature(CONFIG.legit)
    for xs in _scenario_incidents(data, "amount_spike"):
        (x,) = xs
        assert x.cents > sig["category_ceiling_cents"][x.doc["merchant_category"]]
        assert x.cents > sig["min_ratio_to_card_typical"] * _typical(data, x)


def test_account_takeover_incidents_have_their_signature(data: Data) -> None:
    p = CONFIG.scenarios.account_takeover
    sig = p.signature()
    pop = data.gen.pop
    for xs in _scenario_incidents(data, "account_takeover"):
        slot = _slot(xs[0])
        card = data.by_card[xs[0].doc["card_id"]]
        before = [x for x in card if x.t < xs[0].t]
        assert before and before[-1].legit, "the owner's context purchase precedes"
        assert before[-1].doc["device_id"] == device_name(int(pop.device[slot]))
        assert all(x.doc["channel"] == "online" for x in xs)
        assert len({x.doc["device_id"] for x in xs}) == 1
        assert xs[0].doc["device_id"] != before[-1].doc["device_id"]
        assert xs[0].doc["country"] != before[-1].doc["country"]
        spend = [x for x in xs[1:] if x.cents >= sig["min_spend_cents"]]
        assert spend and spend[0].t - xs[0].t <= sig["spend_within_s"]
        for x in spend:
            assert x.cents < CONFIG.legit.category_ceiling_cents(x.doc["merchant_category"])


# -- simple rules from docs/fraud-scenarios.md find each scenario exactly -------------

def _rule_card_testing(xs: list[Txn]) -> set[str]:
    sig = CONFIG.scenarios.card_testing.signature()
    tiny = [x for x in xs if x.cents < sig["tiny_amount_below_cents"]]
    hits = set()
    for i in range(len(tiny) - sig["min_count"] + 1):
        win = tiny[i:i + sig["min_count"]]
        if win[-1].t - win[0].t <= sig["window_s"]:
            hits.update(x.doc["txn_id"] for x in win)
    return hits


def _rule_velocity(xs: list[Txn]) -> set[str]:
    sig = CONFIG.scenarios.velocity.signature()
    big = [x for x in xs if x.cents >= sig["min_amount_cents"]]
    hits = set()
    for i in range(len(big) - sig["min_count"] + 1):
        win = big[i:i + sig["min_count"]]
        if win[-1].t - win[0].t <= sig["window_s"]:
            hits.update(x.doc["txn_id"] for x in win)
    return hits


def _rule_impossible_travel(xs: list[Txn]) -> set[str]:
    sig = CONFIG.scenarios.impossible_travel.signature()
    present = [x for x in xs if x.doc["channel"] in sig["channels"]]
    hits = set()
    for a, b in pairwise(present):
        d = haversine_km(a.doc["lat"], a.doc["lon"], b.doc["lat"], b.doc["lon"])
        dt_h = max(b.t - a.t, 1.0) / 3600
        if d > sig["min_distance_km"] and d / dt_h > sig["min_speed_kmh"]:
            hits.update((a.doc["txn_id"], b.doc["txn_id"]))
    return hits


def _rule_amount_spike(xs: list[Txn]) -> set[str]:
    ceil = CONFIG.scenarios.amount_spike.signature(CONFIG.legit)["category_ceiling_cents"]
    return {x.doc["txn_id"] for x in xs if x.cents > ceil[x.doc["merchant_category"]]}


def _rule_account_takeover(xs: list[Txn]) -> set[str]:
    sig = CONFIG.scenarios.account_takeover.signature()
    hits = set()
    for i, x in enumerate(xs):
        seen_devices = {y.doc["device_id"] for y in xs[:i]}
        seen_countries = {y.doc["country"] for y in xs[:i]}
        if not seen_devices or x.doc["channel"] != "online":
            continue
        if x.doc["device_id"] in seen_devices or x.doc["country"] in seen_countries:
            continue
        for y in xs[i + 1:]:
            if y.t - x.t > sig["spend_within_s"]:
                break
            if y.doc["device_id"] == x.doc["device_id"] and y.cents >= sig["min_spend_cents"]:
                hits.update((x.doc["txn_id"], y.doc["txn_id"]))
    return hits


RULES = {
    "card_testing": _rule_card_testing,
    "velocity": _rule_velocity,
    "impossible_travel": _rule_impossible_travel,
    "amount_spike": _rule_amount_spike,
    "account_takeover": _rule_account_takeover,
}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_simple_rule_finds_every_incident_and_nothing_else(data: Data, scenario: str) -> None:
    label = {x.doc["txn_id"]: x.label for x in data.txns}
    flagged: set[str] = set()
    for xs in data.by_card.values():
        flagged |= RULES[scenario](xs)
    wrong = [t for t in flagged if label[t]["scenario"] != scenario]
    found = {label[t]["incident_id"] for t in flagged if label[t]["scenario"] == scenario}
    expected = {i for i, xs in data.incidents.items() if xs[0].label["scenario"] == scenario}
    # incidents still running at the end of the data set may lack their last steps
    horizon = data.txns[-1].t - CONFIG.scenarios.params(scenario).max_duration_s()
    complete = {i for i in expected if data.incidents[i][0].t < horizon}
    assert complete
    assert not wrong, f"{len(wrong)} transactions flagged outside {scenario}"
    assert complete <= found, f"missed {len(complete - found)} of {len(complete)} incidents"
    assert len(complete) >= 10, "too few complete incidents to judge"
