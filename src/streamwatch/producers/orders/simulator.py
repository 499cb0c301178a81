"""The order-lifecycle generator and the :class:`~streamwatch.feed.sources.Source` around it.

Key concepts:

- **Orders, then their events.** ``OrderGenerator`` advances a simulated clock
  in blocks of 100 ms of event time. Each block opens ``rate`` orders per
  second (the fraction carried over between blocks), draws each order's region and items
  and its whole life at once: purchased; cancelled (``cancel_rate``) before
  shipping; else shipped after a lognormal delay (median 8 h), delivered after
  another (median 36 h), and returned (``return_rate``) 1-14 days later.
  ``time_scale`` divides every delay (1440: a day of an order's life in a
  minute). The events wait in an event-time heap until their block comes.
- **Delivery order.** An event is delivered up to ``disorder_s`` after its
  event time, ``late_fraction`` of events ``late_by_s`` more; a
  ``duplicate_rate`` share is delivered a second time (same ``event_id``) up
  to ``duplicate_delay_s`` after the first. ``event_time`` itself never
  changes: consumers see resends, disorder and late data, the order's
  lifecycle in event time stays intact.
- **Paced by event time.** ``OrderSource`` emits what is due as event time
  advances with the wall clock, so event time keeps pace with real time from
  the first second (while the first orders are not shipped yet there are
  fewer events; at steady state about ``events_per_order() * rate`` a second).
- **Deterministic in the count of events.** Blocks do not depend on how many
  events a caller takes, so one seed gives one sequence however the output is
  paced; a restarted producer regenerates its world and skips what its feed
  holds (``streamwatch.feed.world``). Ids carry the world's epoch
  (``o-e2-000000017``); an event id is its order id and status
  (``o-000000017/shipped``), so a resend has the id of the original.

Usage::

    gen = OrderGenerator(OrderConfig(seed=1, rate=300, time_scale=1440))
    events = gen.take(1000)      # JSON bytes, delivery order
"""

from __future__ import annotations

import heapq
import logging
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import orjson

from streamwatch.contracts.events import format_epoch_ms
from streamwatch.feed.sources import Emit
from streamwatch.feed.world import id_tag

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger(__name__)

HOUR = 3600.0
DAY = 24 * HOUR

#: category -> (median unit price USD, lognormal sigma)
CATEGORIES: dict[str, tuple[float, float]] = {
    "books": (14.0, 0.4), "electronics": (120.0, 0.9), "fashion": (35.0, 0.6),
    "home": (45.0, 0.7), "grocery": (6.0, 0.5), "toys": (22.0, 0.5),
    "beauty": (18.0, 0.5), "sports": (40.0, 0.7),
}
#: relative share of order events per region
REGIONS: dict[str, float] = {
    "us-east": 0.22, "us-west": 0.16, "eu-west": 0.18, "eu-central": 0.14,
    "ap-south": 0.12, "ap-northeast": 0.10, "sa-east": 0.08,
}
SKUS_PER_CATEGORY = 250


@dataclass(frozen=True)
class Lifecycle:
    """Real-world delays between an order's steps, seconds (before ``time_scale``)."""

    ship_median_s: float = 8 * HOUR
    ship_sigma: float = 0.6
    ship_min_s: float = 0.5 * HOUR
    ship_max_s: float = 72 * HOUR
    deliver_median_s: float = 36 * HOUR
    deliver_sigma: float = 0.5
    deliver_min_s: float = 4 * HOUR
    deliver_max_s: float = 10 * DAY
    cancel_min_s: float = 5 * 60.0
    cancel_max_s: float = 4 * HOUR
    return_min_s: float = 1 * DAY
    return_max_s: float = 14 * DAY


@dataclass(frozen=True)
class OrderConfig:
    seed: int = 0
    #: orders purchased per second of event time (each makes ``events_per_order()`` events)
    rate: float = 50.0
    #: event time of the first simulated moment, epoch milliseconds
    anchor_ms: int = 1_795_000_000_000
    #: every lifecycle delay is divided by this (1 = real time, 1440 = a day per minute)
    time_scale: float = 1440.0
    cancel_rate: float = 0.05
    return_rate: float = 0.04
    duplicate_rate: float = 0.0
    duplicate_delay_s: float = 5.0
    disorder_s: float = 0.0
    late_fraction: float = 0.0
    late_by_s: float = 0.0
    max_events: int | None = None
    epoch: int = 1
    lifecycle: Lifecycle = Lifecycle()

    def events_per_order(self) -> float:
        """Expected events of one order: purchase, then ship+deliver (+return) or cancel."""
        shipped = 1.0 - self.cancel_rate
        return 1.0 + self.cancel_rate + shipped * (2.0 + self.return_rate)

    def problems(self) -> list[str]:
        """Human-readable reasons this config cannot run (empty when it can)."""
        out = []
        if self.rate <= 0:
            out.append("--rate must be > 0")
        if self.time_scale < 1:
            out.append("--time-scale must be >= 1 (1 = real-time delays)")
        for flag, value in (("--cancel-rate", self.cancel_rate),
                            ("--return-rate", self.return_rate),
                            ("--duplicate-rate", self.duplicate_rate),
                            ("--late-fraction", self.late_fraction)):
            if not 0.0 <= value <= 1.0:
                out.append(f"{flag} must be within 0..1")
        if min(self.disorder_s, self.late_by_s, self.duplicate_delay_s) < 0:
            out.append("--disorder, --late-by and --duplicate-delay must be >= 0")
        if self.late_fraction > 0 and self.late_by_s <= 0:
            out.append("--late-fraction needs --late-by > 0 (e.g. --late-by 3m)")
        return out

    def with_(self, **changes: Any) -> OrderConfig:
        return replace(self, **changes)


