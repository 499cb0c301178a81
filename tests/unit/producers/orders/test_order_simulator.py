"""The order generator: valid events, order lifecycles, resends, disorder, determinism."""

from __future__ import annotations

import statistics
import threading
from collections import Counter, defaultdict
from typing import Any

import orjson
import pytest

from streamwatch.contracts.events import EventError, OrderEvent, parse_ts
from streamwatch.producers.orders.cli import build_config, world_params
from streamwatch.producers.orders.simulator import (
    CATEGORIES,
    REGIONS,
    Lifecycle,
    OrderConfig,
    OrderGenerator,
    OrderSource,
)

ANCHOR = "2026-11-20T10:00:00Z"
ANCHOR_MS = int(parse_ts(ANCHOR).timestamp() * 1000)


def events(n: int, **changes: Any) -> list[dict[str, Any]]:
    config = OrderConfig(seed=3, rate=200, anchor_ms=ANCHOR_MS, **changes)
    return [orjson.loads(e) for e in OrderGenerator(config).take(n)]


def ms(event: dict[str, Any]) -> int:
    return int(parse_ts(event["event_time"]).timestamp() * 1000)


def by_order(evs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in evs:
        out[e["order_id"]].append(e)
    return out


def test_every_event_is_a_valid_order_event() -> None:
    evs = events(20_000, time_scale=14_400)  # returns come 1-14 days after delivery
    for e in evs:
        OrderEvent.from_dict(e)
        assert e["event_time"].endswith("Z") and len(e["event_time"]) == 24
        assert e["region"] in REGIONS
        for item in e["items"]:
            assert item["category"] in CATEGORIES
            assert isinstance(item["quantity"], int) and item["quantity"] >= 1
    assert {e["status"] for e in evs} == {"purchased", "shipped", "delivered", "cancelled",
                                           "returned"}
    # without resends every event id is unique
    assert len({e["event_id"] for e in evs}) == len(evs)


def test_orders_follow_their_lifecycle_in_event_time() -> None:
    allowed = {("purchased",), ("purchased", "cancelled"), ("purchased", "shipped"),
               ("purchased", "shipped", "delivered"),
               ("purchased", "shipped", "delivered", "returned")}
    evs = events(20_000)
    for order_id, steps in by_order(evs).items():
        steps.sort(key=ms)
        statuses = tuple(s["status"] for s in steps)
        if statuses[0] != "purchased":
            continue  # not possible without disorder; asserted below
        assert statuses in allowed, (order_id, statuses)
        times = [ms(s) for s in steps]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert all(s["items"] == steps[0]["items"] for s in steps)
        assert all(s["region"] == steps[0]["region"] for s in steps)
        assert all(s["event_id"] == f"{order_id}/{s['status']}" for s in steps)
    # the first events are purchases (nothing earlier exists to ship)
    assert evs[0]["status"] == "purchased"


def test_time_scale_compresses_the_delays() -> None:
    life = Lifecycle()
    for scale in (1440.0, 14400.0):
        evs = events(20_000, time_scale=scale)
        delays = []
        for steps in by_order(evs).values():
            at = {s["status"]: ms(s) for s in steps}
            if "purchased" in at and "shipped" in at:
                delays.append((at["shipped"] - at["purchased"]) / 1000 * scale)
        assert len(delays) > 100
        assert all(life.ship_min_s - 1 <= d <= life.ship_max_s + scale / 1000 for d in delays)
        # the median of the real-world delay stays near its parameter (lognormal, sigma .6)
        assert 0.8 * life.ship_median_s < statistics.median(delays) < 1.25 * life.ship_median_s


def test_rate_orders_are_purchased_per_second_of_event_time() -> None:
    config = OrderConfig(seed=3, rate=37.5, anchor_ms=ANCHOR_MS)
    gen = OrderGenerator(config)
    evs = [orjson.loads(e) for e in gen.take_until(60_000)]
    assert all(ms(e) < ANCHOR_MS + 60_000 for e in evs)
    assert sum(e["status"] == "purchased" for e in evs) == 60 * 37.5
    # and the shipped and delivered events of the first orders follow within the minute
    assert {e["status"] for e in evs} >= {"purchased", "shipped", "delivered"}
    assert 2.0 < config.events_per_order() < 3.0


def test_the_same_seed_gives_the_same_events_however_they_are_taken() -> None:
    config = OrderConfig(seed=9, rate=500, anchor_ms=ANCHOR_MS, duplicate_rate=0.1,
                         disorder_s=3, late_fraction=0.05, late_by_s=120)
    whole = OrderGenerator(config).take(6000)
    gen = OrderGenerator(config)
    pieces = [e for size in (1, 7, 992, 3000, 2000) for e in gen.take(size)]
    assert pieces == whole
    assert OrderGenerator(config.with_(seed=10)).take(6000) != whole


def test_resends_repeat_the_event_exactly_at_the_configured_share() -> None:
    config = OrderConfig(seed=4, rate=300, anchor_ms=ANCHOR_MS, duplicate_rate=0.1,
                         duplicate_delay_s=5)
    gen = OrderGenerator(config)
    raw = gen.take(20_000)
    counts = Counter(raw)
    twice = [e for e, c in counts.items() if c == 2]
    assert max(counts.values()) == 2
    assert 0.08 < len(twice) / len(counts) < 0.12
    # a resend is the same bytes, so the same event_id
    ids = Counter(orjson.loads(e)["event_id"] for e in raw)
    assert sum(1 for c in ids.values() if c == 2) == len(twice)


def test_disorder_and_late_events_change_delivery_not_event_time() -> None:
    in_order = events(10_000)
    assert [ms(e) for e in in_order] == sorted(ms(e) for e in in_order)
    late = events(20_000, disorder_s=2, late_fraction=0.02, late_by_s=30)
    times = [ms(e) for e in late]
    assert times != sorted(times)
    # an event delivered after one more than 25 s newer is late (not merely disordered);
    # those of the last 30 s of event time are not delivered yet
    newest, behind = 0, 0
    for t in times:
        newest = max(newest, t)
        behind += newest - t > 25_000
    assert 0.005 * len(times) < behind < 0.03 * len(times)


def test_epoch_two_ids_carry_the_epoch() -> None:
    evs = events(100, epoch=2)
    assert all(e["order_id"].startswith("o-e2-") for e in evs)
    assert events(1)[0]["order_id"] == "o-000000001"


@pytest.mark.parametrize(("changes", "flag"), [
    ({"--rate": 0.0}, "--rate"),
    ({"--time-scale": 0.5}, "--time-scale"),
    ({"--cancel-rate": 1.5}, "--cancel-rate"),
    ({"--late-fraction": 0.1, "--late-by": 0.0}, "--late-by"),
])
def test_bad_flags_are_refused_naming_the_flag(changes: dict[str, Any], flag: str) -> None:
    params = {"--seed": 1, "--rate": 100.0, "--start-time": ANCHOR, "--time-scale": 1440.0,
              "--cancel-rate": 0.05, "--return-rate": 0.04, "--duplicate-rate": 0.0,
              "--duplicate-delay": 5.0, "--disorder": 0.0, "--late-fraction": 0.0,
              "--late-by": 0.0}
    with pytest.raises(ValueError, match=flag):
        build_config({**params, **changes})


def test_world_params_leave_seed_and_now_to_the_record() -> None:
    import argparse

    from streamwatch.producers.orders import cli
    from streamwatch.producers.orders.settings import OrdersSettings
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    params = world_params(OrdersSettings.from_args(parser.parse_args([]), {}))
    assert params["--seed"] is None and params["--start-time"] is None
    assert set(params) == set(cli.WORLD_FLAGS)


def test_the_source_skips_what_the_feed_holds_and_stops_at_max_events() -> None:
    config = OrderConfig(seed=5, rate=1000, anchor_ms=ANCHOR_MS, max_events=700)
    reference = OrderGenerator(config).take(700)
    got: list[bytes] = []
    clock = iter(i / 10 for i in range(10_000))  # 100 ms of event time a tick
    source = OrderSource(config, held=300, tick_s=0.0, clock=lambda: next(clock))
    source.run(lambda feed, payloads: got.extend(payloads), threading.Event())
    assert got == reference[300:]


def test_order_event_names_every_bad_field() -> None:
    good = events(1)[0]
    bad = {**good, "status": "lost", "items": [{"sku": "x", "category": "books",
                                                 "quantity": 0, "unit_price": "1,50"}]}
    with pytest.raises(EventError) as err:
        OrderEvent.from_dict(bad)
    assert {e["field"] for e in err.value.errors} == {
        "status", "items[0].quantity", "items[0].unit_price"}
    assert OrderEvent.from_dict(good).to_dict() == good
