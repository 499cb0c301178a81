"""The one client of the feed HTTP API: offsets, and records read page by page.

Key concepts:
- The end of a feed is ``latest`` from ``GET /v1/feeds/{feed}/offsets``
  (exclusive; :meth:`FeedClient.end_offset`), nothing else: not a line count, not a
  header of the last page.
- :meth:`FeedClient.pages` reads ``[start, end)`` with ``GET .../records`` in pages of
  at most ``page_size`` records. The server may answer a shorter page (its
  per-request cap); the next page starts at the ``X-Streamwatch-End`` it gave.
  Every page is checked against the contract: it starts where it was asked to,
  ends within the range, and holds exactly one newline-terminated record per
  offset. A body cut short, a record missing or one too many raise
  :class:`FeedError` naming the offsets, never a silent gap.
- Records ``/offsets`` announced may not be readable for a moment (a producer
  restarted without its unsynced tail regenerates it); an empty page is asked
  again for as long as the retry policy would wait for a down feed.
- Requests follow :class:`streamwatch.core.http_client.RetryPolicy`; when it runs
  out the client raises :class:`FeedUnavailable`. A start below ``earliest`` is
  :class:`FeedRetentionError`.

Pages are the unit because that is what the Spark source turns into an Arrow
batch; :meth:`FeedClient.records` and :meth:`FeedClient.objects` iterate single
records for readers that want them. Importing this module costs requests,
urllib3 and orjson only: Spark executors import it for every feed read.

Usage::

    with FeedClient("http://127.0.0.1:7102", "labels") as feed:
        for offset, label in feed.objects(0, feed.end_offset()):
            ...
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

from streamwatch.core.http_client import RETRY_STATUSES, RetryPolicy

# the feed server's default cap on records per answer; asking for more is harmless
PAGE_RECORDS = 10_000
START_HEADER = "X-Streamwatch-Start"
END_HEADER = "X-Streamwatch-End"
_EMPTY_PAGE_WAIT = 0.05


class FeedError(RuntimeError):
    """The feed answered something its contract does not allow."""


class FeedUnavailable(FeedError):
    """The feed did not answer within the retry policy."""


class FeedRetentionError(FeedError):
    """The range starts below the feed's earliest retained offset."""

    def __init__(self, message: str, *, start: int, end: int, earliest: int | None) -> None:
        super().__init__(message)
        self.start = start
        self.end = end
        self.earliest = earliest


@dataclass(frozen=True)
class Offsets:
    earliest: int
    latest: int  # exclusive: records [earliest, latest) are readable


@dataclass(frozen=True)
class Page:
    """Records ``[start, start + len(lines))``, each the stored JSON bytes without newline."""

    start: int
    lines: list[bytes]

    @property
    def end(self) -> int:
        return self.start + len(self.lines)


