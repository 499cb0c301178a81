"""The transaction generator and the :class:`~streamwatch.feed.sources.Source` around it.

``TxnGenerator`` advances a simulated clock in fixed blocks of event time.
Each block starts fraud incidents (a Poisson number per scenario, sized so
fraud transactions make up ``fraud_rate`` of all), pulls the incident rows due
in the block, fills the rest of the block with legit purchases of free cards,
sorts by event time, numbers the transactions and serialises them. Because
blocks do not depend on how many events a caller asks for, the same seed
gives the same sequence however the output is paced.

Optional disorder delays each event's *delivery* (never its ``event_time``)
by up to ``disorder_s``, and ``late_fraction`` of events by ``late_by_s``
more, so consumers see out-of-order and late data while fraud signatures in
event time stay intact.

``TxnSource`` paces the generator with :class:`~streamwatch.feed.sources.Pacer`
and emits each batch to the ``labels`` feed, then to ``transactions``: a
crash between the two leaves a label without its transaction, never a
transaction without its label.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import orjson

from streamwatch.contracts.events import SCENARIOS
from streamwatch.feed.sources import Emit, Pacer
from streamwatch.producers.txns import geo
from streamwatch.producers.txns.columns import Columns, serialise
from streamwatch.producers.txns.config import SimConfig
from streamwatch.producers.txns.legit import (
    big_purchases,
    legit_columns,
    life_events,
    pick_free_cards,
)
from streamwatch.producers.txns.population import Population
from streamwatch.producers.txns.scenarios import BUILDERS, IncidentContext, Row, eligible

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger(__name__)

#: random customers tried when looking for one that can start an incident
_INCIDENT_CANDIDATES = 256


class TxnGenerator:
    """Deterministic stream of (transaction, label) JSON pairs in delivery order."""

    def __init__(self, config: SimConfig, *, first_txn_no: int = 1) -> None:
        problems = config.problems()
        if problems:
            raise ValueError("; ".join(problems))
        self.config = config
        pop_seed, gen_seed = np.random.SeedSequence(config.seed).spawn(2)
        self.rng = np.random.default_rng(gen_seed)
        self.pop = Population(config, np.random.default_rng(pop_seed))
        self.ctx = IncidentContext(self.pop, self.rng, config, geo.city_distances_km())
        # a block must span less than the legit gap (pick_free_cards relies on it)
        self.block_events = max(1, min(512, int(config.rate * config.legit.min_gap_s / 2)))
        self.block_no = 0
        self.next_txn_no = first_txn_no
        self.incidents_started = 0
        self.incidents_by_scenario = dict.fromkeys(SCENARIOS, 0)
        self.incidents_skipped = dict.fromkeys(SCENARIOS, 0)
        self._min_gap_ms = int(config.legit.min_gap_s * 1000)
        self._quiet_ms = int(config.legit.quiet_before_incident_s * 1000)
        self._reissue_ms = int(config.legit.reissue_after_s * 1000)
        shares = config.scenarios.shares()
        # incidents per generated event, per scenario
        self._lambda = {
            s: config.fraud_rate * shares[s] / config.scenarios.mean_fraud_txns(s)
            for s in SCENARIOS}
        self._scheduled: list[tuple[int, int, Row]] = []  # (time, seq, row) min-heap
        self._seq = 0
        self._delayed: list[tuple[int, int, bytes, bytes]] = []  # delivery min-heap
        self._out: deque[tuple[bytes, bytes]] = deque()
        self._incident_names: dict[int, str] = {}

    # -- public -------------------------------------------------------------

    def take(self, n: int) -> tuple[list[bytes], list[bytes]]:
        """The next ``n`` transactions and their labels, in delivery order."""
        while len(self._out) < n:
            self._block()
        pairs = [self._out.popleft() for _ in range(n)]
        return [p[0] for p in pairs], [p[1] for p in pairs]

    def incident_names_pending(self) -> set[str]:
        """Incidents whose first transaction was generated but not all of the rest: rows
        still scheduled, or generated but not yet delivered. A finite stream cuts them off."""
        scheduled = {int(row[12]) for _, _, row in self._scheduled}
        names = {self._incident_names[i] for i in scheduled if i in self._incident_names}
        undelivered = [label for *_, label in self._delayed] + [p[1] for p in self._out]
        for label in undelivered:
            incident = orjson.loads(label)["incident_id"]
            if incident is not None:
                names.add(str(incident))
        return names

    # -- one block ----------------------------------------------------------

    def _block_start(self, k: int) -> int:
        return round(k * self.block_events * 1000.0 / self.config.rate)

    def _block(self) -> None:
        t0, t1 = self._block_start(self.block_no), self._block_start(self.block_no + 1)
        self.block_no += 1
        for scenario in SCENARIOS:
            lam = self._lambda[scenario] * self.block_events
            for _ in range(int(self.rng.poisson(lam)) if lam > 0 else 0):
                self._start_incident(scenario, int(self.rng.integers(t0, t1)))
        due: list[Row] = []
        while self._scheduled and self._scheduled[0][0] < t1:
            due.append(heapq.heappop(self._scheduled)[2])
        m = max(0, self.block_events - len(due))
        times = np.sort(self.rng.integers(t0, t1, m)) if t1 > t0 else np.full(m, t0)
        slots = pick_free_cards(self.pop, self.rng, times, self._min_gap_ms,
                                self.config.anchor_ms, self.config.legit.night_activity)
        legit = legit_columns(self.pop, self.rng, slots, times, self.config.legit)
        big_purchases(self.pop, self.rng, legit, self.config.legit)
        life_events(self.pop, self.rng, legit, self.config.legit, self.ctx.distances_km)
        block = Columns.concat([legit, Columns.from_rows(due)]).sort_by_time()
        txns, labels, _ = serialise(block, self.config.anchor_ms, self.next_txn_no,
                                    self._incident_name, self.config.epoch)
        self.next_txn_no += len(block)
        self._deliver(block.time_ms, txns, labels, t1)

    def _start_incident(self, scenario: str, start_ms: int) -> None:
        pop = self.pop
        cand = self.rng.integers(0, pop.size, _INCIDENT_CANDIDATES)
        # a customer on a trip is not picked: the scenarios assume the owner is at home
        ok = ((pop.next_free_ms[cand] <= start_ms)
              & (pop.last_ms[cand] <= start_ms - self._quiet_ms)
              & (pop.back_at_ms[cand] <= start_ms))
        slot = next((int(s) for s in cand[ok] if eligible(pop, scenario, int(s))), None)
        if slot is None:
            self.incidents_skipped[scenario] += 1
            return
        self.incidents_started += 1
        self.incidents_by_scenario[scenario] += 1
        rows = BUILDERS[scenario](self.ctx, slot, start_ms, self.incidents_started)
        for row in rows:
            self._seq += 1
            heapq.heappush(self._scheduled, (row[0], self._seq, row))
        # the card is blocked after the incident; the customer gets a new card later
        pop.reissue(slot, max(r[0] for r in rows) + self._reissue_ms)

    def _incident_name(self, incident: int, txn_no: int) -> str:
        """Incident ids are named after their first transaction, so they stay unique when
        a restarted simulator continues numbering transactions where the log ended."""
        name = self._incident_names.get(incident)
        if name is None:
            name = self._incident_names[incident] = f"i-{txn_no:09d}"
            if len(self._incident_names) > 100_000:
                # incidents last at most hours of event time; forget the oldest names
                for key in list(self._incident_names)[:50_000]:
                    del self._incident_names[key]
        return name

    def _deliver(self, times: np.ndarray, txns: list[bytes], labels: list[bytes],
                 until_ms: int) -> None:
        cfg = self.config
        if cfg.disorder_s <= 0 and cfg.late_fraction <= 0:
            self._out.extend(zip(txns, labels, strict=True))
            return
        n = len(txns)
        delay = self.rng.uniform(0.0, cfg.disorder_s * 1000.0, n)
        delay += np.where(self.rng.random(n) < cfg.late_fraction, cfg.late_by_s * 1000.0, 0.0)
        for at, txn, label in zip((times + delay.astype(np.int64)).tolist(), txns, labels,
                                  strict=True):
            self._seq += 1
            heapq.heappush(self._delayed, (at, self._seq, txn, label))
        while self._delayed and self._delayed[0][0] < until_ms:
            _, _, txn, label = heapq.heappop(self._delayed)
            self._out.append((txn, label))


class TxnSource:
    """``streamwatch txns`` as a :class:`~streamwatch.feed.sources.Source`."""

    feeds = ("transactions", "labels")

    def __init__(self, config: SimConfig, *, first_txn_no: int = 1,
                 held: dict[str, int] | None = None,
                 registry: CollectorRegistry | None = None, tick_s: float = 0.01,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.generator = TxnGenerator(config, first_txn_no=first_txn_no)
        # records of this world each feed already holds: a restart regenerates and skips them
        self.held = dict.fromkeys(self.feeds, 0) if held is None else dict(held)
        self.tick_s = tick_s
        self._clock = clock
        self._incidents = None
        self._reported = dict.fromkeys(SCENARIOS, 0)
        if registry is not None:
            from prometheus_client import Counter

            self._incidents = Counter(
                "streamwatch_txn_incidents", "Fraud incidents started by the simulator",
                ["scenario"], registry=registry)
            for scenario in SCENARIOS:
                self._incidents.labels(scenario)

    def catch_up(self, emit: Emit, stop: threading.Event, chunk: int = 50_000) -> int:
        """Regenerate the records the feeds already hold; emit the labels of those whose
        label was lost (a crash between the two feeds). Returns the transactions skipped."""
        done, labelled = self.held["transactions"], self.held["labels"]
        skipped = 0
        while skipped < done and not stop.is_set():
            n = min(chunk, done - skipped)
            _, labels = self.generator.take(n)
            if labelled < skipped + n:
                emit("labels", labels[max(0, labelled - skipped):])
            skipped += n
        # incidents of the skipped records were counted by the run that emitted them
        self._reported = dict(self.generator.incidents_by_scenario)
        return skipped

    def run(self, emit: Emit, stop: threading.Event) -> None:
        emitted = self.catch_up(emit, stop)
        labelled = self.held["labels"]
        if emitted:
            log.info("skipped the transactions the feed already holds", extra={
                "transactions": emitted, "next_txn_no": self.generator.next_txn_no})
        pacer = Pacer(self.config.rate, tick_s=self.tick_s, clock=self._clock)
        limit = self.config.max_events
        while not stop.is_set():
            n = pacer.due()
            if limit is not None:
                n = min(n, limit - emitted)
            if n > 0:
                txns, labels = self.generator.take(n)
                # labels already there from a start that crashed between the two feeds
                emit("labels", labels[max(0, labelled - emitted):])
                emit("transactions", txns)
                emitted += n
                self._update_metrics()
            if limit is not None and emitted >= limit:
                log.info("reached --max-events; no more transactions",
                         extra={"transactions": emitted})
                return
            if not pacer.wait(stop):
                return

    def _update_metrics(self) -> None:
        if self._incidents is None:
            return
        for scenario, count in self.generator.incidents_by_scenario.items():
            if count > self._reported[scenario]:
                self._incidents.labels(scenario).inc(count - self._reported[scenario])
                self._reported[scenario] = count
