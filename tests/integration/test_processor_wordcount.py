"""Word count over a local line socket, with the progress listener pointed at a
dead exporter: the query keeps running and the listener counts the failures."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import orjson
import pytest

from tests.procs import free_port

LINES = [orjson.dumps({"id": "1", "text": "Spark streaming spark"}),
         orjson.dumps({"id": "2", "text": "streaming  SPARK"}),
         b"plain words plain"]


@pytest.fixture
def line_socket() -> Iterator[int]:
    """A TCP server that sends LINES to every client, then keeps the connection open."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()
    clients: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.sendall(b"".join(line + b"\n" for line in LINES))
            clients.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for c in clients:
            c.close()
        server.close()


@pytest.mark.spark
@pytest.mark.slow
def test_wordcount_over_socket_with_exporter_down(spark, line_socket, tmp_path) -> None:
    from streamwatch.processor.cli import job_args
    from streamwatch.processor.listener import ProgressForwarder
    from streamwatch.processor.wordcount import job as wordcount

    forwarder = ProgressForwarder(f"http://127.0.0.1:{free_port()}", timeout=0.5)
    spark.streams.addListener(forwarder)
    out = tmp_path / "out"
    args = job_args("wordcount", ["--source", f"socket:127.0.0.1:{line_socket}",
                                  "--sink", f"jsonl:{out}", "--checkpoint", str(tmp_path / "ck"),
                                  "--trigger", "500ms"])
    [query] = wordcount.start(spark, args)
    want = {"spark": 3, "streaming": 2, "plain": 2, "words": 1}
    counts: dict[str, int] = {}
    try:
        for _ in range(240):
            files = sorted(out.glob("*.jsonl"))
            if files:
                counts = {r["word"]: r["count"] for r in
                          map(orjson.loads, files[-1].read_bytes().splitlines())}
                if counts == want and forwarder.stats()["failed"] > 0:
                    break
            assert query.exception() is None
            time.sleep(0.5)
        assert query.isActive
    finally:
        query.stop()
        spark.streams.removeListener(forwarder)
        forwarder.close()
    assert counts == want
    assert forwarder.stats()["failed"] > 0
    assert forwarder.stats()["posted"] == 0