def _price(rng: random.Random, median: float, sigma: float) -> str:
    cents = max(50, round(median * 100 * math.exp(rng.gauss(0.0, sigma))))
    return f"{cents // 100}.{cents % 100:02d}"


class OrderGenerator:
    """Deterministic stream of order events (JSON bytes) in delivery order."""

    BLOCK_MS = 100

    def __init__(self, config: OrderConfig) -> None:
        problems = config.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self.config = config
        self.rng = random.Random(config.seed)
        self.orders_per_ms = config.rate / 1000.0
        self.block_no = 0
        self.orders_opened = 0
        self.next_order_no = 1
        self.duplicates = 0
        self._order_tag = id_tag("o", config.epoch)
        self._regions = list(REGIONS)
        self._region_weights = list(REGIONS.values())
        self._categories = list(CATEGORIES)
        # (event time ms, seq, order id, status, region, items)
        self._scheduled: list[tuple[int, int, str, str, str, list[dict[str, Any]]]] = []
        self._delayed: list[tuple[int, int, bytes]] = []  # (delivery ms, seq, event)
        self._seq = 0
        self._out: deque[bytes] = deque()

    # -- public -------------------------------------------------------------

    def take(self, n: int) -> list[bytes]:
        """The next ``n`` events in delivery order."""
        while len(self._out) < n:
            self._block()
        return [self._out.popleft() for _ in range(n)]

    def take_until(self, sim_ms: int, limit: int | None = None) -> list[bytes]:
        """The events delivered before ``sim_ms`` (event time since the anchor) that were
        not taken yet, at most ``limit``."""
        while self.sim_time_ms < sim_ms:
            self._block()
        n = len(self._out) if limit is None else min(limit, len(self._out))
        return [self._out.popleft() for _ in range(n)]

    @property
    def sim_time_ms(self) -> int:
        """Event time (relative to the anchor) up to which blocks are generated."""
        return self.block_no * self.BLOCK_MS

    @property
    def in_flight(self) -> int:
        """Events scheduled for later blocks (orders not at the end of their life)."""
        return len(self._scheduled)

    # -- one block ----------------------------------------------------------

    def _block(self) -> None:
        t0, t1 = self.block_no * self.BLOCK_MS, (self.block_no + 1) * self.BLOCK_MS
        self.block_no += 1
        opened = math.floor(t1 * self.orders_per_ms) - math.floor(t0 * self.orders_per_ms)
        for at in sorted(t0 + self.rng.random() * self.BLOCK_MS for _ in range(opened)):
            self._open_order(int(at))
        due = []
        while self._scheduled and self._scheduled[0][0] < t1:
            due.append(heapq.heappop(self._scheduled))
        self._deliver(due, t1)

    def _open_order(self, at_ms: int) -> None:
        cfg, rng, life = self.config, self.rng, self.config.lifecycle
        order_id = f"{self._order_tag}{self.next_order_no:09d}"
        self.next_order_no += 1
        self.orders_opened += 1
        region = rng.choices(self._regions, self._region_weights)[0]
        items = []
        for _ in range(min(6, 1 + int(rng.expovariate(1.4)))):
            category = rng.choice(self._categories)
            median, sigma = CATEGORIES[category]
            items.append({
                "sku": f"{category[:3]}-{rng.randrange(SKUS_PER_CATEGORY):04d}",
                "category": category,
                "quantity": 1 if rng.random() < 0.7 else rng.randint(2, 5),
                "unit_price": _price(rng, median, sigma)})
        scale = 1000.0 / cfg.time_scale

        def lognormal(median: float, sigma: float, lo: float, hi: float) -> int:
            return round(min(hi, max(lo, median * math.exp(rng.gauss(0.0, sigma)))) * scale)

        steps = [(at_ms, "purchased")]
        if rng.random() < cfg.cancel_rate:
            steps.append((at_ms + max(1, round(rng.uniform(life.cancel_min_s,
                                                           life.cancel_max_s) * scale)),
                          "cancelled"))
        else:
            shipped = at_ms + max(1, lognormal(life.ship_median_s, life.ship_sigma,
                                               life.ship_min_s, life.ship_max_s))
            delivered = shipped + max(1, lognormal(life.deliver_median_s, life.deliver_sigma,
                                                   life.deliver_min_s, life.deliver_max_s))
            steps += [(shipped, "shipped"), (delivered, "delivered")]
            if rng.random() < cfg.return_rate:
                steps.append((delivered + max(1, round(rng.uniform(
                    life.return_min_s, life.return_max_s) * scale)), "returned"))
        for at, status in steps:
            self._seq += 1
            heapq.heappush(self._scheduled, (at, self._seq, order_id, status, region, items))

    def _deliver(self, due: list[tuple[int, int, str, str, str, list[dict[str, Any]]]],
                 until_ms: int) -> None:
        cfg, rng = self.config, self.rng
        anchor = cfg.anchor_ms
        plain = cfg.disorder_s <= 0 and cfg.late_fraction <= 0 and cfg.duplicate_rate <= 0
        for at, _seq, order_id, status, region, items in due:
            event = orjson.dumps({
                "event_id": f"{order_id}/{status}", "order_id": order_id, "status": status,
                "event_time": format_epoch_ms(anchor + at), "region": region,
                "items": items})
            if plain:
                self._out.append(event)
                continue
            deliver = at + rng.uniform(0.0, cfg.disorder_s * 1000.0)
            if cfg.late_fraction > 0 and rng.random() < cfg.late_fraction:
                deliver += cfg.late_by_s * 1000.0
            self._delay(int(deliver), event)
            if cfg.duplicate_rate > 0 and rng.random() < cfg.duplicate_rate:
                self.duplicates += 1
                self._delay(int(deliver + rng.uniform(0.0, cfg.duplicate_delay_s * 1000.0)),
                            event)
        while self._delayed and self._delayed[0][0] < until_ms:
            self._out.append(heapq.heappop(self._delayed)[2])

    def _delay(self, deliver_ms: int, event: bytes) -> None:
        self._seq += 1
        heapq.heappush(self._delayed, (deliver_ms, self._seq, event))


