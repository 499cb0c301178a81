"""Each rule fires on a crafted sequence and stays quiet on legit-looking ones;
alert ids are deterministic and independent of micro-batch boundaries; the
event-time TTL bounds the state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from streamwatch.contracts.events import Alert, alert_id
from streamwatch.processor.fraud.detector import detect, detect_delta
from streamwatch.processor.fraud.rules import RuleSet, default_rules_path, load_rules
from streamwatch.processor.fraud.state import BucketState, StateDelta, with_keys

T0 = 1_795_000_000_000
TTL_MS = 2 * 3600 * 1000
NYC = (40.71, -74.00, "US")
TOKYO = (35.68, 139.69, "JP")
LISBON = (38.72, -9.14, "PT")


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(default_rules_path())


def txn(n: int, card: str, t_s: float, amount: float, *, cat: str = "grocery",
        channel: str = "pos", where: tuple[float, float, str] = NYC,
        device: str | None = "d-owner") -> dict[str, Any]:
    return {"txn_id": f"t-{n:06d}", "card_id": card, "ts": T0 + int(t_s * 1000),
            "amount": amount, "merchant_category": cat, "channel": channel,
            "lat": where[0], "lon": where[1], "country": where[2], "device_id": device}


def run(rows: Sequence[dict[str, Any]], rules: RuleSet, *, batches: int = 1,
        state: BucketState | None = None) -> tuple[list[dict[str, Any]], BucketState]:
    df = with_keys(pd.DataFrame(rows))
    st = state or BucketState.new()
    out: list[dict[str, Any]] = []
    for part in np.array_split(np.arange(len(df)), batches):
        # detected a second after the batch's newest transaction, as a live job would be
        detected = int(df["ts"].iloc[part].max()) + 1000
        alerts, st = detect(st, df.iloc[part], rules, ttl_ms=TTL_MS, detected_at_ms=detected)
        out += alerts
    return out, st


def legit_history(card: str, start_n: int, count: int = 6) -> list[dict[str, Any]]:
    """A genuine card: one purchase every 5 minutes at home, one device."""
    return [txn(start_n + i, card, i * 300, 30.0 + 5 * i) for i in range(count)]


def rules_fired(alerts: list[dict[str, Any]]) -> list[str]:
    return sorted(a["rule"] for a in alerts)


def test_card_testing_fires_on_tiny_burst(rules: RuleSet) -> None:
    rows = legit_history("c-1", 0) + [
        txn(100 + i, "c-1", 2000 + 5 * i, 0.5 + 0.3 * i, channel="online", device="d-bot")
        for i in range(4)]
    alerts, _ = run(rows, rules)
    assert rules_fired(alerts) == ["card_testing"]
    a = alerts[0]
    assert a["txn_ids"] == ["t-000100", "t-000101", "t-000102"]
    assert a["reason"] == "3 transactions at or under 3.00 USD in 60 s"
    assert a["alert_id"] == alert_id("card_testing", "c-1", "t-000100")
    Alert.from_dict(a)  # valid against the shared schema, id included


def test_tiny_amounts_spread_out_are_legit(rules: RuleSet) -> None:
    rows = [txn(i, "c-2", i * 61, 1.5) for i in range(10)]
    alerts, _ = run(rows, rules)
    assert alerts == []


def test_velocity_fires_on_many_purchases(rules: RuleSet) -> None:
    rows = legit_history("c-3", 0) + [txn(100 + i, "c-3", 3000 + 10 * i, 25.0) for i in range(7)]
    alerts, _ = run(rows, rules)
    assert rules_fired(alerts) == ["velocity"]  # cooldown: one alert per burst
    assert len(alerts[0]["txn_ids"]) == 4


def test_impossible_travel_fires_on_far_hop(rules: RuleSet) -> None:
    rows = [*legit_history("c-4", 0), txn(100, "c-4", 2400, 80.0, where=TOKYO)]
    alerts, _ = run(rows, rules)
    assert rules_fired(alerts) == ["impossible_travel"]
    assert alerts[0]["txn_ids"] == ["t-000005", "t-000100"]
    assert "US to JP" in alerts[0]["reason"]


def test_travel_at_plane_speed_is_legit(rules: RuleSet) -> None:
    # NYC -> Lisbon is ~5,400 km; 8 hours later is ~680 km/h
    rows = [*legit_history("c-5", 0), txn(100, "c-5", 1500 + 8 * 3600, 60.0, where=LISBON)]
    alerts, _ = run(rows, rules)
    assert alerts == []


def test_amount_spike_fires_far_above_category(rules: RuleSet) -> None:
    rows = [*legit_history("c-6", 0), txn(100, "c-6", 2000, 2500.0, cat="electronics")]
    alerts, _ = run(rows, rules)
    assert rules_fired(alerts) == ["amount_spike"]


def test_big_but_usual_travel_purchase_is_legit(rules: RuleSet) -> None:
    rows = [*legit_history("c-7", 0), txn(100, "c-7", 2000, 1200.0, cat="travel")]
    alerts, _ = run(rows, rules)
    assert alerts == []


def test_account_takeover_fires_on_spend_after_new_device_abroad(rules: RuleSet) -> None:
    thief = {"channel": "online", "where": LISBON, "device": "d-thief"}
    rows = [*legit_history("c-8", 0),
            txn(100, "c-8", 3000, 20.0, cat="online_retail", **thief),
            txn(101, "c-8", 3300, 700.0, cat="electronics", **thief)]
    alerts, _ = run(rows, rules)
    assert rules_fired(alerts) == ["account_takeover"]
    assert alerts[0]["txn_ids"] == ["t-000101"]
    assert "km from the owner's device 30 min before" in alerts[0]["reason"]
    assert alerts[0]["severity"] in ("medium", "high")


def test_a_moderate_spend_from_a_device_out_of_the_owners_reach_is_a_takeover(
        rules: RuleSet) -> None:
    # twice the card's usual is no takeover at home; from Lisbon, minutes after the owner
    # used the card's phone in New York (an earlier batch), it is
    thief = {"channel": "online", "where": LISBON, "device": "d-thief"}
    history, st = run(legit_history("c-11", 0), rules)
    assert history == []
    alerts, _ = run([txn(100, "c-11", 1700, 15.0, cat="online_retail", **thief),
                     txn(101, "c-11", 1800, 90.0, cat="online_retail", **thief)],
                    rules, state=st)
    assert [a["rule"] for a in alerts] == ["account_takeover"]
    assert "km from the owner's device" in alerts[0]["reason"]


def test_the_owners_new_device_abroad_after_a_flight_is_legit(rules: RuleSet) -> None:
    # the owner flies to Lisbon (8 h) and shops there on a new tablet, once big
    traveller = {"channel": "online", "where": LISBON, "device": "d-tablet"}
    rows = [*legit_history("c-12", 0),
            txn(100, "c-12", 1500 + 8 * 3600, 30.0, cat="online_retail", **traveller),
            txn(101, "c-12", 1700 + 8 * 3600, 120.0, cat="online_retail", **traveller)]
    alerts, _ = run(rows, rules, batches=2)
    assert alerts == []


def test_a_new_devices_first_purchase_is_judged_as_a_purchase(rules: RuleSet) -> None:
    # far above the card's usual, but the device's first purchase: amount_spike's to judge;
    # the same device's next big purchase is a takeover's pattern (tried, then spent)
    laptop = {"channel": "online", "device": "d-laptop"}
    rows = [*legit_history("c-13", 0),
            txn(100, "c-13", 2000, 2500.0, cat="electronics", **laptop),
            txn(101, "c-13", 2200, 2400.0, cat="electronics", **laptop)]
    alerts, _ = run(rows, rules)
    assert [(a["rule"], a["txn_ids"]) for a in alerts] == [
        ("amount_spike", ["t-000100"]), ("account_takeover", ["t-000101"])]


def test_the_device_a_card_starts_with_is_not_new_to_it(rules: RuleSet) -> None:
    # a fresh card bought with its owner's phone: big, but nothing points to a thief
    rows = [txn(0, "c-14", 0, 40.0, channel="online", cat="online_retail"),
            txn(1, "c-14", 300, 400.0, channel="online", cat="online_retail")]
    alerts, _ = run(rows, rules)
    assert "account_takeover" not in rules_fired(alerts)


def test_owner_buying_online_at_home_on_a_new_laptop_is_legit(rules: RuleSet) -> None:
    # about twice the card's usual: a new device alone is no takeover
    rows = [*legit_history("c-9", 0),
        txn(100, "c-9", 3000, 110.0, cat="online_retail", channel="online", device="d-laptop")]
    alerts, _ = run(rows, rules)
    assert alerts == []


def test_a_device_first_used_in_an_earlier_batch_is_still_unknown(rules: RuleSet) -> None:
    history, st = run([*legit_history("c-10", 0),
        txn(100, "c-10", 3000, 20.0, channel="online", where=LISBON, device="d-x")], rules)
    assert history == []
    alerts, _ = run([txn(101, "c-10", 3500, 900.0, cat="travel", channel="online",
                         where=LISBON, device="d-x")], rules, state=st)
    assert [a["txn_ids"] for a in alerts] == [["t-000101"]]
    assert "8 min after its first use" in alerts[0]["reason"]


def _mixed_sequence() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for k in range(20):
        card = f"c-{k:03d}"
        rows += [txn(k * 100 + i, card, k * 7 + i * 300, 20.0 + i) for i in range(5)]
        if k % 4 == 0:
            rows += [txn(k * 100 + 50 + i, card, 1600 + k + 4 * i, 1.0, channel="online")
                     for i in range(4)]
        if k % 4 == 1:
            rows += [txn(k * 100 + 60, card, 1700 + k, 70.0, where=TOKYO)]
        if k % 4 == 2:
            rows += [txn(k * 100 + 70 + i, card, 1800 + 9 * i, 40.0) for i in range(6)]
    return sorted(rows, key=lambda r: (r["ts"], r["txn_id"]))


@pytest.mark.parametrize("batches", [2, 3, 7, 40])
def test_alert_ids_do_not_depend_on_batch_boundaries(rules: RuleSet, batches: int) -> None:
    whole, _ = run(_mixed_sequence(), rules)
    split, _ = run(_mixed_sequence(), rules, batches=batches)
    assert len(whole) == 15
    assert sorted(a["alert_id"] for a in split) == sorted(a["alert_id"] for a in whole)


def test_replayed_transactions_do_not_alert_twice(rules: RuleSet) -> None:
    rows = _mixed_sequence()
    first, st = run(rows, rules)
    again, _ = run(rows[-10:], rules, state=st)
    assert first and again == []


def test_state_survives_serialisation(rules: RuleSet) -> None:
    rows = _mixed_sequence()
    half = len(rows) // 2
    _, st = run(rows[:half], rules)
    restored = BucketState.from_tables(*st.to_tables())
    direct, _ = run(rows[half:], rules, state=st)
    via_bytes, _ = run(rows[half:], rules, state=restored)
    assert [a["alert_id"] for a in via_bytes] == [a["alert_id"] for a in direct]


def _same_state(a: BucketState, b: BucketState) -> None:
    for x, y in zip((a.recent, a.cards, a.seen), (b.recent, b.cards, b.seen), strict=True):
        pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True))


def test_a_log_of_deltas_rebuilds_the_state_row_for_row(rules: RuleSet) -> None:
    """What the processor relies on: base + every batch's delta (through its bytes)
    gives exactly the state the detector went on with, expiry included."""
    rows = _mixed_sequence()
    late = [txn(5000 + i, f"c-late-{i}", TTL_MS / 1000 + 7200 + i, 20.0) for i in range(3)]
    df = with_keys(pd.DataFrame(rows + late))
    state = rebuilt = BucketState.new()
    expired_total = 0
    for part in np.array_split(np.arange(len(df)), 7):
        _, delta, state = detect_delta(state, df.iloc[part], rules, ttl_ms=TTL_MS,
                                       detected_at_ms=T0)
        expired_total += len(delta.expired)
        rebuilt = StateDelta.from_value(*delta.to_value()).apply(rebuilt)
        _same_state(rebuilt, state)
    assert expired_total > 0  # the late cards pushed the early ones past the TTL
    _, delta, again = detect_delta(state, df.iloc[-2:], rules, ttl_ms=TTL_MS,
                                   detected_at_ms=T0)
    assert delta.is_empty  # a replayed batch changes nothing
    _same_state(again, state)


def test_event_time_ttl_bounds_state(rules: RuleSet) -> None:
    early = [txn(i, f"c-old-{i}", i, 20.0) for i in range(50)]
    _, st = run(early, rules)
    assert len(st.cards) == 50
    later = [txn(1000 + i, f"c-new-{i}", TTL_MS / 1000 + 3600 + i, 20.0) for i in range(5)]
    _, st = run(later, rules, state=st)
    assert sorted(st.cards["card"]) == sorted(with_keys(pd.DataFrame(later))["card"])
    assert set(st.recent["card"]) <= set(st.cards["card"])
    assert set(st.seen["card"]) <= set(st.cards["card"])


def test_card_silent_longer_than_ttl_starts_afresh(rules: RuleSet) -> None:
    # history says "spends ~1 USD"; after the TTL the card has no history, so the
    # per-card ratio cannot fire, while the category rule still does for huge amounts
    rows = [txn(i, "c-11", i * 300, 1.2, cat="fuel") for i in range(6)]
    rows.append(txn(100, "c-11", 6 * 300 + TTL_MS / 1000 + 1, 45.0, cat="fuel"))
    alerts, st = run(rows, rules, batches=2)
    assert alerts == []
    assert int(st.cards["n_txns"].iloc[0]) == 1


def test_disabled_rule_does_not_run(rules: RuleSet) -> None:
    from dataclasses import replace

    off = RuleSet(rules=tuple(replace(r, enabled=r.name != "card_testing") for r in rules.rules))
    rows = legit_history("c-12", 0) + [
        txn(100 + i, "c-12", 2000 + 5 * i, 0.5, channel="online") for i in range(4)]
    assert rules_fired(run(rows, rules)[0]) == ["card_testing"]
    assert run(rows, off)[0] == []


# --- micro-batch independence on a generated data set ------------------------------------
#
# The job feeds the detector micro-batches of any size (and the sweep feeds it others): on
# simulator data, uneven batches over several card
# buckets give the alerts of one batch per bucket, field by field but detected_at.

BUCKETS = 4
#: uneven micro-batch sizes, cycled over the delivery-ordered stream
UNEVEN_BATCHES = (1500, 37, 4000, 1, 900, 2600, 250)


def _generated_input() -> pd.DataFrame:
    """15k simulator transactions with 5 % fraud, in event-time order (a late event is
    judged against what arrived before it, so boundaries matter for late data)."""
    import orjson

    from streamwatch.producers.txns.config import SimConfig
    from streamwatch.producers.txns.simulator import TxnGenerator

    cfg = SimConfig(seed=3, rate=5.0, cards=1_000, fraud_rate=0.05)
    txns, _ = TxnGenerator(cfg).take(15_000)
    df = pd.DataFrame([orjson.loads(x) for x in txns])
    df["ts"] = pd.to_datetime(df["event_time"]).astype("int64") // 1_000_000
    df["amount"] = df["amount"].astype(float)
    return with_keys(df)


def _bucketed_run(df: pd.DataFrame, rules: RuleSet, ttl_ms: int,
                  sizes: Sequence[int]) -> list[dict[str, Any]]:
    bucket = np.mod(df["card"].to_numpy(), BUCKETS)
    states = [BucketState.new() for _ in range(BUCKETS)]
    alerts: list[dict[str, Any]] = []
    start, k = 0, 0
    while start < len(df):
        end = start + sizes[k % len(sizes)]
        batch, in_batch = df.iloc[start:end], bucket[start:end]
        for b in range(BUCKETS):
            part = batch[in_batch == b]
            if len(part):
                out, states[b] = detect(states[b], part, rules, ttl_ms=ttl_ms,
                                        detected_at_ms=T0)
                alerts += out
        start, k = end, k + 1
    return sorted(alerts, key=lambda a: a["alert_id"])


def test_uneven_micro_batches_give_the_alerts_of_one_batch(rules: RuleSet) -> None:
    # with the default TTL no card of this 50-minute stream expires: expiry is judged
    # against the bucket's newest transaction, which does depend on the batches
    ttl_ms = TTL_MS
    df = _generated_input()
    whole = _bucketed_run(df, rules, ttl_ms, [len(df)])
    split = _bucketed_run(df, rules, ttl_ms, UNEVEN_BATCHES)
    assert split == whole
    assert {a["rule"] for a in whole} == set(rules.enabled())
    for a in whole:
        Alert.from_dict({**a, "detected_at": a["event_time"]})
