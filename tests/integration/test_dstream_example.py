"""The legacy DStream word count example runs and counts words from a line socket."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.spark]

LINES = b'{"text": "hello spark streaming #spark"}\nplain words here\n'


def _serve(server: socket.socket, stop: threading.Event) -> None:
    server.settimeout(0.5)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        with conn:
            try:
                while not stop.is_set():
                    conn.sendall(LINES)
                    time.sleep(0.2)
            except OSError:
                pass


def test_dstream_wordcount_counts_socket_words() -> None:
    stop = threading.Event()
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        thread = threading.Thread(target=_serve, args=(server, stop), daemon=True)
        thread.start()
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "streamwatch.processor.examples.dstream_socket_wordcount",
                 "127.0.0.1", str(port), "20"],
                capture_output=True, timeout=240)
        finally:
            stop.set()
            thread.join(timeout=5)
    out = proc.stdout.decode()
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    # words of the JSON line's text and of the plain line, lower-cased and counted
    assert "('spark'," in out and "('#spark'," in out and "('plain'," in out, out[-2000:]
    assert "('{\"text\":" not in out, "JSON lines must be counted by their text field"
