"""Genuine customer traffic, a block at a time.

What legit traffic guarantees (``docs/fraud-scenarios.md`` relies on it):
a card's legit transactions are at least ``LegitParams.min_gap_s`` apart; they
take place where the customer is (card-present merchants near the city, online
purchases at the customer's home or trip destination); a trip between two
cities takes at least ``LegitParams.min_trip_hours``; devices are the
customer's own (a second device, a new phone after a change); amounts stay
within ``max_ratio`` of the card's typical amount for the category.

Beyond that it is not tidy: customers fly abroad and shop there, own second
devices and change phones, now and then buy something big, and shop less at
night (local time).
"""

from __future__ import annotations

import numpy as np

from streamwatch.producers.txns import geo
from streamwatch.producers.txns.columns import Columns
from streamwatch.producers.txns.config import LegitParams
from streamwatch.producers.txns.population import (
    _CAT_CUM,
    _PROFILE_CUM,
    ATM,
    CAT_INDEX,
    ONLINE,
    Population,
)

#: give up picking free cards after this many rounds (each round redraws the busy ones)
_MAX_ROUNDS = 200


class PopulationExhausted(RuntimeError):
    """Too few free cards to place the legit transactions of a block."""


def activity(pop: Population, slots: np.ndarray, times: np.ndarray, anchor_ms: int,
             night: float) -> np.ndarray:
    """How active each customer is at that moment, 1 at 3 p.m. local time, ``night`` at
    3 a.m. (local time from the home's longitude)."""
    hours = ((anchor_ms + times) / 3_600_000.0 + pop.home_lon[slots] / 15.0) % 24.0
    out: np.ndarray = night + (1.0 - night) * (1.0 + np.cos(2 * np.pi * (hours - 15.0) / 24.0)) / 2
    return out


def pick_free_cards(pop: Population, rng: np.random.Generator, times: np.ndarray,
                    min_gap_ms: int, anchor_ms: int = 0, night: float = 1.0) -> np.ndarray:
    """A distinct free customer for each event time; marks them busy for ``min_gap_ms``.

    A candidate is free when its gap has passed and it is not on a flight; it is taken
    with the probability of its :func:`activity` then. Times of one call must span less
    than ``min_gap_ms`` (one block), so a card marked busy by an earlier round is never
    free again within the same call.
    """
    m = len(times)
    slots = np.empty(m, dtype=np.int64)
    todo = np.arange(m)
    for _ in range(_MAX_ROUNDS):
        if len(todo) == 0:
            return slots
        cand = rng.integers(0, pop.size, len(todo))
        t = times[todo]
        flying = (pop.away_until_ms[cand] <= t) & (t < pop.back_at_ms[cand])
        ok = (pop.next_free_ms[cand] <= t) & ~flying
        if night < 1.0:
            ok &= rng.random(len(cand)) < activity(pop, cand, t, anchor_ms, night)
        # one card twice in a round: keep the first occurrence only
        _, first = np.unique(cand, return_index=True)
        unique = np.zeros(len(cand), dtype=bool)
        unique[first] = True
        ok &= unique
        chosen = todo[ok]
        slots[chosen] = cand[ok]
        pop.next_free_ms[cand[ok]] = times[chosen] + min_gap_ms
        pop.last_ms[cand[ok]] = times[chosen]
        todo = todo[~ok]
    if len(todo):
        raise PopulationExhausted(
            f"no free card for {len(todo)} of {m} legit transactions; the population of "
            f"{pop.size} cards is too small for this rate (raise --cards)")
    return slots


