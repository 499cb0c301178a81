"""The legacy DStream word count example runs against a local line socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest


@pytest.mark.spark
@pytest.mark.slow
def test_dstream_wordcount_example_counts_socket_lines() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        # Send a few lines every half second so some batch sees them whenever it starts.
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                while not stop.wait(0.5):
                    try:
                        conn.sendall(b'{"id": "1", "text": "Spark spark streaming"}\n')
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "streamwatch_processor.examples.dstream_socket_wordcount",
             "127.0.0.1", str(server.getsockname()[1]), "12"],
            capture_output=True, text=True, timeout=240)
    finally:
        stop.set()
        thread.join(3)
        server.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "('spark', " in proc.stdout
    assert "('streaming', " in proc.stdout
