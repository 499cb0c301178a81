"""Genuine customer traffic, a block at a time.

What legit traffic guarantees (``docs/fraud-scenarios.md`` relies on it):
a card's legit transactions are at least ``LegitParams.min_gap_s`` apart, all
in the customer's home city (card-present merchants and the customer's home
lie within ``city_radius_km`` of the city centre, online purchases are
located at home), always from the customer's one device, and within
``max_ratio`` of the card's typical amount for the category.
"""

from __future__ import annotations

import numpy as np

from streamwatch.producers.txns.columns import Columns
from streamwatch.producers.txns.config import LegitParams
from streamwatch.producers.txns.population import (
    _CAT_CUM,
    _PROFILE_CUM,
    ATM,
    CAT_INDEX,
    Population,
)

#: give up picking free cards after this many rounds (each round redraws the busy ones)
_MAX_ROUNDS = 200


class PopulationExhausted(RuntimeError):
    """Too few free cards to place the legit transactions of a block."""


def pick_free_cards(pop: Population, rng: np.random.Generator, times: np.ndarray,
                    min_gap_ms: int) -> np.ndarray:
    """A distinct free customer for each event time; marks them busy for ``min_gap_ms``.

    Times of one call must span less than ``min_gap_ms`` (one block), so a card
    marked busy by an earlier round is never free again within the same call.
    """
    m = len(times)
    slots = np.empty(m, dtype=np.int64)
    todo = np.arange(m)
    for _ in range(_MAX_ROUNDS):
        if len(todo) == 0:
            return slots
        cand = rng.integers(0, pop.size, len(todo))
        ok = pop.next_free_ms[cand] <= times[todo]
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
    city = pop.home_city[slots]
    merchant = pop.merchants.pick(rng, city, category, channel)
    in_person = channel != 1
    lat = np.where(in_person, pop.merchants.lat[merchant], pop.home_lat[slots])
    lon = np.where(in_person, pop.merchants.lon[merchant], pop.home_lon[slots])
    typical = pop.typical_cents(slots, category)
    amount = typical * np.exp(rng.normal(0.0, params.amount_sigma, m))
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
        device=pop.device[slots],
        scenario=np.full(m, -1, dtype=np.int64),
        incident=np.full(m, -1, dtype=np.int64),
    )
