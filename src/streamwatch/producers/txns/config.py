"""The simulator's parameters as typed, frozen config objects.

Everything that shapes the generated traffic lives here, so the fraud rules,
the tests and ``docs/fraud-scenarios.md`` read the same numbers the generator
uses. Each scenario's ``*Params`` holds its generative parameters; its
``signature()`` returns the thresholds a simple rule can use and that the
legit traffic (``LegitParams``) is built never to reach.

Amounts are in integer cents (USD) to keep the arithmetic exact; durations in
seconds; distances in km.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from streamwatch.contracts.events import SCENARIOS

#: merchant categories and the median amount (USD) of a typical purchase
CATEGORY_MEDIAN_USD: dict[str, float] = {
    "grocery": 45.0,
    "fuel": 50.0,
    "restaurant": 35.0,
    "electronics": 180.0,
    "travel": 320.0,
    "online_retail": 60.0,
    "atm": 100.0,
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_MEDIAN_USD)


@dataclass(frozen=True)
class LegitParams:
    """Genuine customers: what their traffic looks like and never does."""

    #: a card never makes two legit transactions closer together than this
    min_gap_s: float = 60.0
    #: card-present merchants and customers' homes lie within this radius of a city centre
    city_radius_km: float = 5.0
    #: per-card spending factor: lognormal sigma, clipped to [min, max]
    card_factor_sigma: float = 0.35
    card_factor_min: float = 0.5
    card_factor_max: float = 2.0
    #: per-purchase spread around the card's typical amount (lognormal sigma); draws
    #: beyond ``amount_max_z`` sigmas are redrawn uniformly within it (no pile-up at a cap)
    amount_sigma: float = 0.45
    amount_max_z: float = 2.5
    #: a legit amount stays within [typical / max_ratio, typical * max_ratio]
    max_ratio: float = 4.0
    #: share of purchases that are a rare big one: electronics or travel at
    #: ``big_purchase_ratio`` x the card's typical amount for it
    big_purchase_share: float = 0.004
    big_purchase_ratio: tuple[float, float] = (1.5, 3.0)
    #: travel: share of purchases after which the customer flies to another city, stays
    #: ``trip_stay_h`` there (shopping as usual, online from there too) and flies back;
    #: a flight takes distance / ``flight_kmh`` plus ``airport_h`` door to door
    trip_share: float = 0.003
    trip_stay_h: tuple[float, float] = (3.0, 24.0)
    flight_kmh: tuple[float, float] = (700.0, 850.0)
    airport_h: tuple[float, float] = (1.5, 4.0)
    #: devices: share of customers with a second device (a tablet, a laptop) and the share
    #: of their online purchases made on it; share of purchases after which the customer
    #: switches to a new phone for good
    second_device_share: float = 0.3
    second_device_use: float = 0.4
    phone_change_share: float = 0.002
    #: day and night: each customer is this much less active at 3 a.m. local time
    #: (longitude) than at 3 p.m. (cosine in between)
    night_activity: float = 0.2
    #: and never below this (cents)
    min_amount_cents: int = 100
    #: a card starts an incident only after this long without any transaction
    quiet_before_incident_s: float = 120.0
    #: after an incident the card is blocked for good and the customer receives a new
    #: card_id this long after the incident's last transaction
    reissue_after_s: float = 1800.0

    def category_ceiling_cents(self, category: str) -> int:
        """The largest amount any legit card ever spends in ``category``."""
        return int(CATEGORY_MEDIAN_USD[category] * 100 * self.card_factor_max * self.max_ratio)

    def max_speed_kmh(self) -> float:
        """Upper bound on the speed implied by two consecutive legit transactions in one
        city (a trip is slower: see ``min_trip_hours``)."""
        return 2 * self.city_radius_km / (self.min_gap_s / 3600.0)

    def min_trip_hours(self, distance_km: float) -> float:
        """The shortest door-to-door time of a legit trip over ``distance_km``."""
        return distance_km / self.flight_kmh[1] + self.airport_h[0]


@dataclass(frozen=True)
class CardTestingParams:
    """A bot tries the card with a burst of tiny online purchases."""

    min_txns: int = 3
    max_txns: int = 12
    min_amount_cents: int = 50
    max_amount_cents: int = 300
    min_gap_s: float = 1.0
    max_gap_s: float = 8.0

    def signature(self) -> dict[str, Any]:
        return {
            "tiny_amount_below_cents": self.max_amount_cents + 1,
            "min_count": 3,
            # three consecutive tests span at most two gaps (16 s by default)
            "window_s": 60.0,
            "channel": "online",
        }

    def max_duration_s(self) -> float:
        return (self.max_txns - 1) * self.max_gap_s


@dataclass(frozen=True)
class VelocityParams:
    """A stolen card is used at many home-city shops in quick succession."""

    min_txns: int = 5
    max_txns: int = 12
    min_gap_s: float = 3.0
    max_gap_s: float = 30.0
    #: amounts follow the card's usual profile but never below this (cents)
    min_amount_cents: int = 500

    def signature(self) -> dict[str, Any]:
        return {
            "min_count": 4,
            "window_s": 120.0,
            "min_amount_cents": 400,  # count only non-tiny amounts (tiny bursts = card_testing)
        }

    def max_duration_s(self) -> float:
        return (self.max_txns - 1) * self.max_gap_s


@dataclass(frozen=True)
class ImpossibleTravelParams:
    """A cloned card is used in person far away shortly after the real one.

    The gap between the genuine purchase and the clone's first is drawn first;
    the clone's city is then one at least ``min_distance_km`` and ``min_speed_kmh``
    times the gap away, so no flight could have made the trip.
    """

    min_distance_km: float = 1500.0
    min_speed_kmh: float = 1500.0
    min_gap_s: float = 600.0
    max_gap_s: float = 7200.0
    #: further purchases with the clone near the far location
    max_extra_txns: int = 2
    extra_min_gap_s: float = 120.0
    extra_max_gap_s: float = 600.0

    def signature(self) -> dict[str, Any]:
        return {
            "channels": ["pos", "atm"],
            "min_distance_km": 500.0,
            "min_speed_kmh": self.min_speed_kmh,
        }

    def max_duration_s(self) -> float:
        return self.max_gap_s + self.max_extra_txns * self.extra_max_gap_s


@dataclass(frozen=True)
class AmountSpikeParams:
    """One purchase far above what the card usually spends in that category."""

    #: the amount is this many times the card's typical amount for the category
    min_ratio: float = 5.0
    max_ratio: float = 30.0
    categories: tuple[str, ...] = ("electronics", "travel", "online_retail", "atm")

    def signature(self, legit: LegitParams) -> dict[str, Any]:
        return {
            "min_ratio_to_card_typical": self.min_ratio,
            "category_ceiling_cents": {c: legit.category_ceiling_cents(c) for c in CATEGORIES},
        }

    def max_duration_s(self) -> float:
        return 0.0


@dataclass(frozen=True)
class AccountTakeoverParams:
    """A fraudster takes over a customer's account and buys online.

    Sequence: a genuine purchase by the owner (labelled legit), then after
    ``context_gap`` an online probe from the fraudster's device (a new one, or
    none for ``deviceless_share`` of takeovers), then high-value spend from it.
    The fraudster sits in another country for ``foreign_share`` of takeovers,
    otherwise in the customer's home city.
    """

    context_min_gap_s: float = 120.0
    context_max_gap_s: float = 900.0
    probe_min_amount_cents: int = 500
    probe_max_amount_cents: int = 6000
    min_spend_txns: int = 1
    max_spend_txns: int = 3
    spend_min_gap_s: float = 60.0
    spend_max_gap_s: float = 300.0
    #: high-value spend: this many times the card's typical amount for the category
    min_spend_ratio: float = 3.0
    max_spend_ratio: float = 15.0
    deviceless_share: float = 0.3
    foreign_share: float = 0.7
    categories: tuple[str, ...] = ("electronics", "travel", "online_retail")

    def signature(self) -> dict[str, Any]:
        return {
            "unknown_device": True,
            "channel": "online",
            "spend_within_s": self.max_spend_txns * self.spend_max_gap_s,
            "min_spend_ratio": self.min_spend_ratio,
        }

    def max_duration_s(self) -> float:
        """From the owner's context purchase to the last spend."""
        return self.context_max_gap_s + self.max_spend_txns * self.spend_max_gap_s


