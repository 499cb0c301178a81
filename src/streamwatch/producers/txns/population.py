"""Customers, their cards and the merchants they buy from.

A customer (``u-NNNNNN``) lives near one of the cities in :mod:`geo`, owns
one device (``device_id``) and one card at a time (``c-NNNNNN``), has a
channel profile (in person only, mixed, online first) and a spending factor
that scales every category's typical amount. After a fraud incident the card
is blocked and the customer gets a new card number, so a card_id is never
shared by two incidents.

Legit transactions are generated column-wise with numpy (``legit_columns``)
so the simulator stays far above 50,000 events/s on one core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamwatch.producers.txns import geo
from streamwatch.producers.txns.config import CATEGORIES, CATEGORY_MEDIAN_USD, SimConfig

CHANNEL_NAMES: tuple[str, ...] = ("pos", "online", "atm")
POS, ONLINE, ATM = 0, 1, 2
CAT_INDEX = {c: i for i, c in enumerate(CATEGORIES)}
MEDIAN_CENTS = np.array([CATEGORY_MEDIAN_USD[c] * 100 for c in CATEGORIES])

#: channel profiles: (name, share of customers, P(pos), P(online), P(atm))
PROFILES: tuple[tuple[str, float, float, float, float], ...] = (
    ("in_person", 0.40, 0.85, 0.00, 0.15),
    ("mixed", 0.45, 0.60, 0.30, 0.10),
    ("online_first", 0.15, 0.30, 0.65, 0.05),
)
IN_PERSON = 0

#: P(category | channel), rows in CHANNEL_NAMES order, columns in CATEGORIES order
_CAT_GIVEN_CHANNEL = np.array([
    # grocery fuel restaurant electronics travel online_retail atm
    [0.40, 0.20, 0.30, 0.07, 0.03, 0.00, 0.00],  # pos
    [0.00, 0.00, 0.00, 0.15, 0.15, 0.70, 0.00],  # online
    [0.00, 0.00, 0.00, 0.00, 0.00, 0.00, 1.00],  # atm
])


def _cumulative(p: np.ndarray) -> np.ndarray:
    # an exact 1.0 at the top so that (u >= cum).sum() never points past the last option
    cum = np.cumsum(p, axis=1)
    return np.where(cum >= 1.0 - 1e-9, 1.0, cum)


_CAT_CUM = _cumulative(_CAT_GIVEN_CHANNEL)
_PROFILE_CUM = _cumulative(np.array([p[2:] for p in PROFILES]))

_MASK64 = (1 << 64) - 1


def mix64(values: np.ndarray, salt: int) -> np.ndarray:
    """splitmix64 of ``values ^ salt``: stable pseudo-random 64-bit ids."""
    with np.errstate(over="ignore"):
        z = values.astype(np.uint64) ^ np.uint64(salt & _MASK64)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def device_name(value: int) -> str:
    return f"d-{value & 0xFFFFFFFFFFFF:012x}"


@dataclass
class Merchants:
    """Merchants sorted by (city, category) so a pick is one array lookup."""

    city: np.ndarray  # int, -1 for online merchants
    category: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    #: [city, category] -> first index and count of card-present merchants
    start: np.ndarray
    count: np.ndarray
    #: [category] -> first index and count of online merchants
    online_start: np.ndarray
    online_count: np.ndarray

    @classmethod
    def build(cls, rng: np.random.Generator, per_city: int, online: int,
              radius_km: float) -> Merchants:
        n_cities, n_cats = len(geo.CITIES), len(CATEGORIES)
        in_person_share = _CAT_GIVEN_CHANNEL[POS] * 0.85 + _CAT_GIVEN_CHANNEL[ATM] * 0.15
        per_cat = np.maximum(2, np.round(in_person_share * per_city)).astype(int)
        per_cat[in_person_share == 0] = 0
        online_share = _CAT_GIVEN_CHANNEL[ONLINE]
        online_per_cat = np.where(online_share > 0,
                                  np.maximum(2, np.round(online_share * online)), 0).astype(int)
        city_l: list[np.ndarray] = []
        cat_l: list[np.ndarray] = []
        start = np.zeros((n_cities, n_cats), dtype=np.int64)
        count = np.zeros((n_cities, n_cats), dtype=np.int64)
        pos = 0
        for ci in range(n_cities):
            for k in range(n_cats):
                start[ci, k], count[ci, k] = pos, per_cat[k]
                city_l.append(np.full(per_cat[k], ci))
                cat_l.append(np.full(per_cat[k], k))
                pos += per_cat[k]
        online_start = np.zeros(n_cats, dtype=np.int64)
        for k in range(n_cats):
            online_start[k] = pos
            city_l.append(np.full(online_per_cat[k], -1))
            cat_l.append(np.full(online_per_cat[k], k))
            pos += online_per_cat[k]
        city = np.concatenate(city_l)
        category = np.concatenate(cat_l)
        present = city >= 0
        lat = np.zeros(len(city))
        lon = np.zeros(len(city))
        lat[present], lon[present] = geo.scatter(
            rng, geo.CITY_LAT[city[present]], geo.CITY_LON[city[present]], radius_km)
        return cls(city, category, lat, lon, start, count, online_start,
                   online_per_cat.astype(np.int64))

    def pick(self, rng: np.random.Generator, city: np.ndarray, category: np.ndarray,
             channel: np.ndarray) -> np.ndarray:
        """One merchant per row: in ``city`` for pos/atm, any online merchant for online."""
        u = rng.random(len(city))
        online = channel == ONLINE
        start = np.where(online, self.online_start[category], self.start[city, category])
        count = np.where(online, self.online_count[category], self.count[city, category])
        return start + (u * count).astype(np.int64)

    def __len__(self) -> int:
        return len(self.city)


class Population:
    """Per-customer arrays; the index of a customer is its 'slot'."""

    def __init__(self, config: SimConfig, rng: np.random.Generator) -> None:
        n = config.population()
        legit = config.legit
        self.size = n
        self.seed = config.seed
        weights = np.array([c.weight for c in geo.CITIES])
        self.home_city = rng.choice(len(geo.CITIES), size=n, p=weights / weights.sum())
        self.home_lat, self.home_lon = geo.scatter(
            rng, geo.CITY_LAT[self.home_city], geo.CITY_LON[self.home_city], legit.city_radius_km)
        factor = np.exp(rng.normal(0.0, legit.card_factor_sigma, n))
        self.factor = np.clip(factor, legit.card_factor_min, legit.card_factor_max)
        shares = np.array([p[1] for p in PROFILES])
        self.profile = rng.choice(len(PROFILES), size=n, p=shares / shares.sum())
        self.card_no = np.arange(n, dtype=np.int64)
        self.next_card_no = n
        self.device = mix64(np.arange(n, dtype=np.uint64), config.seed * 2 + 1)
        # a second device for some customers (0 = none); new phones are numbered on
        self.device2 = np.where(rng.random(n) < legit.second_device_share,
                                mix64(np.arange(n, 2 * n, dtype=np.uint64), config.seed * 2 + 1),
                                np.uint64(0))
        self.next_device_no = 2 * n
        # trips: abroad (in away_city, at away_lat/lon) from away_from_ms until away_until_ms,
        # in the air until back_at_ms; no trip when back_at_ms is in the past
        self.away_city = np.zeros(n, dtype=np.int64)
        self.away_lat = np.zeros(n)
        self.away_lon = np.zeros(n)
        self.away_from_ms = np.zeros(n, dtype=np.int64)
        self.away_until_ms = np.zeros(n, dtype=np.int64)
        self.back_at_ms = np.zeros(n, dtype=np.int64)
        # a card is free for a legit transaction at or after next_free_ms
        self.next_free_ms = np.zeros(n, dtype=np.int64)
        self.last_ms = np.full(n, -(1 << 50), dtype=np.int64)
        self.merchants = Merchants.build(rng, config.merchants_per_city,
                                         config.online_merchants, legit.city_radius_km)
        self.country = np.array(geo.CITY_COUNTRY)

    def new_phones(self, slots: np.ndarray) -> None:
        """The customers of ``slots`` switch to a new phone for good."""
        numbers = np.arange(self.next_device_no, self.next_device_no + len(slots),
                            dtype=np.uint64)
        self.next_device_no += len(slots)
        self.device[slots] = mix64(numbers, self.seed * 2 + 1)

    def away(self, slots: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Per row: whether the customer is at a trip's destination then."""
        return (self.away_from_ms[slots] <= times) & (times < self.away_until_ms[slots])

    def typical_cents(self, slots: np.ndarray, categories: np.ndarray) -> np.ndarray:
        """The card's typical amount per purchase in each category."""
        return MEDIAN_CENTS[categories] * self.factor[slots]

    def reissue(self, slot: int, free_at_ms: int) -> None:
        """Block the slot's card; the customer transacts again with a new card from then."""
        self.card_no[slot] = self.next_card_no
        self.next_card_no += 1
        self.next_free_ms[slot] = free_at_ms
        self.last_ms[slot] = free_at_ms