class OrderSource:
    """``streamwatch orders`` as a :class:`~streamwatch.feed.sources.Source`."""

    feeds = ("orders",)

    def __init__(self, config: OrderConfig, *, held: int = 0,
                 registry: CollectorRegistry | None = None, tick_s: float = 0.01,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.generator = OrderGenerator(config)
        # events of this world the feed already holds: a restart regenerates and skips them
        self.held = held
        self.tick_s = tick_s
        self._clock = clock
        self._orders = self._duplicates = None
        self._reported = (0, 0)
        if registry is not None:
            from prometheus_client import Counter

            self._orders = Counter("streamwatch_order_orders_opened",
                                   "Orders the simulator opened (purchases)",
                                   registry=registry)
            self._duplicates = Counter("streamwatch_order_resent_events",
                                       "Order events the simulator sent a second time",
                                       registry=registry)

    def catch_up(self, stop: threading.Event, chunk: int = 50_000) -> int:
        """Regenerate the events the feed already holds; returns how many were skipped."""
        skipped = 0
        while skipped < self.held and not stop.is_set():
            n = min(chunk, self.held - skipped)
            self.generator.take(n)
            skipped += n
        # orders and resends of the skipped events were counted by the run that emitted them
        self._reported = (self.generator.orders_opened, self.generator.duplicates)
        return skipped

    def run(self, emit: Emit, stop: threading.Event) -> None:
        emitted = self.catch_up(stop)
        if emitted:
            log.info("skipped the events the feed already holds", extra={
                "events": emitted, "next_order_no": self.generator.next_order_no})
        limit = self.config.max_events
        # event time runs with the wall clock from where the feed left off
        start, sim_start = self._clock(), self.generator.sim_time_ms
        while not stop.is_set():
            due = sim_start + int((self._clock() - start) * 1000)
            events = self.generator.take_until(
                due, None if limit is None else limit - emitted)
            if events:
                emit("orders", events)
                emitted += len(events)
                self._update_metrics()
            if limit is not None and emitted >= limit:
                log.info("reached --max-events; no more order events",
                         extra={"events": emitted})
                return
            if stop.wait(self.tick_s):
                return

    def _update_metrics(self) -> None:
        if self._orders is None or self._duplicates is None:
            return
        opened, resent = self.generator.orders_opened, self.generator.duplicates
        self._orders.inc(opened - self._reported[0])
        self._duplicates.inc(resent - self._reported[1])
        self._reported = (opened, resent)