@dataclass(frozen=True)
class ScenarioConfig:
    """All scenario parameters plus each scenario's share of fraud transactions."""

    card_testing: CardTestingParams = field(default_factory=CardTestingParams)
    velocity: VelocityParams = field(default_factory=VelocityParams)
    impossible_travel: ImpossibleTravelParams = field(default_factory=ImpossibleTravelParams)
    amount_spike: AmountSpikeParams = field(default_factory=AmountSpikeParams)
    account_takeover: AccountTakeoverParams = field(default_factory=AccountTakeoverParams)
    #: relative share of fraud *transactions* per scenario (0 disables a scenario)
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(SCENARIOS, 1.0))

    def params(self, scenario: str) -> Any:
        """The ``*Params`` object of ``scenario``."""
        return getattr(self, scenario)

    def mean_fraud_txns(self, scenario: str) -> float:
        """Expected number of fraud-labelled transactions in one incident."""
        if scenario == "card_testing":
            p = self.card_testing
            return (p.min_txns + p.max_txns) / 2
        if scenario == "velocity":
            return (self.velocity.min_txns + self.velocity.max_txns) / 2
        if scenario == "impossible_travel":
            return 2 + self.impossible_travel.max_extra_txns / 2
        if scenario == "amount_spike":
            return 1.0
        a = self.account_takeover
        return 1 + (a.min_spend_txns + a.max_spend_txns) / 2

    def shares(self) -> dict[str, float]:
        total = sum(self.weights.values())
        if total <= 0:
            return dict.fromkeys(SCENARIOS, 0.0)
        return {s: self.weights.get(s, 0.0) / total for s in SCENARIOS}


