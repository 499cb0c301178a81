"""Fraud incidents follow their documented generative parameters; legit traffic keeps
its guarantees.

One generated data set (fraud-heavy so every scenario has incidents) is
checked against the parameters in ``streamwatch.producers.txns.config``
(``docs/fraud-scenarios.md``).
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

# a low rate stretches few events over 5.6 h of event time, long enough for every
# scenario's incidents to complete and for trips; few cards give each a history; a high
# fraud rate gives each scenario dozens of incidents
CONFIG = SimConfig(seed=11, rate=3.0, cards=2_000, fraud_rate=0.1)
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
    trips = devices_changed = 0
    for xs in data.by_card.values():
        ls = [x for x in xs if x.legit]
        for a, b in pairwise(ls):
            assert b.t - a.t >= legit.min_gap_s - 0.001
            d = haversine_km(a.doc["lat"], a.doc["lon"], b.doc["lat"], b.doc["lon"])
            if d > 2 * legit.city_radius_km * 1.01:  # a trip: never faster than a flight
                trips += 1
                assert (b.t - a.t) / 3600 >= legit.min_trip_hours(d) * 0.999
        devices_changed += len({x.doc["device_id"] for x in ls}) > 1
    ls = [x for x in data.txns if x.legit]
    typical = pop.typical_cents(np.array([_slot(x) for x in ls]),
                                np.array([CATEGORIES.index(x.doc["merchant_category"])
                                          for x in ls]))
    big = 0
    for x, typ in zip(ls, typical.tolist(), strict=True):
        slot = _slot(x)
        # never as small as a card test
        assert x.cents > CONFIG.scenarios.card_testing.max_amount_cents
        assert x.cents <= typ * legit.max_ratio + 1
        big += x.cents > typ * legit.big_purchase_ratio[0]
        assert x.doc["device_id"] is not None
        if pop.profile[slot] == IN_PERSON:
            assert x.doc["channel"] != "online"
        assert PROFILES[pop.profile[slot]][2 + CHANNEL_NAMES.index(x.doc["channel"])] > 0
    # the untidy parts of genuine behaviour are all there
    assert trips > 5, trips
    assert devices_changed > 5, devices_changed
    assert big > 5, big
    abroad = sum(x.doc["country"] != pop.country[pop.home_city[_slot(x)]] for x in ls)
    assert abroad > 10


def test_customers_shop_less_at_night(data: Data) -> None:
    pop = data.gen.pop
    hours = np.array([(x.t / 3600 + pop.home_lon[_slot(x)] / 15) % 24 for x in data.txns
                      if x.legit])
    day = np.sum((hours >= 12) & (hours < 18))
    night = np.sum((hours >= 0) & (hours < 6))
    assert night < 0.6 * day


def test_card_testing_incidents_have_their_signature(data: Data) -> None:
    p = CONFIG.scenarios.card_testing
    sig = p.signature()
    for xs in _scenario_incidents(data, "card_testing"):
        assert p.min_txns <= len(xs) <= p.max_txns
        assert all(p.min_amount_cents <= x.cents <= p.max_amount_cents for x in xs)
        assert all(x.doc["channel"] == sig["channel"] for x in xs)
        assert all(p.min_gap_s - 0.001 <= b.t - a.t <= p.max_gap_s + 0.001
                   for a, b in pairwise(xs))


def test_velocity_incidents_have_their_signature(data: Data) -> None:
    p = CONFIG.scenarios.velocity
    sig = p.signature()
    for xs in _scenario_incidents(data, "velocity"):
        assert p.min_txns <= len(xs) <= p.max_txns
        assert all(x.cents >= sig["min_amount_cents"] for x in xs)
        assert all(x.doc["device_id"] is None and x.doc["channel"] == "pos" for x in xs)
        assert xs[sig["min_count"] - 1].t - xs[0].t <= sig["window_s"]


def test_impossible_travel_incidents_have_their_signature(data: Data) -> None:
    p = CONFIG.scenarios.impossible_travel
    for xs in _scenario_incidents(data, "impossible_travel"):
        a, b = xs[0], xs[1]
        assert {x.doc["channel"] for x in xs[1:]} <= {"pos", "atm"}
        assert a.doc["country"] != b.doc["country"]
        assert p.min_gap_s - 0.001 <= b.t - a.t <= p.max_gap_s + 0.001
        d = haversine_km(a.doc["lat"], a.doc["lon"], b.doc["lat"], b.doc["lon"])
        assert d >= p.min_distance_km - 2 * CONFIG.legit.city_radius_km
        assert d / ((b.t - a.t) / 3600) >= p.min_speed_kmh


def test_amount_spike_incidents_have_their_signature(data: Data) -> None:
    p = CONFIG.scenarios.amount_spike
    for xs in _scenario_incidents(data, "amount_spike"):
        (x,) = xs
        ratio = x.cents / _typical(data, x)
        assert p.min_ratio * 0.999 <= ratio
        # ATM amounts are rounded up to whole 20 USD notes
        assert ratio <= p.max_ratio * 1.001 or x.doc["channel"] == "atm"
        assert x.doc["device_id"] is not None  # the owner's own (it may have changed since)


def test_account_takeover_incidents_have_their_signature(data: Data) -> None:
    p = CONFIG.scenarios.account_takeover
    sig = p.signature()
    pop = data.gen.pop
    incidents = _scenario_incidents(data, "account_takeover")
    for xs in incidents:
        slot = _slot(xs[0])
        card = data.by_card[xs[0].doc["card_id"]]
        before = [x for x in card if x.t < xs[0].t]
        assert before and before[-1].legit, "the owner's context purchase precedes"
        assert all(x.doc["channel"] == "online" for x in xs)
        assert len({x.doc["device_id"] for x in xs}) == 1
        assert xs[0].doc["device_id"] != device_name(int(pop.device[slot]))
        assert p.probe_min_amount_cents <= xs[0].cents <= p.probe_max_amount_cents
        assert 1 + p.min_spend_txns <= len(xs) <= 1 + p.max_spend_txns
        assert xs[-1].t - xs[0].t <= sig["spend_within_s"]
        for x in xs[1:]:
            assert p.min_spend_ratio * 0.999 <= (x.cents + 1) / _typical(data, x)
            assert x.cents / _typical(data, x) <= p.max_spend_ratio * 1.001
    deviceless = sum(xs[0].doc["device_id"] is None for xs in incidents)
    abroad = sum(xs[0].doc["country"] != pop.country[pop.home_city[_slot(xs[0])]]
                 for xs in incidents)
    assert 0 < deviceless < len(incidents) and 0 < abroad < len(incidents)
