"""The kafka image as docker-compose.kafka.yml runs it (read-only root, no capabilities,
user 10001, a data volume): a producer on the host publishes into it exactly once, and a
re-created container on the same volume still holds every record (the cluster id is
fixed, so the formatted log directory is taken over, not refused)."""

from __future__ import annotations

import secrets
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from tests.containers.stack import run, wait_for
from tests.integration.test_kafka_producers import committed
from tests.integration.test_txns_feeds import _records, _wait_latest
from tests.procs import ServiceProcess, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

IMAGE = "streamwatch/kafka:0.1.0"
N = 3_000


class Broker:
    """One container of the image, its client port published on loopback."""

    def __init__(self, volume: str, port: int) -> None:
        self.volume = volume
        self.port = port
        self.name = ""

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Broker:
        self.name = f"sw-kafka-{secrets.token_hex(4)}"
        run(["podman", "run", "-d", "--name", self.name, "--read-only", "--tmpfs", "/tmp",
             "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
             "-p", f"127.0.0.1:{self.port}:9092",
             "-e", "KAFKA_ADVERTISED_HOST=127.0.0.1", "-e", f"KAFKA_ADVERTISED_PORT={self.port}",
             "-v", f"{self.volume}:/var/lib/kafka/data", IMAGE], timeout=120)
        wait_for("the broker's health check", self._healthy, timeout=180, every=2,
                 diagnose=self.logs)
        wait_for("the broker on its published port", self._accepts, timeout=60, every=1,
                 diagnose=self.logs)
        return self

    def _healthy(self) -> bool:
        res = run(["podman", "exec", self.name, "/opt/kafka/entrypoint.sh", "healthcheck"],
                  check=False, timeout=30)
        return res.returncode == 0

    def _accepts(self) -> bool:
        with socket.socket() as s:
            s.settimeout(2)
            return s.connect_ex(("127.0.0.1", self.port)) == 0

    def logs(self) -> str:
        res = run(["podman", "logs", "--tail", "80", self.name], check=False, timeout=30)
        return res.stdout + res.stderr

    def remove(self) -> None:
        if self.name:
            run(["podman", "rm", "-f", "-t", "10", self.name], check=False, timeout=60)
            self.name = ""


@pytest.fixture
def volume(container_tools: None) -> Iterator[str]:
    name = f"sw-kafka-data-{secrets.token_hex(4)}"
    run(["podman", "volume", "create", name])
    yield name
    run(["podman", "volume", "rm", "-f", name], check=False)


def test_records_published_into_the_image_survive_a_recreated_container(
        volume: str, tmp_path: Path) -> None:
    broker = Broker(volume, free_port()).start()
    http = free_port()
    base = f"http://127.0.0.1:{http}"
    producer = ServiceProcess(
        ["txns", "--seed", "5", "--rate", "2000", "--max-events", str(N),
         "--http-port", str(http), "--socket-port", str(free_port()),
         "--data-dir", str(tmp_path / "data"), "--kafka", broker.bootstrap],
        tmp_path / "txns.log")
    try:
        producer.start()
        producer.wait_http(f"{base}/readyz")
        _wait_latest(base, "transactions", N, timeout=120)
        lag = 'streamwatch_kafka_publish_lag_records{feed="transactions"} 0.0'
        wait_for("every record copied to the broker",
                 lambda: lag in requests.get(f"{base}/metrics", timeout=5).text,
                 timeout=120, every=1, diagnose=lambda: producer.tail() + broker.logs())
        feed = _records(base, "transactions", N)
        producer.stop()
        first = committed(broker.bootstrap, "transactions", N, group="first")

        broker.remove()  # a new container on the same volume
        broker.start()
        again = committed(broker.bootstrap, "transactions", N, group="again")
    finally:
        if producer.proc is not None and producer.proc.poll() is None:
            producer.stop()
        broker.remove()
    for got in (first, again):
        offsets = Counter(o for _k, _v, o in got)
        assert [o for o, c in offsets.items() if c > 1] == [], "a record reached Kafka twice"
        assert sorted(offsets) == list(range(N))
        by_offset = {o: orjson.loads(v) for _k, v, o in got}
        assert [by_offset[i] for i in range(N)] == feed
