"""The retry policy against a tiny server on 127.0.0.1 that answers 503 on purpose."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Response

from streamwatch.core.http import Server
from streamwatch.core.http_client import RetryPolicy


class Unavailable:
    """Answers 503 to the first ``failures`` requests, then 200; counts them by method."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.lock:
            self.seen.append(environ["REQUEST_METHOD"])
            failing = len(self.seen) <= self.failures
        return Response(b"{}", 503 if failing else 200)(environ, start_response)


@pytest.fixture
def unavailable() -> Iterator[tuple[Unavailable, str]]:
    app = Unavailable(failures=2)
    server = Server(app, "127.0.0.1", 0).start()
    yield app, f"http://127.0.0.1:{server.port}/x"
    server.stop()


def test_delays_double_up_to_the_cap_and_within_covers_the_budget() -> None:
    policy = RetryPolicy(attempts=7, first_delay=0.5, max_delay=3.0)
    assert policy.delays() == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0]
    assert RetryPolicy.within(0).attempts == 1
    assert RetryPolicy.within(0.5).delays() == [0.0, 0.2, 0.4]
    budget = RetryPolicy.within(600)
    assert 600 <= budget.total_wait() < 605 and budget.attempts == 126
    with pytest.raises(ValueError, match="at least 1 attempt"):
        RetryPolicy(attempts=0)


def test_get_is_retried_on_503_and_post_only_when_named(
        unavailable: tuple[Unavailable, str]) -> None:
    app, url = unavailable
    fast = {"first_delay": 0.01, "max_delay": 0.05}
    assert RetryPolicy(attempts=3, **fast).session().get(url, timeout=5).status_code == 200
    assert app.seen == ["GET"] * 3
    app.seen.clear()
    # a POST is not idempotent: one try, the 503 handed back
    assert RetryPolicy(attempts=3, **fast).session().post(url, timeout=5).status_code == 503
    assert app.seen == ["POST"]
    deduped = RetryPolicy(attempts=3, methods={"POST"}, **fast).session()
    assert deduped.post(url, timeout=5).status_code == 200  # its 2nd try fails, the 3rd not
    assert app.seen == ["POST", "POST", "POST"]


def test_exhausted_retries_hand_back_the_last_answer(
        unavailable: tuple[Unavailable, str]) -> None:
    app, url = unavailable
    resp = RetryPolicy(attempts=2, first_delay=0.01).session().get(url, timeout=5)
    assert resp.status_code == 503 and len(app.seen) == 2
