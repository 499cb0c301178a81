"""The one retry policy of the project's HTTP clients: a requests Session over urllib3's Retry.

Key concepts:
- Retried: connection errors, read errors and timeouts, and the answers that mean
  "not now" (502, 503, 504), for idempotent methods only, unless a caller names a
  method whose receiver dedupes (the processor's ``http:`` sink POSTs alerts that
  the alerting service stores once per ``alert_id``).
- Not retried: every other answer. A 4xx is a bug in the request and a 500 a bug
  in the server; sending the same request again fixes neither. Retries that run
  out hand the last 5xx answer back (``raise_on_status=False``), so the caller
  names the status in its error instead of a generic "too many retries".
- Bounded: ``attempts`` tries in all. urllib3 repeats the first failure at once,
  then waits ``first_delay``, doubling up to ``max_delay``, plus up to
  ``first_delay`` of jitter so clients that lost one server do not come back in
  lock step. ``RetryPolicy.within(seconds)`` is the policy whose waits add up to a
  time budget (the feed source's ``retrySeconds``).
- Every retry is logged as a warning with the method, URL and cause, so a client
  waiting for a server says so.

Importing this module costs requests and urllib3 only: it runs on Spark executors.

Usage::

    session = RetryPolicy(attempts=3).session()
    session.get("http://127.0.0.1:7102/readyz", timeout=5)
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({502, 503, 504})
IDEMPOTENT_METHODS = frozenset(Retry.DEFAULT_ALLOWED_METHODS)


class _LoggedRetry(Retry):
    """urllib3's Retry that logs each retry it grants (urllib3 logs status retries at debug)."""

    def increment(self, method: str | None = None, url: str | None = None,
                  *args: Any, **kwargs: Any) -> _LoggedRetry:
        new = super().increment(method, url, *args, **kwargs)
        response, error = kwargs.get("response"), kwargs.get("error")
        cause = (f"HTTP {response.status}" if response is not None and error is None
                 else f"{type(error).__name__}: {error}" if error is not None else "unknown")
        log.warning("HTTP request failed, retrying", extra={
            "method": method, "url": url, "error": cause[:200],
            "attempt": len(new.history), "retry_in_s": round(new.get_backoff_time(), 2)})
        return new


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a client repeats a request; see the module docstring."""

    attempts: int = 5
    first_delay: float = 0.2
    max_delay: float = 5.0
    methods: Collection[str] = IDEMPOTENT_METHODS

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"a retry policy needs at least 1 attempt, not {self.attempts}")

    @classmethod
    def within(cls, seconds: float, *, first_delay: float = 0.2,
               max_delay: float = 5.0) -> RetryPolicy:
        """The fewest attempts whose waits add up to at least ``seconds``."""
        policy = cls(attempts=1, first_delay=first_delay, max_delay=max_delay)
        while policy.total_wait() < seconds:
            policy = cls(attempts=policy.attempts + 1, first_delay=first_delay,
                         max_delay=max_delay)
        return policy

    def delays(self) -> list[float]:
        """The wait before each retry, jitter left out (urllib3's schedule)."""
        return [0.0 if n == 1 else min(self.max_delay, self.first_delay * 2 ** (n - 2))
                for n in range(1, self.attempts)]

    def total_wait(self) -> float:
        """Seconds spent waiting between attempts when every one fails (jitter left out)."""
        return sum(self.delays())

    def retry(self) -> Retry:
        retries = self.attempts - 1
        return _LoggedRetry(
            # other: TLS and proxy errors, which a second try does not fix
            total=retries, connect=retries, read=retries, status=retries, other=0,
            allowed_methods=frozenset(m.upper() for m in self.methods),
            status_forcelist=RETRY_STATUSES, backoff_factor=self.first_delay / 2,
            backoff_max=self.max_delay, backoff_jitter=self.first_delay,
            retry_after_max=max(1, int(self.max_delay)), raise_on_status=False)

    def session(self, headers: dict[str, str] | None = None) -> requests.Session:
        """A new Session whose http:// and https:// requests follow this policy."""
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=self.retry())
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        if headers:
            session.headers.update(headers)
        return session
