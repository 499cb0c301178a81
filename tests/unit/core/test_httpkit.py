"""Shared HTTP plumbing: body limits while reading, strict query parameters, time bounds."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Response
from prometheus_client import CollectorRegistry

from streamwatch.core.http import (
    Server,
    TimeOutOfRange,
    base_app,
    json_body,
    json_response,
    parse_bounded_ts,
    query_int,
)
from streamwatch.core.openapi import Answer, Param, Route, build

LIMIT = 1024


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    doc = build("t", "1", {"/echo": {"post": Route("echo", {200: Answer("OK")})},
                           "/n": {"get": Route("n", {200: Answer("OK")},
                                               params=(Param("n", {"type": "integer"}),))}})
    app = base_app("t", CollectorRegistry(), openapi=doc)

    @app.post("/echo")
    def echo() -> Response:
        return json_response({"got": json_body(LIMIT)})

    @app.get("/n")
    def n() -> Response:
        return json_response({"n": query_int("n")})

    srv = Server(app, "127.0.0.1", 0).start()
    yield srv
    srv.stop()


def _exchange(port: int, head: bytes, chunks: list[bytes]) -> bytes:
    """Send a request without ever finishing its body; return what the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except TimeoutError:
            pass  # a server still waiting for the rest of the body answers nothing
        return answer


def test_a_chunked_body_is_refused_once_it_passes_the_limit(server: Server) -> None:
    head = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    piece = b"[" + b"1," * 255 + b"1"
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    # 4 KiB sent of a body that never ends: a server buffering it all would never answer
    answer = _exchange(server.port, head, [chunk] * 8)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"connection: close" in answer.lower()


def test_a_sized_body_over_the_limit_is_refused_before_reading(server: Server) -> None:
    head = (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n")
    assert _exchange(server.port, head, [b"[1"]).startswith(b"HTTP/1.1 413")


def test_bodies_within_the_limit_are_read_whole(server: Server) -> None:
    import requests

    doc = list(range(200))  # ~900 bytes, several reads of a chunked stream
    r = requests.post(f"http://127.0.0.1:{server.port}/echo",
                      data=iter([b"[", ",".join(map(str, doc)).encode(), b"]"]),
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200 and r.json() == {"got": doc}
    r = requests.post(f"http://127.0.0.1:{server.port}/echo", data=b"[1]", timeout=10,
                      headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and r.json()["field"] == "Content-Type"


@pytest.mark.parametrize(("query", "status", "field"), [
    ("n=10", 200, None), ("", 200, None), ("n=1_0", 400, "n"), ("n=%2010", 400, "n"),
    ("n=", 400, "n"), ("m=1", 400, "m"), ("n=1&n=2", 400, "n"),
    ("n=" + "9" * 19, 400, "n"), ("n=-3", 200, None)])
def test_query_parameters_are_strict(server: Server, query: str, status: int,
                                     field: str | None) -> None:
    import requests

    r = requests.get(f"http://127.0.0.1:{server.port}/n?{query}", timeout=10)
    body: dict[str, Any] = r.json()
    assert r.status_code == status, body
    assert body.get("field") == field


@pytest.mark.parametrize("text", [
    "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "1999-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z"])
def test_times_outside_2000_to_2100_are_refused(text: str) -> None:
    with pytest.raises(TimeOutOfRange):
        parse_bounded_ts(text)


def test_times_inside_the_range_parse() -> None:
    assert parse_bounded_ts("2000-01-01T00:00:00Z").year == 2000
    assert parse_bounded_ts("2099-12-31T23:59:59.999+00:00").year == 2099


def test_nul_characters_are_refused_before_any_store_sees_them(server: Server) -> None:
    """PostgreSQL cannot store NUL in text: it would fail as a 500 deep in the store."""
    import requests

    base = f"http://127.0.0.1:{server.port}"
    for body in (b'["a\\u0000b"]', b'{"k\\u0000": 1}', b'[[[{"x": ["\\u0000"]}]]]'):
        r = requests.post(f"{base}/echo", data=body, timeout=10,
                          headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["field"] == "body", body
    r = requests.post(f"{base}/echo", data=b'["a\\\\u0000b"]', timeout=10,
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == {"got": ["a\\u0000b"]}  # an escaped backslash
    r = requests.get(f"{base}/n?n=1%00", timeout=10)
    assert r.status_code == 400 and r.json()["field"] == "n"
