"""``streamwatch orders`` as a real process: the feed over HTTP, a restart continues the world."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import requests

from streamwatch.contracts.events import OrderEvent
from streamwatch.feed.client import FeedClient
from tests.procs import ServiceProcess, free_port


def _wait_latest(base: str, n: int, timeout: float = 60.0) -> int:
    deadline = time.monotonic() + timeout
    latest = 0
    while time.monotonic() < deadline:
        latest = FeedClient(base, "orders", timeout=5).end_offset()
        if latest >= n:
            return latest
        time.sleep(0.2)
    raise AssertionError(f"feed orders reached only {latest} of {n} records")


def _records(base: str, n: int) -> list[dict]:
    with FeedClient(base, "orders") as client:
        return [doc for _, doc in client.objects(0, n)]


def _reference(data: Path, n: int) -> list[dict]:
    """The first ``n`` events of the world recorded under ``data``, generated in one go."""
    from streamwatch.feed import world as worlds
    from streamwatch.producers.orders.cli import build_config
    from streamwatch.producers.orders.simulator import OrderGenerator

    world = worlds.read(data, "orders")
    assert world is not None
    gen = OrderGenerator(build_config(world.params, epoch=world.epoch))
    return [orjson.loads(e) for e in gen.take(n)]


def _orders_cli(*argv: str, data: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamwatch.cli", "orders", *argv, "--data-dir", str(data),
         "--http-port", str(free_port()), "--socket-port", str(free_port())],
        capture_output=True, text=True, timeout=60)


def test_a_restart_continues_the_same_world(tmp_path: Path) -> None:
    """Two starts on one data directory give the events of one uninterrupted run, resends
    and disorder included; other world flags are refused; --new-world gets new ids."""
    http, sock = free_port(), free_port()
    base = f"http://127.0.0.1:{http}"
    argv = ["--rate", "400", "--time-scale", "20000", "--duplicate-rate", "0.05",
            "--disorder", "2s", "--http-port", str(http), "--socket-port", str(sock),
            "--data-dir", str(tmp_path / "data")]
    # a seed on the first start only: the second continues the recorded one (and with a
    # fixed seed the first 1500 events surely hold every lifecycle step checked below)
    first = ServiceProcess(["orders", *argv, "--max-events", "600", "--seed", "1"],
                           tmp_path / "1.log").start()
    try:
        first.wait_http(f"{base}/readyz")
        feeds = requests.get(f"{base}/v1/feeds", timeout=5).json()["feeds"]
        assert [f["name"] for f in feeds] == ["orders"]
        _wait_latest(base, 600)
    finally:
        assert first.stop() == 0, first.log()
    second = ServiceProcess(["orders", *argv, "--max-events", "1500"],
                            tmp_path / "2.log").start()
    try:
        second.wait_http(f"{base}/readyz")
        _wait_latest(base, 1500)
        events = _records(base, 1500)
        # --max-events: nothing beyond it, and the service keeps serving
        assert requests.get(f"{base}/v1/feeds/orders/offsets", timeout=5).json()[
            "latest"] == 1500
    finally:
        assert second.stop() == 0, second.log()
    assert events == _reference(tmp_path / "data", 1500)
    for doc in events:
        OrderEvent.from_dict(doc)
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) < len(ids)  # resends: the same event_id twice
    assert {e["status"] for e in events} >= {"purchased", "shipped", "delivered"}
    assert events[0]["order_id"].startswith("o-0")  # epoch 1: plain ids

    refused = _orders_cli("--rate", "300", "--time-scale", "20000", "--duplicate-rate", "0.05",
                          "--disorder", "2s", data=tmp_path / "data")
    assert refused.returncode == 2, refused.stderr
    assert "--rate 400 (this run: 300)" in refused.stderr
    assert "--new-world" in refused.stderr

    third = ServiceProcess(["orders", *argv, "--max-events", "100", "--new-world"],
                           tmp_path / "3.log").start()
    try:
        third.wait_http(f"{base}/readyz")
        _wait_latest(base, 1600)
        later = _records(base, 1600)
    finally:
        assert third.stop() == 0, third.log()
    assert later[:1500] == events
    assert all(e["order_id"].startswith("o-e2-") for e in later[1500:])
