"""X API v2 filtered stream client, mapped to the Streamwatch tweet schema.

Key concepts (from X's "Filtered stream" and "Handling disconnections" docs)
- **Rules** live server-side. At start the client reads them
  (``GET /2/tweets/search/stream/rules``) and, if rules were given, makes the
  server match them exactly: ``POST .../rules`` with ``{"delete": {"ids": [...]}}``
  for rules not wanted and ``{"add": [{"value", "tag"}]}`` for missing ones.
  Without configured rules the server's rules are left alone.
- **The stream** is one long-lived chunked HTTP response
  (``GET /2/tweets/search/stream?tweet.fields=created_at,lang,author_id&
  expansions=author_id&user.fields=username``): one JSON message per line, and a
  bare newline as keep-alive every ~20 s. No byte for ``stall_timeout_s``
  (default 20 s) means a stalled connection: drop it and reconnect.
- **Reconnecting.** After an established connection drops, reconnect at once;
  then back off by failure kind: network errors linearly (250 ms steps, at most
  16 s), HTTP errors exponentially (from 5 s, at most 320 s), HTTP 429
  exponentially from 1 min and never before ``x-rate-limit-reset``. 400, 401,
  403 and 404 are configuration errors: the source stops with a message.
- **Mapping.** ``user`` is the author's ``username`` from ``includes.users``,
  else ``author_id``; a missing ``lang`` is ``und``.

The bearer token comes only from ``STREAMWATCH_X_BEARER_TOKEN`` (a flag would
show in ``ps``) and is never logged.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import requests
from prometheus_client import CollectorRegistry, Counter, Gauge
from urllib3.exceptions import ReadTimeoutError

from streamwatch.contracts.events import EventError, Tweet, format_ts, parse_ts
from streamwatch.feed.sources import Emit

log = logging.getLogger(__name__)

TOKEN_ENV = "STREAMWATCH_X_BEARER_TOKEN"
RULES_PATH = "/2/tweets/search/stream/rules"
STREAM_PATH = "/2/tweets/search/stream"
STREAM_PARAMS = {
    "tweet.fields": "created_at,lang,author_id",
    "expansions": "author_id",
    "user.fields": "username",
}
# Client errors that retrying cannot fix: bad request, bad token, no access, wrong URL.
FATAL_STATUSES = frozenset({400, 401, 403, 404})
RECONNECT_REASONS = ("network", "stall", "disconnect", "http_error", "rate_limited")


class XApiFatal(RuntimeError):
    """The X API refused in a way that retrying cannot fix; the message says what to change."""


def tweet_from_stream_message(message: Any) -> Tweet:
    """One filtered-stream (or v2 lookup) message -> :class:`Tweet`; raises EventError."""
    data = message.get("data") if isinstance(message, dict) else None
    if not isinstance(data, dict):
        raise EventError([{"field": "data", "error": "must be a tweet object"}])
    includes = message.get("includes")
    users = (includes.get("users") if isinstance(includes, dict) else None) or []
    author_id = data.get("author_id")
    username = next((u.get("username") for u in users
                     if isinstance(u, dict) and u.get("id") == author_id), None)
    created = data.get("created_at")
    try:
        created_at = (format_ts(parse_ts(created)) if created is not None
                      else format_ts(datetime.now(UTC)))
    except ValueError as exc:
        raise EventError([{"field": "created_at", "error": str(exc)}]) from None
    return Tweet.from_dict({
        "id": data.get("id"), "created_at": created_at, "user": username or author_id,
        "lang": data.get("lang") or "und", "text": data.get("text"),
    })


@dataclass(frozen=True, slots=True)
class Rule:
    value: str
    tag: str | None = None


def parse_rules(text: str) -> tuple[Rule, ...]:
    """``"#spark lang:en; #kafka"`` or a JSON list of strings / ``{"value", "tag"}`` objects."""
    text = text.strip()
    if not text:
        return ()
    if text.startswith("["):
        try:
            items = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"rules JSON is not valid: {exc}") from None
        rules = []
        for item in items:
            if isinstance(item, str) and item.strip():
                rules.append(Rule(item.strip()))
            elif isinstance(item, dict) and isinstance(item.get("value"), str):
                tag = item.get("tag")
                rules.append(Rule(item["value"].strip(), tag if isinstance(tag, str) else None))
            else:
                raise ValueError(f"rule {item!r} must be a string or {{'value': ..., 'tag': ...}}")
        return tuple(rules)
    return tuple(Rule(part.strip()) for part in text.split(";") if part.strip())


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """Delays from X's reconnection guidance; ``scaled`` shrinks them for tests."""

    network_step_s: float = 0.25
    network_max_s: float = 16.0
    http_base_s: float = 5.0
    http_max_s: float = 320.0
    rate_limit_base_s: float = 60.0
    rate_limit_max_s: float = 960.0

    def scaled(self, factor: float) -> BackoffPolicy:
        return BackoffPolicy(*(getattr(self, f) * factor for f in self.__slots__))


