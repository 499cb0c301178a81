"""``streamwatch txns`` as a real process: both feeds over HTTP, joined 1:1 with labels."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import requests

from streamwatch.events import Label, Transaction
from tests.procs import ServiceProcess, free_port

N = 3000


def _wait_latest(base: str, feed: str, n: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    latest = 0
    while time.monotonic() < deadline:
        latest = requests.get(f"{base}/v1/feeds/{feed}/offsets", timeout=5).json()["latest"]
        if latest >= n:
            return latest
        time.sleep(0.2)
    raise AssertionError(f"feed {feed} reached only {latest} of {n} records")


def _records(base: str, feed: str, n: int) -> list[dict]:
    out: list[dict] = []
    while len(out) < n:
        r = requests.get(f"{base}/v1/feeds/{feed}/records",
                         params={"start": len(out), "end": n}, timeout=10)
        r.raise_for_status()
        out += [orjson.loads(line) for line in r.content.splitlines() if line]
    return out


def _start(tmp_path: Path, http: int, sock: int, max_events: int) -> ServiceProcess:
    return ServiceProcess(
        ["txns", "--seed", "1", "--rate", "1000", "--fraud-rate", "0.05",
         "--max-events", str(max_events), "--http-port", str(http), "--socket-port", str(sock),
         "--data-dir", str(tmp_path / "data")],
        tmp_path / "txns.log").start()


def test_transactions_and_labels_join_one_to_one(tmp_path: Path) -> None:
    http, sock = free_port(), free_port()
    proc = _start(tmp_path, http, sock, N)
    base = f"http://127.0.0.1:{http}"
    try:
        proc.wait_http(f"{base}/readyz")
        feeds = requests.get(f"{base}/v1/feeds", timeout=5).json()["feeds"]
        assert {f["name"] for f in feeds} == {"transactions", "labels"}
        _wait_latest(base, "transactions", N)
        _wait_latest(base, "labels", N)
        txns = _records(base, "transactions", N)
        labels = _records(base, "labels", N)
        # --max-events: nothing beyond N, and the service keeps serving
        assert requests.get(f"{base}/v1/feeds/transactions/offsets",
                            timeout=5).json()["latest"] == N
    finally:
        assert proc.stop() == 0, proc.log()
    for doc in txns:
        Transaction.from_dict(doc)
        assert "is_fraud" not in doc
    for doc in labels:
        Label.from_dict(doc)
    assert [t["txn_id"] for t in txns] == [x["txn_id"] for x in labels]
    assert len({t["txn_id"] for t in txns}) == N
    assert any(x["is_fraud"] for x in labels)


def test_a_restart_continues_the_ids_after_the_log(tmp_path: Path) -> None:
    http, sock = free_port(), free_port()
    base = f"http://127.0.0.1:{http}"
    first = _start(tmp_path, http, sock, 500)
    try:
        first.wait_http(f"{base}/readyz")
        _wait_latest(base, "transactions", 500)
    finally:
        assert first.stop() == 0, first.log()
    second = _start(tmp_path, http, sock, 500)
    try:
        second.wait_http(f"{base}/readyz")
        _wait_latest(base, "transactions", 1000)
        _wait_latest(base, "labels", 1000)
        txns = _records(base, "transactions", 1000)
        labels = _records(base, "labels", 1000)
    finally:
        assert second.stop() == 0, second.log()
    ids = [t["txn_id"] for t in txns]
    assert len(set(ids)) == 1000 and ids[500] == "t-000000501"
    assert ids == [x["txn_id"] for x in labels]
    incidents = {x["incident_id"] for x in labels[:500]} - {None}
    assert not incidents & ({x["incident_id"] for x in labels[500:]} - {None})
