"""A real Apache Kafka broker (KRaft, one node) on 127.0.0.1 for the tests and benchmarks.

The broker's classpath comes from ``scripts/fetch-kafka.sh`` (``make kafka``, part of
``make test``). It runs as its own JVM, so a test can stop, kill and restart it; its log
directory survives a restart, as a broker's disk would.
"""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

from bench.ports import free_port
from streamwatch.core.java import ensure_java_env

ROOT = Path(__file__).resolve().parents[1]
BROKER_LIBS = ROOT / ".tools/kafka/broker"


def available() -> str | None:
    """None when a broker can run here, else the reason it cannot."""
    if not any(BROKER_LIBS.glob("kafka_2.13-*.jar")):
        return f"no Kafka broker in {BROKER_LIBS}; run `make kafka` (needs mvn)"
    return None


class KafkaBroker:
    def __init__(self, workdir: Path, *, partitions: int = 2) -> None:
        self.workdir = workdir
        self.partitions = partitions
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.java = str(ensure_java_env(17).home / "bin/java")
        self.log_path = workdir / "broker.log"
        self._write_config()
        self._format()

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = self.workdir / "server.properties"
        self.config.write_text("\n".join([
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names=CONTROLLER",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={self.workdir / 'data'}",
            f"num.partitions={self.partitions}",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0",
            # a test machine is small; the defaults size for a production host
            "num.network.threads=2",
            "num.io.threads=2",
            "",
        ]))

    def _java(self, *args: str) -> list[str]:
        return [self.java, "-Xmx384m", "-XX:+UseSerialGC", "-cp", f"{BROKER_LIBS}/*", *args]

    def _format(self) -> None:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        subprocess.run(
            self._java("kafka.tools.StorageTool", "format", "-t", cluster_id,
                       "-c", str(self.config)),
            check=True, capture_output=True, timeout=120,
        )

    def start(self, timeout: float = 90.0) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self._java("kafka.Kafka", str(self.config)), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"Kafka broker exited {self.proc.returncode}; see {self.log_path}")
            if self._ready():
                return
            time.sleep(0.5)
        raise TimeoutError(f"Kafka broker not ready in {timeout} s; see {self.log_path}")

    def _ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
        except OSError:
            return False
        from confluent_kafka.admin import AdminClient

        try:
            meta = AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=5)
        except Exception:
            return False
        return bool(meta.brokers)

    def kill(self) -> None:
        """SIGKILL, as a crashed broker host."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def create_topic(self, topic: str, partitions: int | None = None) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        futures = admin.create_topics(
            [NewTopic(topic, num_partitions=partitions or self.partitions, replication_factor=1)])
        for f in futures.values():
            f.result(timeout=30)

    def produce(self, topic: str, lines: list[bytes], *, key_of: object = None) -> None:
        """Write ``lines`` to ``topic``, each acknowledged by the broker (acks=all)."""
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "acks": "all",
                             "enable.idempotence": True, "linger.ms": 5})
        errors: list[str] = []

        def on_delivery(err: object, _msg: object) -> None:
            if err is not None:
                errors.append(str(err))

        for line in lines:
            key = key_of(line) if callable(key_of) else None
            while True:
                try:
                    producer.produce(topic, value=line, key=key, on_delivery=on_delivery)
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
        remaining = producer.flush(60)
        if remaining or errors:
            raise RuntimeError(f"{remaining} not delivered; errors: {errors[:3]}")
