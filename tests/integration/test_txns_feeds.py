"""``streamwatch txns`` as a real process: both feeds over HTTP, joined 1:1 with labels."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import orjson
import requests

from streamwatch.contracts.events import Label, Transaction
from streamwatch.feed.client import FeedClient
from tests.procs import ServiceProcess, free_port

N = 3000


def _wait_latest(base: str, feed: str, n: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    latest = 0
    while time.monotonic() < deadline:
        latest = FeedClient(base, feed, timeout=5).end_offset()
        if latest >= n:
            return latest
        time.sleep(0.2)
    raise AssertionError(f"feed {feed} reached only {latest} of {n} records")


def _records(base: str, feed: str, n: int) -> list[dict]:
    with FeedClient(base, feed) as client:
        return [doc for _, doc in client.objects(0, n)]


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


def _reference(data: Path, n: int) -> tuple[list[dict], list[dict]]:
    """The first ``n`` records of the world recorded under ``data``, generated in one go."""
    from streamwatch.feed import world as worlds
    from streamwatch.producers.txns.cli import build_config
    from streamwatch.producers.txns.simulator import TxnGenerator

    world = worlds.read(data, "txns")
    assert world is not None
    gen = TxnGenerator(build_config(world.params, epoch=world.epoch),
                       first_txn_no=world.first_number)
    txns, labels = gen.take(n)
    return [orjson.loads(t) for t in txns], [orjson.loads(x) for x in labels]


def _txns_cli(*argv: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamwatch.cli", "txns", *argv, "--data-dir", str(data),
         "--http-port", str(free_port()), "--socket-port", str(free_port())],
        capture_output=True, text=True, timeout=60)


def test_a_restart_continues_the_same_world(tmp_path: Path) -> None:
    """Two starts on one data directory give the records of one uninterrupted run: the seed
    (drawn at the first start) and the start time come from the world record."""
    http, sock = free_port(), free_port()
    base = f"http://127.0.0.1:{http}"
    argv = ["--rate", "1000", "--fraud-rate", "0.05", "--http-port", str(http),
            "--socket-port", str(sock), "--data-dir", str(tmp_path / "data")]
    first = ServiceProcess(["txns", *argv, "--max-events", "500"], tmp_path / "1.log").start()
    try:
        first.wait_http(f"{base}/readyz")
        _wait_latest(base, "transactions", 500)
    finally:
        assert first.stop() == 0, first.log()
    second = ServiceProcess(["txns", *argv, "--max-events", "1000"], tmp_path / "2.log").start()
    try:
        second.wait_http(f"{base}/readyz")
        _wait_latest(base, "transactions", 1000)
        _wait_latest(base, "labels", 1000)
        txns = _records(base, "transactions", 1000)
        labels = _records(base, "labels", 1000)
    finally:
        assert second.stop() == 0, second.log()
    ref_txns, ref_labels = _reference(tmp_path / "data", 1000)
    assert txns == ref_txns
    assert labels == ref_labels
    assert re.fullmatch(r"c-\d{6}", txns[0]["card_id"])  # epoch 1: plain ids

    # other world flags are refused, naming each flag and the way out
    refused = _txns_cli("--rate", "500", "--fraud-rate", "0.05", data=tmp_path / "data")
    assert refused.returncode == 2, refused.stderr
    assert "--rate 1000 (this run: 500)" in refused.stderr
    assert "--new-world" in refused.stderr

    # --new-world: new ids (epoch 2) after the old records, which stay
    third = ServiceProcess(["txns", *argv, "--max-events", "200", "--new-world"],
                           tmp_path / "3.log").start()
    try:
        third.wait_http(f"{base}/readyz")
        _wait_latest(base, "transactions", 1200)
        later = _records(base, "transactions", 1200)
    finally:
        assert third.stop() == 0, third.log()
    assert later[:1000] == txns
    assert all(t["card_id"].startswith("c-e2-") for t in later[1000:])
    assert all(t["customer_id"].startswith("u-e2-") for t in later[1000:])
    assert later[1000]["txn_id"] == "t-000001001"


def test_an_unset_seed_is_fresh_and_logged_at_start(tmp_path: Path) -> None:
    from streamwatch.feed import world as worlds

    http = free_port()
    proc = ServiceProcess(
        ["txns", "--rate", "100", "--max-events", "10", "--http-port", str(http),
         "--socket-port", str(free_port()), "--data-dir", str(tmp_path / "data")],
        tmp_path / "txns.log").start()
    try:
        proc.wait_http(f"http://127.0.0.1:{http}/readyz")
    finally:
        assert proc.stop() == 0, proc.log()
    logged = [orjson.loads(raw) for raw in proc.log().splitlines() if raw.startswith("{")]
    configured = [doc for doc in logged if doc.get("msg") == "txn-simulator configured"]
    world = worlds.read(tmp_path / "data", "txns")
    assert world is not None
    assert [doc["seed"] for doc in configured] == [world.params["--seed"]], proc.log()