def split_feed_url(url: str) -> tuple[str, str]:
    """``http://h:p/labels`` or ``http://h:p/v1/feeds/labels`` -> (``http://h:p``, ``labels``)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{url!r} is not a feed URL; e.g. http://127.0.0.1:7102/v1/feeds/labels")
    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        raise ValueError(f"{url!r} names no feed; e.g. http://127.0.0.1:7102/v1/feeds/labels")
    prefix = segments[:-1]
    if prefix[-2:] == ["v1", "feeds"]:
        prefix = prefix[:-2]
    base = f"{parts.scheme}://{parts.netloc}" + "".join(f"/{s}" for s in prefix)
    return base, segments[-1]


class FeedClient:
    """Reads one feed of one producer; see the module docstring."""

    def __init__(self, base_url: str, feed: str, *, token: str | None = None,
                 timeout: float = 10.0, policy: RetryPolicy | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.feed = feed
        self.timeout = timeout
        self.policy = policy or RetryPolicy()
        self.url = f"{self.base_url}/v1/feeds/{feed}"
        self._session = self.policy.session(
            {"Authorization": f"Bearer {token}"} if token else None)

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> FeedClient:
        """A client for ``http://h:p/v1/feeds/<feed>`` (or the short ``http://h:p/<feed>``)."""
        base, feed = split_feed_url(url)
        return cls(base, feed, **kwargs)

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._session.close()

    def offsets(self) -> Offsets:
        resp = self._get("offsets", None)
        try:
            doc = resp.json()
            return Offsets(int(doc["earliest"]), int(doc["latest"]))
        except (TypeError, KeyError, ValueError):
            doc = resp.text
            raise FeedError(f"GET {self.url}/offsets answered {str(doc)[:200]}, not "
                            '{"earliest": E, "latest": L}') from None

    def end_offset(self) -> int:
        """The exclusive end of the feed now: the next offset to be written."""
        return self.offsets().latest

    def pages(self, start: int, end: int, *, page_size: int = PAGE_RECORDS) -> Iterator[Page]:
        """Every record of ``[start, end)`` in order, as pages of at most ``page_size``."""
        pos = start
        waited_since: float | None = None
        while pos < end:
            asked = min(end, pos + page_size)
            resp = self._get("records", {"start": pos, "end": asked}, start=pos, end=end)
            got = self._page_end(resp, pos, asked)
            if got == pos:
                # announced by /offsets but not readable yet: the producer is catching up
                now = time.monotonic()
                waited_since = waited_since if waited_since is not None else now
                if now - waited_since > max(self.policy.total_wait(), self.timeout):
                    raise FeedError(
                        f"feed {self.feed!r} at {self.base_url} answers no record at offset "
                        f"{pos} although records up to {end} were asked for; did the "
                        f"producer lose its data?")
                time.sleep(_EMPTY_PAGE_WAIT)
                continue
            waited_since = None
            body = resp.content
            lines = body.split(b"\n")
            # a complete body ends with a newline, so the split leaves one empty tail
            if lines.pop() != b"" or len(lines) != got - pos:
                complete = body.count(b"\n")
                raise FeedError(
                    f"feed {self.feed!r} answered {complete} complete records "
                    f"({len(body)} bytes) for [{pos}, {got}): the page was cut short or "
                    f"breaks the one-record-per-line contract")
            yield Page(pos, lines)
            pos = got

    def records(self, start: int, end: int, *,
                page_size: int = PAGE_RECORDS) -> Iterator[tuple[int, bytes]]:
        """``(offset, record bytes)`` for every record of ``[start, end)``."""
        for page in self.pages(start, end, page_size=page_size):
            yield from enumerate(page.lines, page.start)

    def objects(self, start: int, end: int, *,
                page_size: int = PAGE_RECORDS) -> Iterator[tuple[int, Any]]:
        """``(offset, decoded JSON)`` for every record of ``[start, end)``."""
        for offset, line in self.records(start, end, page_size=page_size):
            try:
                yield offset, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise FeedError(f"feed {self.feed!r} record {offset} is not JSON "
                                f"({exc})") from None

    def _page_end(self, resp: requests.Response, pos: int, asked: int) -> int:
        first = resp.headers.get(START_HEADER)
        last = resp.headers.get(END_HEADER)
        try:
            got = int(last) if last is not None else -1
            if first is not None and int(first) != pos:
                got = -1
        except ValueError:
            got = -1
        if not pos <= got <= asked:
            raise FeedError(
                f"GET {resp.url} answered {START_HEADER}: {first}, {END_HEADER}: {last}; "
                f"the records asked for start at {pos} and end by {asked}")
        return got

    def _get(self, what: str, params: dict[str, int] | None, *, start: int = 0,
             end: int = 0) -> requests.Response:
        url = f"{self.url}/{what}"
        attempts = self.policy.attempts
        try:
            resp = self._session.get(url, params=params, timeout=self.timeout)
        except requests.RequestException as exc:
            raise FeedUnavailable(
                f"feed {self.feed!r} at {self.base_url} did not answer GET {what} in "
                f"{attempts} attempt(s) over {self.policy.total_wait():.1f} s ({exc}); is "
                f"the producer running?") from exc
        if resp.status_code == 200:
            return resp
        if resp.status_code in RETRY_STATUSES:
            raise FeedUnavailable(
                f"feed {self.feed!r} at {self.base_url} did not answer GET {what}: HTTP "
                f"{resp.status_code} in each of {attempts} attempt(s) over "
                f"{self.policy.total_wait():.1f} s")
        if resp.status_code == 404:
            raise FeedError(f"feed {self.feed!r} does not exist at {self.base_url} (HTTP "
                            f"404); GET {self.base_url}/v1/feeds lists the feeds served")
        if resp.status_code == 410:
            earliest = _json_field(resp, "earliest")
            raise FeedRetentionError(
                f"feed {self.feed!r} records [{start}, {end}) fell out of retention (the "
                f"feed's earliest offset is now {earliest}); they can no longer be read",
                start=start, end=end, earliest=earliest)
        raise FeedError(f"GET {resp.url} answered HTTP {resp.status_code}: {resp.text[:200]}")


def _json_field(resp: requests.Response, name: str) -> int | None:
    try:
        value = resp.json().get(name)
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) else None
