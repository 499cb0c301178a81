"""The pipeline under test and its exact accounting.

One :class:`Pipeline` is the real chain on 127.0.0.1, each part its own
process started with its real command:

    streamwatch txns (seeded, bounded by --max-events, fixed --start-time)
      -> streamwatch process fraud (feed source, checkpoint, http sink)
      -> streamwatch alerting (SQLite) -> VerifyingReceiver (standardwebhooks)

The input is identical across runs (same seed, count, rate, card population
and start time; checked by a SHA-256 over the feed's records), so the alert ids
of an uninterrupted run over the same records are the ground truth a faulty
run is compared with.

Progress is read from the Spark checkpoint itself: the newest file under
``<checkpoint>/alerts/commits`` is the last finished micro-batch and
``offsets/<id>`` holds the feed offset it read up to.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.common import Service, cmdline, descendants
from bench.faults.receiver import VerifyingReceiver
from bench.ports import free_port
from streamwatch.feed.client import FeedClient, FeedError

ADMIN_TOKEN = "bench-faults-admin-token-" + "f" * 16
# Standard Webhooks example schedule (alerting's default), in seconds.
DEFAULT_SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400)


@dataclass(frozen=True)
class Workload:
    """What the simulator produces and how the processor reads it."""

    events: int | None = 20_000  # None: no --max-events (the simulator runs until stopped)
    rate: float = 2_000.0
    seed: int = 20261120
    fraud_rate: float = 0.05
    cards: int | None = None  # None: the simulator's default (3 x rate x 60 s of cards)
    start_time: str = "2026-11-20T10:00:00Z"
    trigger: str = "1s"
    max_records_per_trigger: int = 1_000
    legit_min_gap_s: float | None = None  # None: the simulator's default (60 s)


FULL = Workload()
QUICK = Workload(events=4_000, rate=2_000.0, max_records_per_trigger=1_000)


def schedule_text(delays: tuple[float, ...]) -> str:
    return ",".join(f"{d:g}" for d in delays)


def scaled_schedule(compress: float) -> tuple[float, ...]:
    """The default retry schedule with every delay divided by ``compress``."""
    return tuple(round(d / compress, 3) for d in DEFAULT_SCHEDULE)


@dataclass
class Pipeline:
    work: Path
    workload: Workload
    master: str = "local[2]"
    retry_schedule: tuple[float, ...] = (0, 0.5, 1, 2, 5, 10, 30, 60)
    retry_jitter: float = 0.2
    sim_port: int = field(default_factory=free_port)
    sim_socket_port: int = field(default_factory=free_port)
    alerting_port: int = field(default_factory=free_port)
    receiver: VerifyingReceiver = field(default_factory=VerifyingReceiver)
    sim: Service | None = None
    alerting: Service | None = None
    processor: Service | None = None
    processor_extra: list[str] = field(default_factory=list)
    # extra environment of the processor only (e.g. PYTHONPATH of another commit's src)
    processor_env: dict[str, str] = field(default_factory=dict)
    # bootstrap servers: the simulator publishes to Kafka and the job reads the topic
    kafka: str | None = None
    # a file: the simulator runs through bench.traced_producer, which writes there when each
    # batch of transactions was handed to the feed (bench_e2e_latency's "produced")
    sim_trace: Path | None = None
    processor_starts: int = 0
    processor_unexpected_exits: int = 0
    _started: list[Service] = field(default_factory=list)

    # -- addresses and paths ---------------------------------------------------

    @property
    def sim_url(self) -> str:
        return f"http://127.0.0.1:{self.sim_port}"

    @property
    def alerting_url(self) -> str:
        return f"http://127.0.0.1:{self.alerting_port}"

    @property
    def source(self) -> str:
        if self.kafka:
            return f"kafka:{self.kafka}/transactions"
        return f"feed:{self.sim_url}/transactions"

    @property
    def checkpoint(self) -> Path:
        return self.work / "checkpoint"

    @property
    def bound(self) -> int:
        """The bounded input size (fault runs always bound it)."""
        if not self.workload.events:
            raise ValueError("this needs a bounded workload (Workload.events)")
        return self.workload.events

    # -- starting the parts ----------------------------------------------------

    def _track(self, service: Service) -> Service:
        self._started.append(service)
        return service

    def start_sim(self) -> None:
        w = self.workload
        trace = ["--trace", str(self.sim_trace)] if self.sim_trace else []
        self.sim = self._track(Service(
            [*trace, "txns", "--seed", str(w.seed),
             *(["--max-events", str(w.events)] if w.events else []),
             "--rate", f"{w.rate:g}",
             "--fraud-rate", f"{w.fraud_rate:g}", *(["--cards", str(w.cards)] if w.cards else []),
             *(["--legit-min-gap", f"{w.legit_min_gap_s:g}"] if w.legit_min_gap_s else []),
             "--start-time", w.start_time, "--http-port", str(self.sim_port),
             "--socket-port", str(self.sim_socket_port), "--data-dir", str(self.work / "sim"),
             "--retention-bytes", "0", *(["--kafka", self.kafka] if self.kafka else [])],
            self.work / "logs" / "txns.log",
            module="bench.traced_producer" if self.sim_trace else "streamwatch.cli").start())
        self.sim.wait_http(f"{self.sim_url}/readyz", timeout=60)

    def restart_feed_serve_only(self) -> None:
        """The feed producer again, on the same ports and logs, generating nothing new."""
        self.sim = self._track(Service(
            ["--http-port", str(self.sim_port), "--socket-port", str(self.sim_socket_port),
             "--data-dir", str(self.work / "sim"), "--retention-bytes", "0"],
            self.work / "logs" / "feed-restarted.log", module="bench.faults.serve_feed").start())
        self.sim.wait_http(f"{self.sim_url}/readyz", timeout=60)

    def start_alerting(self) -> None:
        self.alerting = self._track(Service(
            ["alerting", "--port", str(self.alerting_port), "--data-dir",
             str(self.work / "alerting"), "--retry-schedule", schedule_text(self.retry_schedule),
             "--retry-jitter", f"{self.retry_jitter:g}", "--poll-interval", "0.2",
             "--attempt-timeout", "2"],
            self.work / "logs" / "alerting.log",
            env={"STREAMWATCH_ADMIN_TOKEN": ADMIN_TOKEN,
                 "STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE": "1"}).start())
        self.alerting.wait_http(f"{self.alerting_url}/readyz", timeout=60)

    def subscribe(self) -> None:
        if self.receiver.port == 0 or self.receiver._server is None:
            self.receiver.up()
        r = requests.post(f"{self.alerting_url}/v1/subscriptions", json={"url": self.receiver.url},
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
        if r.status_code != 201:
            raise RuntimeError(f"subscription refused: {r.status_code} {r.text[:300]}")
        self.receiver.set_secret(r.json()["secret"])

    def start_processor(self) -> None:
        w = self.workload
        self.processor_starts += 1
        self.processor = self._track(Service(
            ["process", "fraud", "--source", self.source,
             "--sink", f"http:{self.alerting_url}/v1/alerts", "--checkpoint", str(self.checkpoint),
             "--data-dir", str(self.work), "--trigger", w.trigger, "--master", self.master,
             "--max-records-per-trigger", str(w.max_records_per_trigger),
             "--log-level", "warning", *self.processor_extra],
            self.work / "logs" / f"processor-{self.processor_starts}.log",
            env=self.processor_env or None).start())

    def start_all(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.receiver.up()
        self.start_sim()
        self.start_alerting()
        self.subscribe()
        self.start_processor()

    def stop_all(self) -> None:
        for service in reversed(self._started):
            with contextlib.suppress(Exception):
                service.stop(timeout=20)
        self._started.clear()
        self.receiver.down()

    # -- killing ----------------------------------------------------------------

    def kill_processor(self) -> None:
        """``kill -9`` of the driver: the Python process, its JVM and Python workers."""
        assert self.processor is not None
        tree = descendants(self.processor.pid)
        self.processor.kill9()
        for pid in tree:  # anything that left the process group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def executor_pids(self) -> list[int]:
        """Executor JVMs of a local-cluster driver (CoarseGrainedExecutorBackend)."""
        if self.processor is None or not self.processor.alive():
            return []
        return [p for p in descendants(self.processor.pid)
                if "CoarseGrainedExecutorBackend" in cmdline(p)]

    # -- reading progress -------------------------------------------------------

    def commits(self) -> list[int]:
        folder = self.checkpoint / "alerts" / "commits"
        try:
            return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())
        except OSError:
            return []

    def committed_offset(self) -> int:
        ids = self.commits()
        if not ids:
            return 0
        try:
            lines = (self.checkpoint / "alerts" / "offsets" / str(ids[-1])).read_text().splitlines()
            doc = json.loads(lines[-1])
        except (OSError, ValueError, IndexError):
            return 0
        if "offset" in doc:  # the feed source
            return int(doc["offset"])
        # Kafka: {topic: {partition: next offset}}; transaction markers take offsets too, so
        # this over-counts records by one per committed producer transaction and partition
        return sum(int(o) for parts in doc.values() for o in parts.values())

    def feed_latest(self) -> int:
        with FeedClient(self.sim_url, "transactions", timeout=5) as feed:
            return feed.end_offset()

    def feed_sha256(self) -> str:
        """SHA-256 over the transaction records [0, events) as the feed API serves them."""
        digest = hashlib.sha256()
        with FeedClient(self.sim_url, "transactions", timeout=30) as feed:
            for page in feed.pages(0, self.bound):
                digest.update(b"".join(line + b"\n" for line in page.lines))
        return digest.hexdigest()

    def stored_alerts(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = None
        for _ in range(10_000):
            params: dict[str, Any] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            r = requests.get(f"{self.alerting_url}/v1/alerts", params=params, timeout=30)
            r.raise_for_status()
            doc = r.json()
            out.extend(doc["alerts"])
            cursor = doc.get("next_cursor")
            if not doc["alerts"] or not cursor:
                break
        return out

    # -- waiting ---------------------------------------------------------------

    def supervise(self) -> None:
        """Restart the processor if it exited on its own (what a Deployment would do)."""
        if self.processor is not None and not self.processor.alive():
            self.processor_unexpected_exits += 1
            self.processor.stop()
            self.start_processor()

    def wait_generated(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(FeedError):
                if self.feed_latest() >= self.bound:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"the simulator did not write {self.bound} records")

    def wait_commit_after(self, last_id: int, timeout: float, min_offset: int = 0,
                          supervise: bool = True) -> float:
        """Seconds until a micro-batch with id > ``last_id`` is committed."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            ids = self.commits()
            if ids and ids[-1] > last_id and self.committed_offset() >= min_offset:
                return time.monotonic() - started
            if supervise:
                self.supervise()
            time.sleep(0.05)
        raise TimeoutError(f"no micro-batch committed after #{last_id} within {timeout:.0f}s; "
                           f"see {self.work / 'logs'}")

    def wait_offset(self, offset: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.committed_offset() >= offset:
                return
            self.supervise()
            time.sleep(0.1)
        raise TimeoutError(f"processor did not reach offset {offset} in {timeout:.0f}s "
                           f"(at {self.committed_offset()}); see {self.work / 'logs'}")

    def wait_settled(self, timeout: float) -> dict[str, Any]:
        """All input processed, every stored alert delivered (or the timeout)."""
        self.wait_offset(self.bound, timeout)
        deadline = time.monotonic() + timeout
        stored: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            stored = self.stored_alerts()
            ids = {a["alert_id"] for a in stored}
            if ids <= self.receiver.delivered_ids():
                break
            time.sleep(0.5)
        time.sleep(1.0)  # late redeliveries in flight still count as duplicates
        return {"stored": self.stored_alerts()}


@dataclass
class Accounting:
    expected: int
    stored: int
    delivered: int
    lost: int
    lost_in_store: int
    duplicated: int
    stored_twice: int
    delivered_distinct_webhook_ids: int
    redeliveries_same_webhook_id: int
    unexpected: int
    invalid_signatures: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def account(expected_ids: set[str], stored: list[dict[str, Any]],
            receiver: VerifyingReceiver) -> Accounting:
    stored_counts = Counter(a["alert_id"] for a in stored)
    stored_ids = set(stored_counts)
    by_alert = receiver.webhook_ids_by_alert()
    deliveries = receiver.snapshot()
    delivered_ids = set(by_alert)
    distinct = {d.webhook_id for d in deliveries}
    return Accounting(
        expected=len(expected_ids),
        stored=len(stored_ids),
        delivered=len(delivered_ids & expected_ids),
        lost=len(expected_ids - delivered_ids),
        lost_in_store=len(expected_ids - stored_ids),
        duplicated=(sum(c - 1 for c in stored_counts.values())
                    + sum(len(w) - 1 for w in by_alert.values())),
        stored_twice=sum(1 for c in stored_counts.values() if c > 1),
        delivered_distinct_webhook_ids=len(distinct),
        redeliveries_same_webhook_id=len(deliveries) - len(distinct),
        unexpected=len((stored_ids | delivered_ids) - expected_ids),
        invalid_signatures=receiver.invalid,
    )
