"""A local stand-in for the X API v2 filtered stream, on 127.0.0.1 in a thread.

It speaks the same protocol as api.x.com as far as the ingester uses it:
bearer-token auth (401 otherwise), rule listing and ``add``/``delete`` with the
documented response shapes, and ``GET /2/tweets/search/stream`` as one chunked
HTTP/1.1 response carrying JSON lines and ``\\r\\n`` keep-alives.

Each stream connection plays the next scripted :class:`Episode` (a status
code, or a stream that ends cleanly, drops mid-chunk, or hangs silently); once
the script is exhausted, connections stay open with keep-alives. Every request
is recorded for assertions.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

KEEPALIVE = "keepalive"


@dataclass
class Episode:
    """What one stream connection gets.

    ``status`` != 200: that status with ``body`` and ``headers``. Otherwise the
    ``items`` (message dicts, raw ``bytes`` lines, :data:`KEEPALIVE`, or a float =
    pause seconds),
    then ``end``: ``close`` (terminating chunk), ``drop`` (socket closed
    mid-stream), ``hang`` (silence until the client gives up) or ``keep``
    (keep-alives until the client goes away or the server stops).
    """

    status: int = 200
    items: list[Any] = field(default_factory=list)
    end: str = "keep"
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    body: Any
    at: float


def tweet_message(tweet_id: str, text: str, author_id: str, username: str | None,
                  created_at: str = "2026-11-20T10:15:03.000Z",
                  lang: str | None = "en") -> dict[str, Any]:
    """A filtered-stream message as X sends it (with the author expansion)."""
    data: dict[str, Any] = {"id": tweet_id, "text": text, "author_id": author_id,
                            "created_at": created_at,
                            "edit_history_tweet_ids": [tweet_id]}
    if lang is not None:
        data["lang"] = lang
    msg: dict[str, Any] = {"data": data, "matching_rules": [{"id": "1", "tag": "streamwatch"}]}
    if username is not None:
        msg["includes"] = {"users": [{"id": author_id, "name": username.title(),
                                      "username": username}]}
    return msg


class FakeXApi:
    def __init__(self, token: str = "test-token", keepalive_s: float = 0.1) -> None:
        self.token = token
        self.keepalive_s = keepalive_s
        self.rules: dict[str, dict[str, str]] = {}
        self.episodes: deque[Episode] = deque()
        self.requests: list[Recorded] = []
        self.stopping = threading.Event()
        self._ids = itertools.count(1_000_000)
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def start(self) -> FakeXApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def add_rule(self, value: str, tag: str | None = None) -> str:
        rule_id = str(next(self._ids))
        self.rules[rule_id] = {"id": rule_id, "value": value, **({"tag": tag} if tag else {})}
        return rule_id

    def stream_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == "/2/tweets/search/stream"]

    # -- protocol ------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self._lock:
            self.requests.append(Recorded(method, parts.path, parse_qs(parts.query),
                                          h.headers.get("Authorization"), body, time.time()))
        if h.headers.get("Authorization") != f"Bearer {self.token}":
            self._json(h, 401, {"title": "Unauthorized", "type": "about:blank",
                                "status": 401, "detail": "Unauthorized"})
        elif parts.path == "/2/tweets/search/stream/rules" and method == "GET":
            self._list_rules(h)
        elif parts.path == "/2/tweets/search/stream/rules" and method == "POST":
            self._change_rules(h, body or {})
        elif parts.path == "/2/tweets/search/stream" and method == "GET":
            self._stream(h)
        else:
            self._json(h, 404, {"title": "Not Found Error", "status": 404,
                                "detail": f"no route {parts.path}"})

    def _sent(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    def _list_rules(self, h: BaseHTTPRequestHandler) -> None:
        doc: dict[str, Any] = {"meta": {"sent": self._sent(), "result_count": len(self.rules)}}
        if self.rules:
            doc["data"] = list(self.rules.values())
        self._json(h, 200, doc)

    def _change_rules(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        if "delete" in body:
            ids = body["delete"].get("ids", [])
            deleted = [i for i in ids if self.rules.pop(i, None) is not None]
            self._json(h, 200, {"meta": {"sent": self._sent(), "summary": {
                "deleted": len(deleted), "not_deleted": len(ids) - len(deleted)}}})
            return
        created, errors = [], []
        for rule in body.get("add", []):
            value = rule.get("value", "")
            if not value or value.count("(") != value.count(")"):
                errors.append({"value": value, "title": "UnprocessableEntity",
                               "details": [f"Rule '{value}' is not valid"],
                               "type": "https://api.x.com/2/problems/invalid-rules"})
                continue
            rule_id = self.add_rule(value, rule.get("tag"))
            created.append(self.rules[rule_id])
        doc: dict[str, Any] = {"meta": {"sent": self._sent(), "summary": {
            "created": len(created), "not_created": len(errors),
            "valid": len(created), "invalid": len(errors)}}}
        if created:
            doc["data"] = created
        if errors:
            doc["errors"] = errors
        self._json(h, 200, doc)

    def _stream(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            episode = self.episodes.popleft() if self.episodes else Episode()
        if episode.status != 200:
            self._json(h, episode.status, episode.body or {
                "title": "Service Unavailable" if episode.status >= 500 else "Too Many Requests",
                "status": episode.status, "type": "about:blank"}, episode.headers)
            return
        h.send_response(200)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            for item in episode.items:
                if isinstance(item, float):
                    time.sleep(item)
                elif item == KEEPALIVE:
                    self._chunk(h, b"\r\n")
                elif isinstance(item, bytes):
                    self._chunk(h, item + b"\r\n")
                else:
                    self._chunk(h, json.dumps(item).encode() + b"\r\n")
            if episode.end == "close":
                h.wfile.write(b"0\r\n\r\n")
                h.wfile.flush()
            elif episode.end == "hang":
                self.stopping.wait(30)
            elif episode.end == "keep":
                while not self.stopping.wait(self.keepalive_s):
                    self._chunk(h, b"\r\n")
        except OSError:
            pass  # the client went away
        # "drop" (and every non-clean end) closes the socket without the last chunk
        h.close_connection = True

    @staticmethod
    def _chunk(h: BaseHTTPRequestHandler, data: bytes) -> None:
        h.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        h.wfile.flush()

    @staticmethod
    def _json(h: BaseHTTPRequestHandler, status: int, doc: dict[str, Any],
              headers: dict[str, str] | None = None) -> None:
        data = json.dumps(doc).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()
