"""Outbox delivery workers: claim due messages, send them signed, record the result.

One dispatcher thread claims as many due rows as there are idle workers (so a
claimed row never waits behind a slow delivery while its lease runs down) and
hands them to ``workers`` sender threads. The dispatcher sleeps until the next
row falls due, at most ``poll_interval``, and is woken at once by ``notify()``
after an ingest commits. Other replicas find new rows on their next poll.

``stop()`` lets in-flight and already claimed deliveries finish, then returns;
rows claimed by a process that dies are re-delivered after their lease expires.
"""

from __future__ import annotations

import itertools
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable

from streamwatch.alerting.metrics import AlertingMetrics
from streamwatch.alerting.policy import RetryPolicy
from streamwatch.alerting.sender import Connections
from streamwatch.alerting.signing import webhook_headers
from streamwatch.alerting.ssrf import UnsafeUrl, check_url
from streamwatch.alerting.store import SqlStore
from streamwatch.alerting.store.models import AttemptResult, Claimed
from streamwatch.contracts.events import format_epoch_ms

log = logging.getLogger(__name__)

EVENT_TYPE = "fraud.alert.created"


def webhook_body(claimed: Claimed) -> bytes:
    """``{"type", "timestamp", "data"}``; the same bytes on every attempt of a message."""
    return (b'{"type":"' + EVENT_TYPE.encode() + b'","timestamp":"'
            + format_epoch_ms(claimed.created_ms).encode() + b'","data":'
            + claimed.alert_body.encode() + b"}")


class DeliveryService:
    def __init__(self, store: SqlStore, *, policy: RetryPolicy, metrics: AlertingMetrics,
                 workers: int, attempt_timeout: float, poll_interval: float,
                 allow_private: bool, allowed_hosts: tuple[str, ...] = (),
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.policy = policy
        self.metrics = metrics
        self.workers = workers
        self.attempt_timeout = attempt_timeout
        self.poll_interval = poll_interval
        self.allow_private = allow_private
        self.allowed_hosts = allowed_hosts
        self.clock = clock
        # A claimed row stays leased for long enough to cover one slow attempt.
        self.lease_ms = int((2 * attempt_timeout + 5) * 1000)
        self._instance = secrets.token_hex(6)
        self._claims = itertools.count()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._slots = threading.Semaphore(workers)
        self._queue: queue.Queue[Claimed | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._dispatcher: threading.Thread | None = None
        self._local = threading.local()  # each worker thread's keep-alive connections

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def start(self) -> DeliveryService:
        if self._dispatcher is not None:
            return self
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"webhook-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        self._dispatcher = threading.Thread(target=self._dispatch, name="webhook-dispatch",
                                            daemon=True)
        self._dispatcher.start()
        log.info("delivery workers started", extra={"workers": self.workers})
        return self

    def notify(self) -> None:
        """New rows are due now: wake the dispatcher."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming, finish what was claimed, then return."""
        if self._dispatcher is None:
            return
        self._stopping.set()
        self._wake.set()
        self._dispatcher.join(timeout)
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout)
        self._dispatcher = None
        self._threads = []
        log.info("delivery workers stopped")

    # -- threads ----------------------------------------------------------------

    def _take_slots(self) -> int:
        if not self._slots.acquire(timeout=self.poll_interval):
            return 0
        n = 1
        while n < self.workers and self._slots.acquire(blocking=False):
            n += 1
        return n

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            free = self._take_slots()
            if free == 0:
                continue
            self._wake.clear()
            try:
                owner = f"{self._instance}-{next(self._claims)}"
                claimed = self.store.claim_due(owner, self.now_ms(), free, self.lease_ms)
            except Exception:
                log.exception("claiming due deliveries failed")
                claimed = []
            for _ in range(free - len(claimed)):
                self._slots.release()
            for row in claimed:
                self._queue.put(row)
            if not claimed:
                self._wake.wait(self._idle_wait())

    def _idle_wait(self) -> float:
        try:
            due = self.store.next_due_ms()
        except Exception:
            log.warning("reading the next due delivery failed", exc_info=True)
            return self.poll_interval
        if due is None:
            return self.poll_interval
        return min(self.poll_interval, max(0.0, (due - self.now_ms()) / 1000))

    def _work(self) -> None:
        while True:
            row = self._queue.get()
            if row is None:
                self._connections().close()
                return
            try:
                self.deliver(row)
            except Exception:
                log.exception("delivery failed unexpectedly",
                              extra={"message_id": row.message_id})
            finally:
                self._slots.release()

    # -- one attempt --------------------------------------------------------------

    def attempt(self, claimed: Claimed) -> AttemptResult:
        """Check the URL again (DNS may have changed), sign and send.

        Never raises: whatever goes wrong becomes a failed attempt, so the message
        follows the retry, dead-letter and disable policy instead of staying leased
        and pending forever.
        """
        started = time.perf_counter()
        try:
            target = check_url(claimed.url, allow_private=self.allow_private,
                               allowed_hosts=self.allowed_hosts)
        except UnsafeUrl as exc:
            return AttemptResult(None, 0.0, f"refused by the SSRF guard: {exc}")
        try:
            body = webhook_body(claimed)
            headers = webhook_headers(claimed.secrets, claimed.message_id, int(self.clock()),
                                      body)
            return self._connections().post(target, body, headers, self.attempt_timeout)
        except Exception as exc:
            # recorded and logged by deliver() like any failed attempt, without a
            # traceback: the usual cause is a URL stored before it was normalised
            return AttemptResult(None, (time.perf_counter() - started) * 1000,
                                 f"{type(exc).__name__}: {exc}"[:500])

    def _connections(self) -> Connections:
        conns = getattr(self._local, "connections", None)
        if conns is None:
            conns = self._local.connections = Connections()
        return conns

    def deliver(self, claimed: Claimed) -> str:
        result = self.attempt(claimed)
        now = self.now_ms()
        decision = self.store.record_attempt(
            claimed, result, now, lambda c, r, streak: self.policy.decide(c, r, streak, now))
        self.metrics.deliveries.labels(decision.outcome).inc()
        if decision.state == "pending":
            self._wake.set()  # the dispatcher may be sleeping past this row's retry time
        self.metrics.delivery_duration.observe(result.latency_ms / 1000)
        if decision.outcome != "delivered":
            log.info("delivery attempt failed", extra={
                "message_id": claimed.message_id, "subscription_id": claimed.subscription_id,
                "attempt": claimed.attempts + 1, "status_code": result.status_code,
                "error": result.error, "outcome": decision.outcome})
        if decision.disable_reason is not None:
            log.warning("subscription disabled", extra={
                "subscription_id": claimed.subscription_id, "reason": decision.disable_reason})
        return decision.outcome
