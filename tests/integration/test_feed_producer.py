"""The producer runtime as a real process: feed API, line socket, kill -9 recovery, shutdown.

Runs ``streamwatch txns`` (the transaction simulator) on 127.0.0.1.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.procs import ServiceProcess, free_port


class Producer:
    def __init__(self, proc: ServiceProcess, http_port: int, socket_port: int) -> None:
        self.proc = proc
        self.url = f"http://127.0.0.1:{http_port}"
        self.socket_port = socket_port

    def offsets(self, feed: str = "transactions") -> dict[str, int]:
        return requests.get(f"{self.url}/v1/feeds/{feed}/offsets", timeout=5).json()

    def read(self, start: int, end: int, feed: str = "transactions") -> list[bytes]:
        """Records [start, end), page by page, following X-Streamwatch-End."""
        out: list[bytes] = []
        pos = start
        while pos < end:
            r = requests.get(f"{self.url}/v1/feeds/{feed}/records",
                             params={"start": pos, "end": end}, timeout=10)
            assert r.status_code == 200, r.text
            assert int(r.headers["X-Streamwatch-Start"]) == pos
            nxt = int(r.headers["X-Streamwatch-End"])
            lines = r.content.split(b"\n")
            assert lines[-1] == b"" or nxt == pos
            assert len(lines) - 1 == nxt - pos
            out.extend(lines[:-1])
            if nxt == pos:
                break
            pos = nxt
        return out

    def metric(self, name: str, labels: dict[str, str]) -> float | None:
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v
                                               for k, v in labels.items()):
                    return sample.value
        return None

    def wait_latest(self, at_least: int, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            latest = self.offsets()["latest"]
            if latest >= at_least:
                return latest
            time.sleep(0.05)
        raise TimeoutError(f"feed did not reach {at_least} records:\n{self.proc.log()}")


StartProducer = Callable[..., Producer]


@pytest.fixture
def start_producer(tmp_path: Path) -> Iterator[StartProducer]:
    started: list[ServiceProcess] = []

    def start(data_dir: Path, *extra: str, wait: bool = True) -> Producer:
        http_port, socket_port = free_port(), free_port()
        args = ["--seed", "1", "--rate", "2000", "--http-port", str(http_port),
                "--socket-port", str(socket_port), "--data-dir", str(data_dir), *extra]
        log_path = tmp_path / f"producer-{len(started)}.log"
        proc = ServiceProcess(["txns", *args], log_path)
        started.append(proc.start())
        producer = Producer(proc, http_port, socket_port)
        if wait:
            proc.wait_http(f"{producer.url}/readyz")
        return producer

    yield start
    for proc in started:
        proc.stop()


def test_offsets_ranges_socket_and_clean_shutdown(start_producer: StartProducer,
                                                  tmp_path: Path) -> None:
    p = start_producer(tmp_path / "data")
    latest = p.wait_latest(1000)
    feeds = requests.get(f"{p.url}/v1/feeds", timeout=5).json()["feeds"]
    by_name = {f["name"]: f for f in feeds}
    assert set(by_name) == {"transactions", "labels"}
    assert by_name["transactions"]["socket_port"] == p.socket_port
    assert by_name["labels"]["socket_port"] is None

    records = p.read(0, latest)
    assert len(records) == latest
    txn_ids = [orjson.loads(r)["txn_id"] for r in records]
    assert len(set(txn_ids)) == len(txn_ids)
    assert p.read(latest - 10, latest) == records[-10:]  # a range reads the same bytes again
    labels = p.read(0, 50, feed="labels")
    assert all("txn_id" in orjson.loads(r) for r in labels)

    bad = requests.get(f"{p.url}/v1/feeds/transactions/records", params={"start": "x"},
                       timeout=5)
    assert (bad.status_code, bad.json()["field"]) == (400, "start")

    with socket.create_connection(("127.0.0.1", p.socket_port), timeout=10) as s:
        buf = b""
        while buf.count(b"\n") < 20:
            chunk = s.recv(65536)
            assert chunk, "line socket closed early"
            buf += chunk
    lines = buf.split(b"\n")[:20]
    assert all("txn_id" in orjson.loads(line) for line in lines)

    assert p.proc.stop() == 0
    assert '"producer stopped"' in p.proc.log()


@pytest.mark.slow
@pytest.mark.recovery
def test_kill9_mid_append_keeps_every_record_a_reader_saw(start_producer: StartProducer,
                                                          tmp_path: Path) -> None:
    data = tmp_path / "data"
    # small segments so the kill can land near a roll, fast rate so it lands mid-append
    extra = ("--segment-bytes", "256KiB", "--rate", "20000")
    p = start_producer(data, *extra)
    seen: list[bytes] = []
    for _ in range(4):
        latest = p.wait_latest(len(seen) + 2000)
        seen.extend(p.read(len(seen), latest))
    p.proc.kill9()

    q = start_producer(data, *extra)
    after = q.offsets()
    assert after["earliest"] == 0
    assert after["latest"] >= len(seen)
    reread = q.read(0, len(seen))
    assert reread == seen  # same offsets, same bytes
    # the log keeps growing contiguously after the restart
    latest = q.wait_latest(after["latest"] + 1000)
    tail = q.read(len(seen), latest)
    assert len(tail) == latest - len(seen)
    torn = q.metric("streamwatch_feed_torn_records_truncated_total", {"feed": "transactions"})
    assert torn is not None and torn in (0.0, 1.0)
    assert q.proc.stop() == 0


@pytest.mark.slow
def test_a_slow_socket_client_is_dropped_while_the_producer_keeps_appending(
        start_producer: StartProducer, tmp_path: Path) -> None:
    p = start_producer(tmp_path / "data", "--socket-buffer", "200", "--rate", "5000")
    slow = socket.socket()
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.connect(("127.0.0.1", p.socket_port))
    try:
        deadline = time.monotonic() + 30
        dropped = 0.0
        while time.monotonic() < deadline:
            dropped = p.metric("streamwatch_feed_socket_clients_dropped_total",
                               {"feed": "transactions"}) or 0.0
            if dropped:
                break
            time.sleep(0.2)
        assert dropped == 1.0
        before = p.offsets()["latest"]
        p.wait_latest(before + 500)
        assert p.metric("streamwatch_feed_socket_clients", {"feed": "transactions"}) == 0
    finally:
        slow.close()


def test_a_busy_port_exits_2_with_the_flag_to_change(start_producer: StartProducer,
                                                      tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        p = start_producer(tmp_path / "data", "--http-port", str(busy), wait=False)
        assert p.proc.proc is not None
        assert p.proc.proc.wait(timeout=30) == 2
    assert "already in use" in p.proc.log()
    assert "--http-port" in p.proc.log()