class Backoff:
    """Attempt counters per failure kind; ``reset`` once a connection proves healthy."""

    def __init__(self, policy: BackoffPolicy, clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self._network = self._http = self._rate = 0

    def network(self) -> float:
        """0 right after a healthy connection dropped, then 250 ms, 500 ms, ... up to 16 s."""
        p = self.policy
        delay = min(self._network * p.network_step_s, p.network_max_s)
        self._network += 1
        return delay

    def http(self) -> float:
        p = self.policy
        delay = min(p.http_base_s * 2.0 ** self._http, p.http_max_s)
        self._http = min(self._http + 1, 32)
        return delay

    def rate_limited(self, reset_epoch_s: float | None) -> float:
        p = self.policy
        delay = min(p.rate_limit_base_s * 2.0 ** self._rate, p.rate_limit_max_s)
        self._rate = min(self._rate + 1, 32)
        if reset_epoch_s is not None:
            delay = max(delay, reset_epoch_s - self._clock())
        return delay


@dataclass(frozen=True)
class XApiConfig:
    token: str = field(repr=False)
    base_url: str = "https://api.x.com"
    rules: tuple[Rule, ...] = ()
    rule_tag: str = "streamwatch"
    stall_timeout_s: float = 20.0
    connect_timeout_s: float = 10.0
    backoff: BackoffPolicy = BackoffPolicy()

    def __post_init__(self) -> None:
        if not self.token:
            raise ValueError(f"the bearer token is empty; set {TOKEN_ENV}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))


class XApiMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.reconnects = Counter(
            "streamwatch_xapi_reconnects_total",
            "Filtered-stream reconnections by cause", ["reason"], registry=registry)
        for reason in RECONNECT_REASONS:
            self.reconnects.labels(reason)
        self.keepalives = Counter(
            "streamwatch_xapi_keepalives_total",
            "Keep-alive newlines received on the filtered stream", registry=registry)
        self.malformed = Counter(
            "streamwatch_xapi_malformed_messages_total",
            "Stream messages that could not be mapped to a tweet and were skipped",
            registry=registry)
        self.connected = Gauge(
            "streamwatch_xapi_connected",
            "1 while the filtered stream is connected", registry=registry)


def _retry_after(resp: requests.Response) -> float | None:
    raw = resp.headers.get("x-rate-limit-reset")
    try:
        return float(raw) if raw else None
    except ValueError:
        return None


def _problem(resp: requests.Response) -> str:
    """The X problem-details text of an error response, without echoing headers."""
    try:
        doc = resp.json()
    except ValueError:
        return resp.text[:200]
    if isinstance(doc, dict):
        parts = [str(doc.get(k)) for k in ("title", "detail") if doc.get(k)]
        if not parts and isinstance(doc.get("errors"), list):
            parts = [str(e.get("message") or e.get("title")) for e in doc["errors"][:3]
                     if isinstance(e, dict)]
        if parts:
            return ": ".join(parts)
    return str(doc)[:200]


class XApiSource:
    """Rule sync, then the filtered stream forever, reconnecting as X documents."""

    feeds = ("tweets",)

    def __init__(self, config: XApiConfig, *, registry: CollectorRegistry) -> None:
        self.config = config
        self.metrics = XApiMetrics(registry)
        self.backoff = Backoff(config.backoff)
        self.session = requests.Session()
        self.session.headers.update({
            "Authorization": f"Bearer {config.token}",
            "User-Agent": "streamwatch-tweet-ingester",
        })
        self._current: requests.Response | None = None
        self._lock = threading.Lock()

    # -- rules ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, stop: threading.Event,
                 **kwargs: Any) -> requests.Response | None:
        """A short request retried with the same backoff as the stream; None once stopped."""
        url = self.config.base_url + path
        while not stop.is_set():
            try:
                resp = self.session.request(
                    method, url, timeout=(self.config.connect_timeout_s, 30), **kwargs)
            except requests.RequestException as exc:
                delay = self.backoff.network()
                log.warning("X API request failed", extra={
                    "path": path, "error": type(exc).__name__, "retry_in_s": delay})
                stop.wait(delay)
                continue
            if resp.status_code < 300:
                return resp
            self._raise_if_fatal(resp, path)
            delay = (self.backoff.rate_limited(_retry_after(resp)) if resp.status_code == 429
                     else self.backoff.http())
            log.warning("X API request refused", extra={
                "path": path, "status": resp.status_code, "problem": _problem(resp),
                "retry_in_s": delay})
            stop.wait(delay)
        return None

    def _raise_if_fatal(self, resp: requests.Response, path: str) -> None:
        if resp.status_code not in FATAL_STATUSES:
            return
        hint = {
            401: f"the bearer token was rejected; check {TOKEN_ENV}",
            403: "the app has no access to this endpoint; check the project's access level",
            404: "the endpoint does not exist; check --x-base-url",
        }.get(resp.status_code, "the request was refused; check --x-rules")
        message = f"X API {path} answered {resp.status_code} ({_problem(resp)}): {hint}"
        log.error("X API refused the ingester", extra={
            "path": path, "status": resp.status_code, "hint": hint})
        raise XApiFatal(message)

    def sync_rules(self, stop: threading.Event) -> list[dict[str, Any]] | None:
        """Make the server's rules equal the configured ones; return the active rules."""
        resp = self._request("GET", RULES_PATH, stop)
        if resp is None:
            return None
        current = resp.json().get("data") or []
        wanted = self.config.rules
        if not wanted:
            if not current:
                log.warning("no filtered-stream rules on the server and none given with "
                            "--x-rules; the stream will deliver nothing")
            return current
        wanted_keys = {(r.value, r.tag or self.config.rule_tag) for r in wanted}
        have_keys = {(r.get("value"), r.get("tag")) for r in current}
        stale = [r["id"] for r in current if (r.get("value"), r.get("tag")) not in wanted_keys]
        missing = [{"value": v, "tag": t} for v, t in sorted(wanted_keys - have_keys)]
        if stale and self._request("POST", RULES_PATH, stop,
                                   json={"delete": {"ids": stale}}) is None:
            return None
        if missing:
            added = self._request("POST", RULES_PATH, stop, json={"add": missing})
            if added is None:
                return None
            doc = added.json()
            summary = (doc.get("meta") or {}).get("summary") or {}
            if summary.get("invalid") or (doc.get("errors") and not doc.get("data")):
                problems = "; ".join(
                    str(e.get("details") or e.get("title") or e)
                    for e in doc.get("errors") or [])
                raise XApiFatal(f"X API rejected rules: {problems or doc}; fix --x-rules")
        log.info("filtered-stream rules synced", extra={
            "added": [m["value"] for m in missing], "deleted_ids": stale,
            "rules": sorted(v for v, _ in wanted_keys)})
        return [{"value": v, "tag": t} for v, t in sorted(wanted_keys)]

    # -- stream --------------------------------------------------------------------------

    def _interrupt(self) -> None:
        """Wake a read blocked in the stream (socket.close alone would not)."""
        with self._lock:
            resp = self._current
        if resp is None:
            return
        try:
            sock = resp.raw.connection.sock  # type: ignore[union-attr]
            sock.shutdown(socket.SHUT_RDWR)
        except (AttributeError, OSError):
            pass

    def _stream_once(self, emit: Emit, stop: threading.Event) -> float:
        """One connection; returns how long to wait before the next one."""
        cfg = self.config
        try:
            resp = self.session.get(
                cfg.base_url + STREAM_PATH, params=STREAM_PARAMS, stream=True,
                timeout=(cfg.connect_timeout_s, cfg.stall_timeout_s))
        except requests.RequestException as exc:
            delay = self.backoff.network()
            self.metrics.reconnects.labels("network").inc()
            log.warning("filtered stream: connect failed", extra={
                "error": type(exc).__name__, "retry_in_s": delay})
            return delay
        with resp:
            if resp.status_code != 200:
                self._raise_if_fatal(resp, STREAM_PATH)
                if resp.status_code == 429:
                    delay = self.backoff.rate_limited(_retry_after(resp))
                    self.metrics.reconnects.labels("rate_limited").inc()
                else:
                    delay = self.backoff.http()
                    self.metrics.reconnects.labels("http_error").inc()
                log.warning("filtered stream: refused", extra={
                    "status": resp.status_code, "problem": _problem(resp), "retry_in_s": delay})
                return delay
            with self._lock:
                self._current = resp
            self.metrics.connected.set(1)
            log.info("filtered stream connected")
            try:
                reason = self._consume(resp, emit, stop)
            finally:
                with self._lock:
                    self._current = None
                self.metrics.connected.set(0)
        if stop.is_set():
            return 0.0
        self.metrics.reconnects.labels(reason).inc()
        delay = self.backoff.network()  # 0 after a healthy connection: reconnect at once
        log.warning("filtered stream: connection ended", extra={
            "reason": reason, "retry_in_s": delay})
        return delay

    def _consume(self, resp: requests.Response, emit: Emit, stop: threading.Event) -> str:
        """Read messages until the connection ends; return why it ended."""
        healthy_after = time.monotonic() + self.config.stall_timeout_s
        healthy = False
        try:
            for line in resp.iter_lines(chunk_size=4096):
                if stop.is_set():
                    return "disconnect"
                if not healthy and time.monotonic() >= healthy_after:
                    healthy = True
                    self.backoff.reset()
                if not line.strip():
                    self.metrics.keepalives.inc()
                    continue
                if self._handle(line, emit) and not healthy:
                    healthy = True
                    self.backoff.reset()
        except requests.exceptions.ConnectionError as exc:
            inner = exc.args[0] if exc.args else None
            return "stall" if isinstance(inner, ReadTimeoutError) else "disconnect"
        except (requests.exceptions.ChunkedEncodingError, OSError):
            return "disconnect"
        return "disconnect"

    def _handle(self, line: bytes, emit: Emit) -> bool:
        """Map and emit one message; True if it was a tweet."""
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.metrics.malformed.inc()
            log.warning("filtered stream: message is not JSON", extra={"bytes": len(line)})
            return False
        if not isinstance(message, dict):
            self.metrics.malformed.inc()
            log.warning("filtered stream: message is not a JSON object",
                        extra={"bytes": len(line)})
            return False
        if "data" not in message and message.get("errors"):
            # e.g. operational-disconnect; the connection usually closes right after
            log.warning("filtered stream: error message", extra={
                "errors": [{k: e.get(k) for k in ("title", "detail", "type")}
                           for e in message["errors"][:5] if isinstance(e, dict)]
                if isinstance(message["errors"], list) else str(message["errors"])[:200]})
            return False
        try:
            tweet = tweet_from_stream_message(message)
        except EventError as exc:
            self.metrics.malformed.inc()
            log.warning("filtered stream: message skipped", extra={"reason": str(exc)})
            return False
        emit("tweets", [orjson.dumps(tweet.to_dict())])
        return True

    def run(self, emit: Emit, stop: threading.Event) -> None:
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                if stop.wait(0.2):
                    self._interrupt()
                    return

        watcher = threading.Thread(target=watch, name="xapi-stop", daemon=True)
        watcher.start()
        try:
            if self.sync_rules(stop) is None:
                return
            self.backoff.reset()
            while not stop.is_set():
                delay = self._stream_once(emit, stop)
                if delay > 0 and stop.wait(delay):
                    break
        finally:
            done.set()
            self.session.close()

