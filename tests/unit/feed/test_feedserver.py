"""The feed HTTP API (Flask test client over a real log) and the line-socket tail."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from streamwatch.core.http import route_paths
from streamwatch.feed.log import FeedLog
from streamwatch.feed.server import FeedAppConfig, FeedMetrics, LineTail, create_app

RECORDS = [orjson.dumps({"txn_id": f"t-{i:09d}", "amount": f"{i}.00"}) for i in range(250)]


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[dict[str, FeedLog]]:
    tx = FeedLog.open(tmp_path, "transactions", segment_bytes=2048, fsync="never")
    labels = FeedLog.open(tmp_path, "labels", fsync="never")
    tx.append_many(RECORDS[:100])
    tx.append_many(RECORDS[100:])
    yield {"transactions": tx, "labels": labels}
    tx.close()
    labels.close()


@pytest.fixture
def config(logs: dict[str, FeedLog]) -> FeedAppConfig:
    registry = CollectorRegistry()
    metrics = FeedMetrics(registry)
    metrics.watch(logs)
    return FeedAppConfig(service="test-feeds", logs=logs, registry=registry, metrics=metrics,
                         socket_ports={"transactions": 7202, "labels": None},
                         max_records_per_request=40, ready=True)


@pytest.fixture
def client(config: FeedAppConfig) -> FlaskClient:
    return create_app(config).test_client()


def test_list_feeds_and_offsets(client: FlaskClient) -> None:
    assert client.get("/v1/feeds").json == {"feeds": [
        {"name": "transactions", "earliest": 0, "latest": 250, "socket_port": 7202},
        {"name": "labels", "earliest": 0, "latest": 0, "socket_port": None}]}
    assert client.get("/v1/feeds/transactions/offsets").json == {"earliest": 0, "latest": 250}
    missing = client.get("/v1/feeds/nope/offsets")
    assert missing.status_code == 404
    assert missing.json["field"] == "feed"
    assert "nope" in missing.json["error"]


def test_records_are_the_stored_bytes_one_per_line_with_offset_headers(
        client: FlaskClient) -> None:
    r = client.get("/v1/feeds/transactions/records?start=10&end=20")
    assert r.status_code == 200
    assert r.mimetype == "application/x-ndjson"
    assert r.data == b"".join(p + b"\n" for p in RECORDS[10:20])
    assert (r.headers["X-Streamwatch-Start"], r.headers["X-Streamwatch-End"]) == ("10", "20")
    assert (r.headers["X-Streamwatch-Earliest"], r.headers["X-Streamwatch-Latest"]) == (
        "0", "250")


def test_records_are_capped_per_request_and_clipped_at_latest(client: FlaskClient) -> None:
    r = client.get("/v1/feeds/transactions/records?start=5")
    assert r.headers["X-Streamwatch-End"] == "45"
    assert r.data.count(b"\n") == 40
    r = client.get("/v1/feeds/transactions/records?start=230&end=9999")
    assert r.headers["X-Streamwatch-End"] == "250"
    assert r.data.splitlines() == RECORDS[230:]
    for start in (250, 900):
        r = client.get(f"/v1/feeds/transactions/records?start={start}")
        assert r.status_code == 200
        assert r.data == b""
        assert r.headers["X-Streamwatch-End"] == str(start)


@pytest.mark.parametrize(("query", "field"), [
    ("", "start"), ("start=x", "start"), ("start=-1", "start"), ("start=1.5", "start"),
    ("start=5&end=oops", "end"), ("start=5&end=4", "end"), ("start=5&end=-3", "end")])
def test_bad_parameters_are_400_naming_the_field(client: FlaskClient, query: str,
                                                 field: str) -> None:
    r = client.get(f"/v1/feeds/transactions/records?{query}")
    assert r.status_code == 400
    assert r.json["field"] == field


def test_start_below_earliest_is_410_with_the_earliest(
        client: FlaskClient, logs: dict[str, FeedLog], config: FeedAppConfig) -> None:
    tx = logs["transactions"]
    tx.retention_bytes = 2048
    assert tx.apply_retention() > 0
    earliest = tx.earliest
    r = client.get("/v1/feeds/transactions/records?start=0")
    assert r.status_code == 410
    assert r.json["field"] == "start"
    assert r.json["earliest"] == earliest
    ok = client.get(f"/v1/feeds/transactions/records?start={earliest}&end=250")
    assert ok.data.splitlines() == RECORDS[earliest:earliest + 40]
    reg = config.registry
    assert reg.get_sample_value("streamwatch_feed_range_requests_total",
                                {"feed": "transactions", "code": "410"}) == 1
    assert reg.get_sample_value("streamwatch_feed_earliest_offset",
                                {"feed": "transactions"}) == earliest


def test_metrics_count_served_records_and_expose_log_state(
        client: FlaskClient, config: FeedAppConfig) -> None:
    client.get("/v1/feeds/transactions/records?start=0&end=30")
    client.get("/v1/feeds/transactions/records?start=bad")
    reg = config.registry
    assert reg.get_sample_value("streamwatch_feed_records_served_total",
                                {"feed": "transactions"}) == 30
    assert reg.get_sample_value("streamwatch_feed_range_requests_total",
                                {"feed": "transactions", "code": "400"}) == 1
    assert reg.get_sample_value("streamwatch_feed_latest_offset",
                                {"feed": "transactions"}) == 250
    assert reg.get_sample_value("streamwatch_feed_log_bytes", {"feed": "transactions"}) > 0
    assert reg.get_sample_value("streamwatch_feed_readers", {"feed": "transactions"}) == 0
    text = client.get("/metrics").data.decode()
    assert "streamwatch_feed_socket_clients_dropped_total" in text


def test_openapi_paths_match_the_routes(client: FlaskClient, config: FeedAppConfig) -> None:
    doc = client.get("/openapi.json").json
    assert set(doc["paths"]) == route_paths(create_app(config))
    assert "/v1/feeds/{feed}/records" in doc["paths"]
    assert client.get("/readyz").status_code == 200
    config.ready = False
    assert client.get("/readyz").status_code == 503


# ---------------------------------------------------------------- line socket

def _read_lines(sock: socket.socket, n: int, timeout: float = 5.0) -> list[bytes]:
    sock.settimeout(timeout)
    buf = b""
    while buf.count(b"\n") < n:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf.split(b"\n")[:n]


def _wait_for(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def test_line_socket_tails_new_records_to_every_client(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    metrics = FeedMetrics(registry)
    with FeedLog.open(tmp_path, "tweets", fsync="never") as lg:
        lg.append_many([b'{"old":1}'])  # a tail starts at latest: history is on HTTP
        tail = LineTail(lg, "tweets", "127.0.0.1", 0, buffer_lines=100, metrics=metrics).start()
        try:
            a = socket.create_connection(("127.0.0.1", tail.port))
            b = socket.create_connection(("127.0.0.1", tail.port))
            assert _wait_for(lambda: tail.client_count == 2)
            lg.append_many([b'{"n":1}', b'{"n":2}'])
            lg.append_many([b'{"n":3}'])
            expected = [b'{"n":1}', b'{"n":2}', b'{"n":3}']
            assert _read_lines(a, 3) == expected
            assert _read_lines(b, 3) == expected
            assert registry.get_sample_value("streamwatch_feed_socket_clients",
                                             {"feed": "tweets"}) == 2
            a.close()
            b.close()
        finally:
            tail.stop()


def test_a_slow_client_is_dropped_and_counted_while_appends_go_on(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    metrics = FeedMetrics(registry)
    with FeedLog.open(tmp_path, "tweets", fsync="never") as lg:
        tail = LineTail(lg, "tweets", "127.0.0.1", 0, buffer_lines=50, metrics=metrics).start()
        try:
            slow = socket.socket()
            # a tiny receive window so the kernel cannot absorb the backlog for us
            slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            slow.connect(("127.0.0.1", tail.port))
            fast = socket.create_connection(("127.0.0.1", tail.port))
            assert _wait_for(lambda: tail.client_count == 2)
            line = b'{"text":"' + b"x" * 1000 + b'"}'
            fast_got = 0
            fast.settimeout(5)
            for _ in range(300):
                lg.append_many([line] * 10)  # never blocks on the slow reader
                while fast_got < lg.latest:
                    fast_got += fast.recv(1 << 20).count(b"\n")
            assert lg.latest == 3000
            assert _wait_for(lambda: registry.get_sample_value(
                "streamwatch_feed_socket_clients_dropped_total", {"feed": "tweets"}) == 1)
            assert tail.client_count == 1  # the fast client stays
            slow.close()
            fast.close()
        finally:
            tail.stop()
