"""Fraud incidents: each builder returns the rows of one incident.

An incident takes over one customer's card from ``start_ms`` on. Its rows
carry the scenario index and incident number, except the account-takeover
context purchase, which the genuine owner makes and is labelled legit. The
parameters and the signature each builder guarantees are in
:mod:`streamwatch.producers.txns.config` and ``docs/fraud-scenarios.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamwatch.contracts.events import SCENARIOS
from streamwatch.producers.txns import geo
from streamwatch.producers.txns.columns import Columns
from streamwatch.producers.txns.config import SimConfig
from streamwatch.producers.txns.legit import legit_columns
from streamwatch.producers.txns.population import (
    ATM,
    CAT_INDEX,
    ONLINE,
    POS,
    Population,
    mix64,
)

Row = tuple[Any, ...]  # Columns field order


@dataclass
class IncidentContext:
    pop: Population
    rng: np.random.Generator
    config: SimConfig
    distances_km: np.ndarray
    #: counter for fraudsters' devices, hashed so they look like customers' devices
    devices_made: int = 0

    def new_device(self) -> int:
        self.devices_made += 1
        return int(mix64(np.array([self.devices_made], dtype=np.uint64),
                         self.config.seed * 2 + 2)[0])

    def legit_like(self, slot: int, times_ms: list[int],
                   channel: int | np.ndarray | None = None) -> Columns:
        """Purchases as the customer would make them (home city, usual amounts)."""
        chans = None if channel is None else np.broadcast_to(channel, len(times_ms)).copy()
        return legit_columns(self.pop, self.rng, np.full(len(times_ms), slot),
                             np.array(times_ms, dtype=np.int64), self.config.legit, chans)

    def foreign_city(self, home_city: int, min_km: float = 0.0) -> int:
        """A city in another country at least ``min_km`` from ``home_city``."""
        home_country = geo.CITY_COUNTRY[home_city]
        ok = [c for c in range(len(geo.CITIES))
              if geo.CITY_COUNTRY[c] != home_country and self.distances_km[home_city, c] >= min_km]
        if not ok:  # nothing that far: the furthest city abroad
            far = np.where(np.array(geo.CITY_COUNTRY) != home_country,
                           self.distances_km[home_city], -1.0)
            return int(np.argmax(far))
        return int(ok[self.rng.integers(len(ok))])

    def uniform_ms(self, lo_s: float, hi_s: float) -> int:
        return round(self.rng.uniform(lo_s, hi_s) * 1000)


def _rows(cols: Columns, scenario: str | None, incident: int, *,
          device: int | None = None) -> list[Row]:
    """Columns -> rows, stamped with the scenario label (None: legit)."""
    cols.scenario[:] = SCENARIOS.index(scenario) if scenario else -1
    cols.incident[:] = incident if scenario else -1
    if device is not None:
        cols.device[:] = np.uint64(device)
    return list(zip(*(c.tolist() for c in (
        cols.time_ms, cols.slot, cols.card_no, cols.amount_cents, cols.merchant,
        cols.category, cols.channel, cols.lat, cols.lon, cols.city, cols.device,
        cols.scenario, cols.incident)), strict=True))


def _gaps(ctx: IncidentContext, start_ms: int, n: int, lo_s: float, hi_s: float) -> list[int]:
    times = [start_ms]
    for _ in range(n - 1):
        times.append(times[-1] + ctx.uniform_ms(lo_s, hi_s))
    return times


def card_testing(ctx: IncidentContext, slot: int, start_ms: int, incident: int) -> list[Row]:
    p = ctx.config.scenarios.card_testing
    pop, rng = ctx.pop, ctx.rng
    n = int(rng.integers(p.min_txns, p.max_txns + 1))
    times = _gaps(ctx, start_ms, n, p.min_gap_s, p.max_gap_s)
    # the bot sits anywhere in the world and tries small online shops
    city = int(rng.integers(len(geo.CITIES)))
    lat, lon = geo.scatter(rng, np.array([geo.CITY_LAT[city]]), np.array([geo.CITY_LON[city]]),
                           ctx.config.legit.city_radius_km)
    cat = CAT_INDEX["online_retail"]
    merchants = pop.merchants.pick(rng, np.full(n, city), np.full(n, cat), np.full(n, ONLINE))
    amounts = rng.integers(p.min_amount_cents, p.max_amount_cents + 1, n)
    device = ctx.new_device()
    card = int(pop.card_no[slot])
    sc = SCENARIOS.index("card_testing")
    return [(t, slot, card, int(a), int(m), cat, ONLINE, float(lat[0]), float(lon[0]), city,
             device, sc, incident) for t, a, m in zip(times, amounts, merchants, strict=True)]


def velocity(ctx: IncidentContext, slot: int, start_ms: int, incident: int) -> list[Row]:
    p = ctx.config.scenarios.velocity
    n = int(ctx.rng.integers(p.min_txns, p.max_txns + 1))
    times = _gaps(ctx, start_ms, n, p.min_gap_s, p.max_gap_s)
    # a stolen physical card: in-person purchases in the home city, no wallet device
    cols = ctx.legit_like(slot, times, channel=POS)
    cols.amount_cents[:] = np.maximum(cols.amount_cents, p.min_amount_cents)
    return _rows(cols, "velocity", incident, device=0)


def impossible_travel(ctx: IncidentContext, slot: int, start_ms: int, incident: int
                      ) -> list[Row]:
    p = ctx.config.scenarios.impossible_travel
    pop, rng = ctx.pop, ctx.rng
    home = int(pop.home_city[slot])
    # the genuine purchase: any channel of the customer's, located where the owner is
    first = ctx.legit_like(slot, [start_ms])
    gap_ms = ctx.uniform_ms(p.min_gap_s, p.max_gap_s)
    # the shortest distance between points of the two cities must still be beyond any
    # flight in the gap: the city centres lie that plus both cities' scatter apart
    reach_km = p.min_speed_kmh * gap_ms / 3_600_000.0 + 2 * ctx.config.legit.city_radius_km
    far = ctx.foreign_city(home, max(p.min_distance_km, reach_km))
    n_extra = int(rng.integers(0, p.max_extra_txns + 1))
    times = _gaps(ctx, start_ms + gap_ms, 1 + n_extra, p.extra_min_gap_s, p.extra_max_gap_s)
    channel = np.where(rng.random(len(times)) < 0.7, POS, ATM)
    clone = ctx.legit_like(slot, times, channel=channel)
    # the clone shops at merchants of the far city
    clone.city[:] = far
    clone.merchant[:] = pop.merchants.pick(rng, clone.city, clone.category, clone.channel)
    clone.lat[:] = pop.merchants.lat[clone.merchant]
    clone.lon[:] = pop.merchants.lon[clone.merchant]
    return (_rows(first, "impossible_travel", incident)
            + _rows(clone, "impossible_travel", incident, device=0))


def amount_spike(ctx: IncidentContext, slot: int, start_ms: int, incident: int) -> list[Row]:
    p = ctx.config.scenarios.amount_spike
    pop, rng = ctx.pop, ctx.rng
    cols = ctx.legit_like(slot, [start_ms])
    channel = int(cols.channel[0])
    if channel == ATM:
        cat = CAT_INDEX["atm"]
    else:
        allowed = [CAT_INDEX[c] for c in p.categories
                   if c != "atm" and (channel == ONLINE or c != "online_retail")]
        cat = int(allowed[rng.integers(len(allowed))])
    cols.category[:] = cat
    cols.merchant[:] = pop.merchants.pick(rng, cols.city, cols.category, cols.channel)
    if channel != ONLINE:
        cols.lat[:] = pop.merchants.lat[cols.merchant]
        cols.lon[:] = pop.merchants.lon[cols.merchant]
    typical = float(pop.typical_cents(np.array([slot]), np.array([cat]))[0])
    amount = typical * rng.uniform(p.min_ratio, p.max_ratio)
    if channel == ATM:
        amount = np.ceil(amount / 2000) * 2000
    cols.amount_cents[:] = int(np.ceil(amount))
    return _rows(cols, "amount_spike", incident)


def account_takeover(ctx: IncidentContext, slot: int, start_ms: int, incident: int
                     ) -> list[Row]:
    p = ctx.config.scenarios.account_takeover
    legit = ctx.config.legit
    pop, rng = ctx.pop, ctx.rng
    # the owner's own purchase: recent history a rule can compare against
    context = _rows(ctx.legit_like(slot, [start_ms]), None, incident)
    probe_ms = start_ms + ctx.uniform_ms(p.context_min_gap_s, p.context_max_gap_s)
    n_spend = int(rng.integers(p.min_spend_txns, p.max_spend_txns + 1))
    times = _gaps(ctx, probe_ms, 1 + n_spend, p.spend_min_gap_s, p.spend_max_gap_s)
    home = int(pop.home_city[slot])
    city = ctx.foreign_city(home) if rng.random() < p.foreign_share else home
    lat, lon = geo.scatter(rng, np.array([geo.CITY_LAT[city]]), np.array([geo.CITY_LON[city]]),
                           legit.city_radius_km)
    cats = [CAT_INDEX["online_retail"]]
    amounts = [int(rng.integers(p.probe_min_amount_cents, p.probe_max_amount_cents + 1))]
    for _ in range(n_spend):
        cat = CAT_INDEX[p.categories[rng.integers(len(p.categories))]]
        typical = float(pop.typical_cents(np.array([slot]), np.array([cat]))[0])
        cats.append(cat)
        amounts.append(int(typical * rng.uniform(p.min_spend_ratio, p.max_spend_ratio)))
    merchants = pop.merchants.pick(rng, np.full(len(cats), city), np.array(cats),
                                   np.full(len(cats), ONLINE))
    device = 0 if rng.random() < p.deviceless_share else ctx.new_device()
    card = int(pop.card_no[slot])
    sc = SCENARIOS.index("account_takeover")
    takeover = [(t, slot, card, a, int(m), c, ONLINE, float(lat[0]), float(lon[0]), city,
                 device, sc, incident)
                for t, a, m, c in zip(times, amounts, merchants, cats, strict=True)]
    return context + takeover


Builder = Callable[[IncidentContext, int, int, int], list[Row]]

BUILDERS: dict[str, Builder] = {
    "card_testing": card_testing,
    "velocity": velocity,
    "impossible_travel": impossible_travel,
    "amount_spike": amount_spike,
    "account_takeover": account_takeover,
}


def eligible(pop: Population, scenario: str, slot: int) -> bool:
    """Whether ``scenario`` can happen to this customer at all (every one can, today; the
    hook stays so a scenario can be limited to a kind of customer)."""
    return True