@dataclass(frozen=True)
class SimConfig:
    """One simulator run: population, rates, timing and scenarios."""

    seed: int = 0
    #: transactions per second of simulated (event) time
    rate: float = 200.0
    #: fraction of transactions that belong to fraud incidents
    fraud_rate: float = 0.01
    #: number of customers (each holds one card at a time); None = scaled from the rate
    cards: int | None = None
    merchants_per_city: int = 100
    online_merchants: int = 1000
    #: event time of the first simulated moment, epoch milliseconds
    anchor_ms: int = 1_795_000_000_000
    #: delivery delay up to this many seconds (events arrive out of event-time order)
    disorder_s: float = 0.0
    #: this fraction of events is delivered ``late_by_s`` late (plus the disorder)
    late_fraction: float = 0.0
    late_by_s: float = 0.0
    #: stop after this many transactions (None = never)
    max_events: int | None = None
    #: the world's epoch (``streamwatch.feed.world``): ids of epoch 2 on carry it, so two
    #: worlds never share a card or customer id
    epoch: int = 1
    legit: LegitParams = field(default_factory=LegitParams)
    scenarios: ScenarioConfig = field(default_factory=ScenarioConfig)

    #: free cards needed per busy card, so picking a free card stays cheap
    CAPACITY_FACTOR = 3.0

    def min_cards(self) -> int:
        """The smallest population that keeps every legit card ``min_gap_s`` apart."""
        return int(self.rate * self.legit.min_gap_s * self.CAPACITY_FACTOR) + 1

    def population(self) -> int:
        return self.cards if self.cards is not None else max(10_000, self.min_cards())

    def problems(self) -> list[str]:
        """Human-readable reasons this config cannot run (empty when it can)."""
        out: list[str] = []
        if self.rate <= 0:
            out.append("--rate must be > 0")
        if not 0.0 <= self.fraud_rate <= 0.5:
            out.append("--fraud-rate must be within 0..0.5")
        if self.cards is not None and self.cards < self.min_cards():
            out.append(
                f"--cards {self.cards} is too small for --rate {self.rate:g}: each card waits "
                f"at least {self.legit.min_gap_s:g} s between legit transactions, so at least "
                f"{self.min_cards()} cards are needed; raise --cards or lower --rate")
        unknown = sorted(set(self.scenarios.weights) - set(SCENARIOS))
        if unknown:
            out.append(f"unknown scenario(s) {unknown}; known: {list(SCENARIOS)}")
        if any(w < 0 for w in self.scenarios.weights.values()):
            out.append("scenario weights must be >= 0")
        if not 0.0 <= self.late_fraction <= 1.0:
            out.append("--late-fraction must be within 0..1")
        if self.disorder_s < 0 or self.late_by_s < 0:
            out.append("--disorder and --late-by must be >= 0")
        return out

    def with_(self, **changes: Any) -> SimConfig:
        return replace(self, **changes)
