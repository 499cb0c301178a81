"""Faults with a Kafka source: the broker killed mid-stream, and the driver killed mid-stream.

Real processes on 127.0.0.1: a KRaft broker, ``streamwatch alerting`` (stores each
alert_id once) and ``streamwatch process fraud --source kafka:...``. The reference is
the detector over the same transactions in one pass (as in
test_recovery_fraud_driver.py): every run over them must store exactly its alert ids.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from bench.kafka_broker import KafkaBroker, available
from tests.integration.test_recovery_fraud_driver import reference_ids, stored_ids
from tests.procs import ServiceProcess, free_port

pytestmark = [pytest.mark.recovery, pytest.mark.kills, pytest.mark.slow, pytest.mark.spark]

EVENTS = 12_000
ENV = {"STREAMWATCH_ADMIN_TOKEN": "test-admin-token-0123456789"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[KafkaBroker, str, set[str], list[ServiceProcess]]]:
    """A broker holding EVENTS transactions, an alerting service, and the expected ids."""
    reason = available()
    if reason:
        pytest.skip(reason)
    from streamwatch.producers.txns.config import SimConfig
    from streamwatch.producers.txns.simulator import TxnGenerator

    broker = KafkaBroker(tmp_path / "kafka")
    broker.start()
    port = free_port()
    alerting = f"http://127.0.0.1:{port}"
    store = ServiceProcess(["alerting", "--port", str(port),
                            "--data-dir", str(tmp_path / "alerting")], tmp_path / "al.log", ENV)
    procs = [store.start()]
    try:
        store.wait_http(f"{alerting}/healthz")
        txns, _ = TxnGenerator(SimConfig(seed=21, rate=400)).take(EVENTS)
        broker.create_topic("transactions", partitions=2)
        broker.produce("transactions", txns, key_of=lambda x: orjson.loads(x)["card_id"])
        expected = reference_ids([orjson.loads(t) for t in txns])
        assert len(expected) > 10
        yield broker, alerting, expected, procs
    finally:
        for p in reversed(procs):
            if p.proc is not None and p.proc.poll() is None:
                p.stop()
        broker.stop()


def job(tmp_path: Path, broker: KafkaBroker, alerting: str, name: str) -> ServiceProcess:
    return ServiceProcess(
        ["process", "fraud", "--source", f"kafka:{broker.bootstrap}/transactions",
         "--sink", f"http:{alerting}/v1/alerts", "--checkpoint", str(tmp_path / "ck"),
         "--trigger", "500ms", "--max-records-per-trigger", "1500", "--master", "local[2]",
         "--buckets", "4", "--restarts", "5"],
        tmp_path / f"{name}.log", ENV)


def wait_for(count: int, alerting: str, proc: ServiceProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(stored_ids(alerting)) < count:
        assert time.monotonic() < deadline, proc.log()
        assert proc.proc is not None and proc.proc.poll() is None, proc.log()
        time.sleep(0.3)


def assert_exactly(expected: set[str], alerting: str) -> None:
    time.sleep(3)  # nothing more may arrive
    ids = stored_ids(alerting)
    assert len(ids) == len(set(ids)), "an alert was stored twice"
    assert set(ids) == expected


def test_broker_kill9_and_restart_mid_stream_loses_and_repeats_nothing(
        tmp_path: Path, stack: tuple[KafkaBroker, str, set[str], list[ServiceProcess]]) -> None:
    broker, alerting, expected, procs = stack
    running = job(tmp_path, broker, alerting, "job").start()
    procs.append(running)
    wait_for(max(3, len(expected) // 4), alerting, running, 180)
    broker.kill()
    time.sleep(8)  # the job's fetches fail meanwhile; it retries or restarts from its checkpoint
    assert len(stored_ids(alerting)) < len(expected), "the broker died too late to matter"
    broker.start()
    wait_for(len(expected), alerting, running, 240)
    assert_exactly(expected, alerting)


def test_driver_kill9_with_a_kafka_source_stores_each_alert_once(
        tmp_path: Path, stack: tuple[KafkaBroker, str, set[str], list[ServiceProcess]]) -> None:
    broker, alerting, expected, procs = stack
    first = job(tmp_path, broker, alerting, "job1").start()
    procs.append(first)
    wait_for(max(3, len(expected) // 4), alerting, first, 180)
    first.kill9()
    assert len(stored_ids(alerting)) < len(expected), "the crash came too late to matter"
    second = job(tmp_path, broker, alerting, "job2").start()
    procs.append(second)
    wait_for(len(expected), alerting, second, 180)
    assert_exactly(expected, alerting)