def legit_columns(pop: Population, rng: np.random.Generator, slots: np.ndarray,
                  times: np.ndarray, params: LegitParams,
                  channel: np.ndarray | None = None) -> Columns:
    """One ordinary purchase per (slot, time), following each customer's profile."""
    m = len(slots)
    if channel is None:
        u = rng.random(m)
        channel = (u[:, None] >= _PROFILE_CUM[pop.profile[slots]]).sum(axis=1)
        channel = np.minimum(channel, 2)
    u = rng.random(m)
    category = (u[:, None] >= _CAT_CUM[channel]).sum(axis=1)
    category = np.minimum(category, len(CAT_INDEX) - 1)
    away = pop.away(slots, times)
    city = np.where(away, pop.away_city[slots], pop.home_city[slots])
    merchant = pop.merchants.pick(rng, city, category, channel)
    in_person = channel != ONLINE
    # online purchases are located where the buyer's device is: at home or on the trip
    lat = np.where(in_person, pop.merchants.lat[merchant],
                   np.where(away, pop.away_lat[slots], pop.home_lat[slots]))
    lon = np.where(in_person, pop.merchants.lon[merchant],
                   np.where(away, pop.away_lon[slots], pop.home_lon[slots]))
    typical = pop.typical_cents(slots, category)
    z = rng.normal(0.0, 1.0, m)
    z = np.where(np.abs(z) > params.amount_max_z,
                 rng.uniform(-params.amount_max_z, params.amount_max_z, m), z)
    amount = typical * np.exp(params.amount_sigma * z)
    amount = np.clip(amount, typical / params.max_ratio, typical * params.max_ratio)
    amount = np.maximum(amount, params.min_amount_cents)
    # ATMs pay out in 20 USD notes; rounding down keeps the amount under the ceiling
    atm = channel == ATM
    amount = np.where(atm, np.maximum(2000, np.floor(amount / 2000) * 2000), amount)
    return Columns(
        time_ms=times.astype(np.int64),
        slot=slots.astype(np.int64),
        card_no=pop.card_no[slots].copy(),
        amount_cents=np.round(amount).astype(np.int64),
        merchant=merchant,
        category=category.astype(np.int64),
        channel=channel.astype(np.int64),
        lat=lat,
        lon=lon,
        city=city.astype(np.int64),
        device=np.where((channel == ONLINE) & (pop.device2[slots] != 0)
                        & (rng.random(m) < params.second_device_use),
                        pop.device2[slots], pop.device[slots]),
        scenario=np.full(m, -1, dtype=np.int64),
        incident=np.full(m, -1, dtype=np.int64),
    )


def big_purchases(pop: Population, rng: np.random.Generator, cols: Columns,
                  params: LegitParams) -> None:
    """Turn a share of a block's legit purchases into rare big ones (in place)."""
    m = len(cols)
    big = np.flatnonzero((rng.random(m) < params.big_purchase_share) & (cols.channel != ATM))
    if len(big) == 0:
        return
    cat = np.where(rng.random(len(big)) < 0.5, CAT_INDEX["electronics"], CAT_INDEX["travel"])
    cols.category[big] = cat
    cols.merchant[big] = pop.merchants.pick(rng, cols.city[big], cat, cols.channel[big])
    present = big[cols.channel[big] != ONLINE]
    cols.lat[present] = pop.merchants.lat[cols.merchant[present]]
    cols.lon[present] = pop.merchants.lon[cols.merchant[present]]
    ratio = rng.uniform(*params.big_purchase_ratio, len(big))
    cols.amount_cents[big] = np.round(pop.typical_cents(cols.slot[big], cat) * ratio)


def life_events(pop: Population, rng: np.random.Generator, cols: Columns,
                params: LegitParams, distances_km: np.ndarray) -> None:
    """After a block's legit purchases: some customers change phones, some set off on a
    trip (the flight starts after the purchase; the card is busy until landing)."""
    m = len(cols)
    change = cols.slot[rng.random(m) < params.phone_change_share]
    pop.new_phones(np.unique(change))
    at_home = pop.back_at_ms[cols.slot] <= cols.time_ms
    go = np.flatnonzero((rng.random(m) < params.trip_share) & at_home)
    _, first = np.unique(cols.slot[go], return_index=True)
    go = go[first]
    if len(go) == 0:
        return
    slots, t = cols.slot[go], cols.time_ms[go]
    home = pop.home_city[slots]
    # most trips are regional: a city's pull falls with its distance from home
    pull = 1.0 / (1.0 + distances_km[home] / 1000.0)
    pull[np.arange(len(go)), home] = 0.0
    cum = np.cumsum(pull, axis=1)
    u = rng.random(len(go)) * cum[:, -1]
    dest = np.minimum((u[:, None] >= cum).sum(axis=1), len(geo.CITIES) - 1)
    dist = distances_km[home, dest] + 2 * params.city_radius_km

    def trip_ms() -> np.ndarray:
        hours = dist / rng.uniform(*params.flight_kmh, len(go)) + rng.uniform(
            *params.airport_h, len(go))
        out: np.ndarray = np.round(hours * 3_600_000).astype(np.int64)
        return out

    pop.away_city[slots] = dest
    pop.away_lat[slots], pop.away_lon[slots] = geo.scatter(
        rng, geo.CITY_LAT[dest], geo.CITY_LON[dest], params.city_radius_km)
    pop.away_from_ms[slots] = t + trip_ms()
    stay = np.round(rng.uniform(*params.trip_stay_h, len(go)) * 3_600_000).astype(np.int64)
    pop.away_until_ms[slots] = pop.away_from_ms[slots] + stay
    pop.back_at_ms[slots] = pop.away_until_ms[slots] + trip_ms()
    pop.next_free_ms[slots] = np.maximum(pop.next_free_ms[slots], pop.away_from_ms[slots])
