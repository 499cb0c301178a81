"""``streamwatch txns --kafka``: every feed record in its topic exactly once, across a crash.

A real broker (KRaft) and the producer as a real process. The topics are read as
the jobs read them (``read_committed``) and compared with the producer's own feed
log over HTTP: the same records, each once, keyed by card.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from bench.kafka_broker import KafkaBroker, available
from tests.integration.test_txns_feeds import _records, _wait_latest
from tests.procs import ServiceProcess, free_port

pytestmark = [pytest.mark.slow]

N = 20_000


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    reason = available()
    if reason:
        pytest.skip(reason)
    b = KafkaBroker(tmp_path / "kafka")
    b.start()
    yield b
    b.stop()


def committed(bootstrap: str, topic: str, n: int, timeout: float = 90.0,
              group: str = "") -> list[tuple]:
    """At least ``n`` committed records of ``topic`` as (key, value, sw-offset), then the rest."""
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group or f"t-{topic}",
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False})
    consumer.subscribe([topic])
    out: list[tuple] = []
    deadline = time.monotonic() + timeout
    quiet_since = None
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                if len(out) >= n:
                    quiet_since = quiet_since or time.monotonic()
                    if time.monotonic() - quiet_since > 3:  # nothing more may arrive
                        return out
                continue
            assert not msg.error(), msg.error()
            quiet_since = None
            headers = dict(msg.headers() or [])
            out.append((msg.key(), msg.value(), int(headers["sw-offset"])))
    finally:
        consumer.close()
    raise AssertionError(f"{topic}: {len(out)} of {n} committed records in {timeout} s")


def start(tmp_path: Path, broker: KafkaBroker, http: int, name: str) -> ServiceProcess:
    return ServiceProcess(
        ["txns", "--seed", "4", "--rate", "4000", "--max-events", str(N),
         "--http-port", str(http), "--socket-port", str(free_port()),
         "--data-dir", str(tmp_path / "data"), "--kafka", broker.bootstrap],
        tmp_path / f"{name}.log").start()


def test_a_producer_killed_mid_publish_leaves_each_record_in_kafka_once(
        tmp_path: Path, broker: KafkaBroker) -> None:
    http = free_port()
    base = f"http://127.0.0.1:{http}"
    first = start(tmp_path, broker, http, "first")
    procs = [first]
    try:
        first.wait_http(f"{base}/readyz")
        _wait_latest(base, "transactions", N // 4, timeout=120)
        first.kill9()  # mid-stream: some chunks committed, one maybe open
        second = start(tmp_path, broker, http, "second")
        procs.append(second)
        second.wait_http(f"{base}/readyz")
        _wait_latest(base, "transactions", N, timeout=120)
        _wait_latest(base, "labels", N, timeout=120)
        feed = _records(base, "transactions", N)
        got = committed(broker.bootstrap, "transactions", N)
        labels = committed(broker.bootstrap, "labels", N)
    finally:
        for p in procs:
            if p.proc is not None and p.proc.poll() is None:
                p.stop()
    offsets = Counter(o for _k, _v, o in got)
    assert [o for o, c in offsets.items() if c > 1] == [], "a record reached Kafka twice"
    assert sorted(offsets) == list(range(N))
    by_offset = {o: orjson.loads(v) for _k, v, o in got}
    assert [by_offset[i] for i in range(N)] == feed
    assert all(k == orjson.loads(v)["card_id"].encode() for k, v, _o in got)
    assert sorted(o for _k, _v, o in labels) == list(range(N))


def test_a_bad_kafka_flag_is_refused_with_the_fix(tmp_path: Path) -> None:
    import subprocess
    import sys

    cli = str(Path(sys.executable).parent / "streamwatch")
    run = subprocess.run([cli, "txns", "--kafka", "localhost", "--max-events", "1",
                          "--http-port", "0", "--socket-port", "0",
                          "--data-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "--kafka 'localhost'" in run.stderr or "--kafka localhost" in run.stderr
    assert "HOST:PORT" in run.stderr
