"""The X API source against a local fake filtered-stream server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streamwatch.producers.tweets.xapi import BackoffPolicy, Rule, XApiConfig, XApiFatal, XApiSource
from tests.integration.fake_xapi import KEEPALIVE, Episode, FakeXApi, tweet_message

TOKEN = "test-token-5f2a"


@pytest.fixture
def fake() -> Iterator[FakeXApi]:
    server = FakeXApi(token=TOKEN).start()
    yield server
    server.stop()


def _source(url: str, *, token: str = TOKEN, rules: tuple[Rule, ...] = (),
            stall: float = 0.5) -> tuple[XApiSource, CollectorRegistry]:
    registry = CollectorRegistry()
    config = XApiConfig(token=token, base_url=url, rules=rules, stall_timeout_s=stall,
                        connect_timeout_s=2, backoff=BackoffPolicy().scaled(0.01))
    return XApiSource(config, registry=registry), registry


class Running:
    """The source's run() in a thread, collecting what it emits."""

    def __init__(self, source: XApiSource) -> None:
        self.source = source
        self.stop = threading.Event()
        self.emitted: list[dict] = []
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        def emit(feed: str, payloads: list[bytes]) -> None:
            assert feed == "tweets"
            self.emitted.extend(orjson.loads(p) for p in payloads)

        try:
            self.source.run(emit, self.stop)
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)

    def wait_for(self, cond: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond() or not self.thread.is_alive():
                break
            time.sleep(0.02)
        assert cond(), f"condition not met; error={self.error!r}, emitted={self.emitted}"


def test_rule_sync_adds_missing_and_deletes_others(fake: FakeXApi) -> None:
    keep = fake.add_rule("#spark", "streamwatch")
    old = fake.add_rule("#old lang:en", "other")
    source, _ = _source(fake.url, rules=(Rule("#spark"), Rule("#kafka -is:retweet")))
    active = source.sync_rules(threading.Event())
    assert sorted(r["value"] for r in fake.rules.values()) == ["#kafka -is:retweet", "#spark"]
    assert keep in fake.rules  # an already matching rule is not churned
    assert sorted(r["value"] for r in active or []) == ["#kafka -is:retweet", "#spark"]
    posts = [r.body for r in fake.requests if r.method == "POST"]
    assert posts[0] == {"delete": {"ids": [old]}}
    assert posts[1] == {"add": [{"value": "#kafka -is:retweet", "tag": "streamwatch"}]}
    assert all(r.authorization == f"Bearer {TOKEN}" for r in fake.requests)


def test_without_configured_rules_server_rules_are_kept(fake: FakeXApi) -> None:
    fake.add_rule("#existing")
    source, _ = _source(fake.url)
    source.sync_rules(threading.Event())
    assert [r["value"] for r in fake.rules.values()] == ["#existing"]
    assert not [r for r in fake.requests if r.method == "POST"]


def test_invalid_rule_stops_with_a_message(fake: FakeXApi) -> None:
    source, _ = _source(fake.url, rules=(Rule("(#broken"),))
    with pytest.raises(XApiFatal, match=r"rejected rules.*--x-rules"):
        source.sync_rules(threading.Event())


def test_rejected_token_is_fatal_and_never_echoed(fake: FakeXApi) -> None:
    source, _ = _source(fake.url, token="wrong-token-9c1e")
    with Running(source) as run:
        run.thread.join(10)
    assert isinstance(run.error, XApiFatal)
    assert "STREAMWATCH_X_BEARER_TOKEN" in str(run.error)
    assert "wrong-token-9c1e" not in str(run.error)


def test_stream_survives_errors_drops_and_stalls(fake: FakeXApi) -> None:
    reset_at = time.time() + 0.3
    fake.episodes.extend([
        Episode(status=503),
        Episode(status=429, headers={"x-rate-limit-reset": f"{reset_at:.3f}"}),
        Episode(items=[KEEPALIVE, tweet_message("101", "first #Spark", "u1", "ada"),
                       KEEPALIVE, tweet_message("102", "second", "u2", None, lang=None)],
                end="drop"),
        Episode(items=[{"errors": [{"title": "operational-disconnect",
                                    "type": "https://api.x.com/2/problems/operational-disconnect"}]},
                       tweet_message("103", "third", "u3", "lin")], end="hang"),
        Episode(items=[b"not json", b'"a string"',
                       tweet_message("104", "fourth #kafka", "u4", "mo")]),
    ])
    source, registry = _source(fake.url, rules=(Rule("#spark"),))
    with Running(source) as run:
        run.wait_for(lambda: len(run.emitted) >= 4)
        assert [(t["id"], t["user"], t["lang"], t["text"]) for t in run.emitted] == [
            ("101", "ada", "en", "first #Spark"),
            ("102", "u2", "und", "second"),  # no includes.users -> author_id
            ("103", "lin", "en", "third"),
            ("104", "mo", "en", "fourth #kafka"),
        ]
        assert run.emitted[0]["created_at"] == "2026-11-20T10:15:03.000Z"
        run.wait_for(lambda: registry.get_sample_value("streamwatch_xapi_connected") == 1)

    def reconnects(reason: str) -> float | None:
        return registry.get_sample_value("streamwatch_xapi_reconnects_total",
                                         {"reason": reason})

    assert reconnects("http_error") == 1
    assert reconnects("rate_limited") == 1
    assert reconnects("disconnect") == 1
    assert reconnects("stall") == 1
    assert registry.get_sample_value("streamwatch_xapi_keepalives_total") >= 2
    assert registry.get_sample_value("streamwatch_xapi_malformed_messages_total") == 2
    streams = fake.stream_requests()
    assert len(streams) == 5
    assert streams[0].query == {"tweet.fields": ["created_at,lang,author_id"],
                                "expansions": ["author_id"], "user.fields": ["username"]}
    # the 429 carried x-rate-limit-reset: no reconnect before it
    assert streams[2].at >= reset_at
    assert not run.thread.is_alive()



def test_stop_interrupts_a_silent_stream(fake: FakeXApi) -> None:
    fake.episodes.append(Episode(items=[tweet_message("1", "x", "2", "a")], end="hang"))
    source, registry = _source(fake.url, stall=60)  # far longer than the producer waits
    with Running(source) as run:
        run.wait_for(lambda: len(run.emitted) == 1)
        run.stop.set()
        run.thread.join(5)
        assert not run.thread.is_alive()
    assert run.error is None
    assert registry.get_sample_value("streamwatch_xapi_reconnects_total",
                                     {"reason": "stall"}) == 0
