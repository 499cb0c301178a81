"""FeedClient against the real feed server on 127.0.0.1, and against tiny servers that break
the contract or fail on purpose (503s, a cut body, a skipped record, nothing readable)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry
from werkzeug.wrappers import Request, Response

from streamwatch.core.http import Server
from streamwatch.core.http_client import RetryPolicy
from streamwatch.feed.client import (
    FeedClient,
    FeedError,
    FeedRetentionError,
    FeedUnavailable,
    split_feed_url,
)
from streamwatch.feed.log import FeedLog
from streamwatch.feed.server import FeedAppConfig, FeedMetrics, create_app
from tests.procs import free_port

RECORDS = [orjson.dumps({"txn_id": f"t-{i:09d}", "amount": f"{i}.00"}) for i in range(250)]
FAST = RetryPolicy(attempts=4, first_delay=0.05, max_delay=0.2)

WsgiApp = Callable[[dict[str, Any], Any], Any]


@pytest.fixture
def feed_app(tmp_path: Path) -> Iterator[WsgiApp]:
    """The producers' feed app over a real log of 250 records, 40 records per answer."""
    log = FeedLog.open(tmp_path, "transactions", segment_bytes=2048, fsync="never")
    log.append_many(RECORDS)
    registry = CollectorRegistry()
    metrics = FeedMetrics(registry)
    metrics.watch({"transactions": log})
    yield create_app(FeedAppConfig(service="test-feeds", logs={"transactions": log},
                                   registry=registry, metrics=metrics,
                                   max_records_per_request=40, ready=True))
    log.close()


@pytest.fixture
def serve() -> Iterator[Callable[[WsgiApp], str]]:
    servers: list[Server] = []

    def start(app: WsgiApp) -> str:
        servers.append(Server(app, "127.0.0.1", 0).start())
        return f"http://127.0.0.1:{servers[-1].port}"

    yield start
    for server in servers:
        server.stop()


class Failing:
    """Answers the next ``statuses`` requests with those statuses, then passes to ``app``."""

    def __init__(self, app: WsgiApp, statuses: list[int]) -> None:
        self.app = app
        self.statuses = list(statuses)
        self.requests = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.lock:
            self.requests += 1
            status = self.statuses.pop(0) if self.statuses else None
        if status is not None:
            return Response(b'{"error": "not now"}', status)(environ, start_response)
        return self.app(environ, start_response)


