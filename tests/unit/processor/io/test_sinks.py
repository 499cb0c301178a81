"""Sink specs, atomic JSONL per batch id, and the HTTP poster's retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import orjson
import pytest
from werkzeug.wrappers import Request, Response

from streamwatch.core.http import Server
from streamwatch.processor.io.sinks import (
    HttpSink,
    JsonlSink,
    SinkError,
    SinkSpecError,
    parse_sink,
)


def test_parse_sink_accepts_the_three_kinds_and_explains_errors() -> None:
    assert parse_sink("console").kind == "console"
    assert parse_sink("jsonl:/tmp/x").target == "/tmp/x"
    assert parse_sink("http:http://127.0.0.1:7103/v1/alerts").target.endswith("/v1/alerts")
    for bad in ("kafka:x", "http:127.0.0.1:7103", "jsonl:", ""):
        with pytest.raises(SinkSpecError, match=r"e\.g\."):
            parse_sink(bad)


def test_jsonl_replayed_batch_overwrites_instead_of_duplicating(tmp_path) -> None:
    sink = JsonlSink(tmp_path)
    sink.write(3, [{"a": 1}, {"a": 2}])
    sink.write(3, [{"a": 1}, {"a": 2}])
    sink.write(4, [{"a": 3}])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["batch-000000000003.jsonl", "batch-000000000004.jsonl"]
    lines = [orjson.loads(x) for p in sorted(tmp_path.iterdir()) for x in p.read_bytes().split()]
    assert lines == [{"a": 1}, {"a": 2}, {"a": 3}]


class Receiver:
    """Fails the first ``failures`` POSTs with 503, then stores bodies."""

    def __init__(self, failures: int, status: int = 503) -> None:
        self.failures = failures
        self.status = status
        self.bodies: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict, start_response: object) -> Iterator[bytes]:
        req = Request(environ)
        with self.lock:
            if self.failures > 0:
                self.failures -= 1
                return Response(b"{}", self.status)(environ, start_response)
            self.bodies.append(orjson.loads(req.get_data()))
        return Response(b"{}", 200)(environ, start_response)


def test_http_sink_chunks_and_retries_5xx() -> None:
    receiver = Receiver(failures=2)
    server = Server(receiver, "127.0.0.1", 0).start()
    try:
        sink = HttpSink(f"http://127.0.0.1:{server.port}/v1/alerts", "alerts",
                        chunk_size=2, backoff_s=0.01)
        sink.write(0, [{"n": i} for i in range(5)])
    finally:
        server.stop()
    assert [len(b["alerts"]) for b in receiver.bodies] == [2, 2, 1]
    assert [r["n"] for b in receiver.bodies for r in b["alerts"]] == list(range(5))


def test_http_sink_fails_fast_on_4xx_and_after_retries_on_refused() -> None:
    server = Server(Receiver(failures=1, status=422), "127.0.0.1", 0).start()
    try:
        with pytest.raises(SinkError, match="HTTP 422"):
            HttpSink(f"http://127.0.0.1:{server.port}/x", "k", backoff_s=0.01).write(0, [{}])
    finally:
        server.stop()
    # a 500 is a bug in the receiver: the same POST again would not fix it
    receiver = Receiver(failures=1, status=500)
    server = Server(receiver, "127.0.0.1", 0).start()
    try:
        with pytest.raises(SinkError, match="refused with HTTP 500"):
            HttpSink(f"http://127.0.0.1:{server.port}/x", "k", backoff_s=0.01).write(0, [{}])
    finally:
        server.stop()
    assert receiver.failures == 0 and receiver.bodies == []
    from tests.procs import free_port

    refused = HttpSink(f"http://127.0.0.1:{free_port()}/x", "k", max_attempts=2, backoff_s=0.01)
    with pytest.raises(SinkError, match="failed 2 times"):
        refused.write(0, [{}])


def test_http_sink_and_progress_forwarder_send_the_ingest_token(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Against the real receivers, which refuse writes without the token."""
    from streamwatch.alerting.app import create_app as alerting_app
    from streamwatch.alerting.runtime import Runtime
    from streamwatch.alerting.settings import AlertingSettings
    from streamwatch.exporter.app import create_app as exporter_app
    from streamwatch.exporter.openapi import example
    from streamwatch.exporter.routes import EXTENSION
    from streamwatch.exporter.settings import ExporterSettings
    from streamwatch.processor.listener import ProgressForwarder
    from tests.factories import alert_body

    token = "sink-test-ingest-token-0123"
    monkeypatch.setenv("STREAMWATCH_INGEST_TOKEN", token)
    alerting = alerting_app(AlertingSettings(data_dir=tmp_path, admin_token="a" * 32,
                                           ingest_token=token))
    exporter = exporter_app(ExporterSettings(ingest_token=token))
    servers = [Server(app, "127.0.0.1", 0).start() for app in (alerting, exporter)]
    try:
        alert = alert_body("velocity", "c-1", ["t-1"])
        HttpSink(f"http://127.0.0.1:{servers[0].port}/v1/alerts", "alerts").write(0, [alert])
        assert Runtime.of(alerting).store.count_alerts() == 1
        forwarder = ProgressForwarder(f"http://127.0.0.1:{servers[1].port}")
        forwarder._offer(orjson.dumps(example("progress")).decode())
        forwarder.close(timeout=10)
        assert forwarder.stats()["posted"] == 1
        assert exporter.extensions[EXTENSION].state.progress()
        monkeypatch.delenv("STREAMWATCH_INGEST_TOKEN")
        with pytest.raises(SinkError, match=r"HTTP 401.*STREAMWATCH_INGEST_TOKEN"):
            HttpSink(f"http://127.0.0.1:{servers[0].port}/v1/alerts", "alerts").write(
                1, [alert])
    finally:
        for server in servers:
            server.stop()
        Runtime.of(alerting).store.close()