def records_app(answer: Callable[[int, int], tuple[bytes, dict[str, str]]],
                latest: int = 10) -> WsgiApp:
    """A feed ``transactions`` of ``latest`` records whose pages ``answer(start, end)`` makes."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        req = Request(environ)
        if req.path.endswith("/offsets"):
            resp = Response(orjson.dumps({"earliest": 0, "latest": latest}))
        else:
            body, headers = answer(int(req.args["start"]), int(req.args["end"]))
            resp = Response(body, headers=headers)
        return resp(environ, start_response)

    return app


def test_end_offset_and_pages_across_the_server_cap(feed_app: WsgiApp,
                                                    serve: Callable[[WsgiApp], str]) -> None:
    with FeedClient(serve(feed_app), "transactions") as feed:
        assert feed.end_offset() == 250
        assert (feed.offsets().earliest, feed.offsets().latest) == (0, 250)
        pages = list(feed.pages(5, 250, page_size=100))
        # the server caps answers at 40 records: each page resumes where the last one ended
        assert [p.start for p in pages] == [5, 45, 85, 125, 165, 205, 245]
        assert all(len(p.lines) <= 40 for p in pages)
        assert [line for p in pages for line in p.lines] == RECORDS[5:]
        assert [p.end for p in pages][-1] == 250
        assert list(feed.records(0, 30, page_size=7)) == list(enumerate(RECORDS[:30]))
        assert [(o, doc["txn_id"]) for o, doc in feed.objects(248, 250)] == [
            (248, "t-000000248"), (249, "t-000000249")]
        assert list(feed.pages(250, 250)) == []


def test_unknown_feed_and_retention_are_named(serve: Callable[[WsgiApp], str],
                                              feed_app: WsgiApp) -> None:
    url = serve(feed_app)
    with pytest.raises(FeedError, match=r"does not exist.*v1/feeds lists"):
        FeedClient(url, "nope").end_offset()

    def gone(environ: dict[str, Any], start_response: Any) -> Any:
        body = orjson.dumps({"error": "gone", "field": "start", "earliest": 120})
        return Response(body, 410)(environ, start_response)

    with pytest.raises(FeedRetentionError, match="fell out of retention") as caught:
        list(FeedClient(serve(gone), "transactions").pages(100, 200))
    assert (caught.value.start, caught.value.end, caught.value.earliest) == (100, 200, 120)


def test_503_twice_then_200_is_retried(feed_app: WsgiApp,
                                       serve: Callable[[WsgiApp], str]) -> None:
    flaky = Failing(feed_app, [503, 503])
    feed = FeedClient(serve(flaky), "transactions", policy=FAST)
    assert feed.end_offset() == 250
    assert flaky.requests == 3
    flaky.statuses = [502, 504]
    assert [p.lines for p in feed.pages(0, 3)] == [RECORDS[:3]]
    assert flaky.requests == 6


def test_retries_are_bounded_and_a_500_is_not_retried(
        feed_app: WsgiApp, serve: Callable[[WsgiApp], str]) -> None:
    flaky = Failing(feed_app, [503] * 10)
    feed = FeedClient(serve(flaky), "transactions", policy=FAST)
    with pytest.raises(FeedUnavailable, match="HTTP 503 in each of 4 attempt"):
        feed.end_offset()
    assert flaky.requests == 4
    broken = Failing(feed_app, [500])
    with pytest.raises(FeedError, match="HTTP 500") as caught:
        FeedClient(serve(broken), "transactions", policy=FAST).end_offset()
    assert not isinstance(caught.value, FeedUnavailable)
    assert broken.requests == 1


def test_a_down_feed_fails_clearly_after_bounded_attempts() -> None:
    policy = RetryPolicy(attempts=4, first_delay=0.2, max_delay=1.0)
    feed = FeedClient(f"http://127.0.0.1:{free_port()}", "transactions", policy=policy)
    started = time.monotonic()
    with pytest.raises(FeedUnavailable, match=r"did not answer GET offsets in 4 attempt"):
        feed.end_offset()
    # waits 0, 0.2 and 0.4 s (plus jitter) between the four attempts, then gives up
    assert policy.total_wait() <= time.monotonic() - started < 5.0


def test_a_feed_that_starts_late_is_waited_for() -> None:
    port = free_port()
    app = records_app(lambda s, e: (b"", {"X-Streamwatch-End": str(s)}), latest=3)
    holder: dict[str, Server] = {}
    timer = threading.Timer(0.5, lambda: holder.setdefault(
        "s", Server(app, "127.0.0.1", port).start()))
    timer.start()
    try:
        feed = FeedClient(f"http://127.0.0.1:{port}", "transactions",
                          policy=RetryPolicy.within(20))
        assert feed.end_offset() == 3
    finally:
        timer.join()
        if "s" in holder:
            holder["s"].stop()


def test_a_page_cut_short_is_an_error(serve: Callable[[WsgiApp], str]) -> None:
    def cut(start: int, end: int) -> tuple[bytes, dict[str, str]]:
        whole = b"".join(r + b"\n" for r in RECORDS[start:end])
        return whole[:-7], {"X-Streamwatch-End": str(end)}  # the connection dropped

    with pytest.raises(FeedError, match=r"for \[0, 4\): the page was cut short"):
        list(FeedClient(serve(records_app(cut)), "transactions").pages(0, 4))


def test_a_missing_record_is_an_error(serve: Callable[[WsgiApp], str]) -> None:
    def skips(start: int, end: int) -> tuple[bytes, dict[str, str]]:
        kept = [r for i, r in enumerate(RECORDS[start:end], start) if i != 2]
        return b"".join(r + b"\n" for r in kept), {"X-Streamwatch-End": str(end)}

    with pytest.raises(FeedError, match=r"answered 3 complete records .* for \[0, 4\)"):
        list(FeedClient(serve(records_app(skips)), "transactions").pages(0, 4))


def test_a_page_from_elsewhere_is_a_gap(serve: Callable[[WsgiApp], str]) -> None:
    def elsewhere(start: int, end: int) -> tuple[bytes, dict[str, str]]:
        body = b"".join(r + b"\n" for r in RECORDS[start + 1:end + 1])
        return body, {"X-Streamwatch-Start": str(start + 1), "X-Streamwatch-End": str(end + 1)}

    with pytest.raises(FeedError, match="start at 0 and end by 4"):
        list(FeedClient(serve(records_app(elsewhere)), "transactions").pages(0, 4))


def test_records_not_readable_yet_are_asked_again_then_given_up(
        serve: Callable[[WsgiApp], str]) -> None:
    empty_answers = [2]

    def catching_up(start: int, end: int) -> tuple[bytes, dict[str, str]]:
        if empty_answers[0]:
            empty_answers[0] -= 1
            return b"", {"X-Streamwatch-End": str(start)}
        return b"".join(r + b"\n" for r in RECORDS[start:end]), {"X-Streamwatch-End": str(end)}

    feed = FeedClient(serve(records_app(catching_up)), "transactions", policy=FAST)
    assert [line for _, line in feed.records(0, 5)] == RECORDS[:5]
    assert empty_answers == [0]

    never = records_app(lambda s, e: (b"", {"X-Streamwatch-End": str(s)}))
    client = FeedClient(serve(never), "transactions", timeout=0.3,
                        policy=RetryPolicy(attempts=1))
    with pytest.raises(FeedError, match="answers no record at offset 0"):
        list(client.pages(0, 5))


def test_feed_urls_long_and_short() -> None:
    assert split_feed_url("http://h:7102/v1/feeds/labels") == ("http://h:7102", "labels")
    assert split_feed_url("http://h:7102/labels/") == ("http://h:7102", "labels")
    assert split_feed_url("https://gw/txns/v1/feeds/labels") == ("https://gw/txns", "labels")
    for bad in ("http://h:7102/", "labels", "ftp://h/labels"):
        with pytest.raises(ValueError, match="feed"):
            split_feed_url(bad)
