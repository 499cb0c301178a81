"""Background pollers: alerts from the alerting service, labels from the labels feed.

Each poller is a daemon thread that loops ``poll_once`` → sleep. A failure
(upstream down, 5xx, malformed answer) is counted in the state, logged once per
streak, and followed by exponential backoff with jitter up to ``max_backoff``;
the first success resets the delay. Pollers only write to the shared state
through its short critical sections, so HTTP handlers never wait on the network.

Alerts: ``GET {alerting}/v1/alerts?limit=1000[&cursor=C]`` answers
``{"alerts": [...], "next_cursor": C|null}``; the last non-null cursor is kept
so each poll continues where the previous one stopped. The state de-duplicates
by ``alert_id`` as well, so a cursor that re-reads its last page costs nothing.

Labels: read with ``streamwatch.feed.client.FeedClient`` from the last offset
read up to the feed's ``latest`` (at most ``MAX_PAGES_PER_POLL`` pages a poll).

Requests follow the project's retry policy with few, short retries
(``POLL_RETRY``): a poll that still fails is the poller's failure, and the
backoff between polls is what waits for an upstream that is down.
"""

from __future__ import annotations

import logging
import random
import threading
from abc import ABC, abstractmethod
from itertools import islice
from typing import Any

import orjson
import requests

from streamwatch.core.http_client import RetryPolicy
from streamwatch.exporter.state import ExporterState
from streamwatch.feed.client import FeedClient, FeedError

log = logging.getLogger(__name__)

ALERTS_PAGE = 1000
LABELS_PAGE = 10_000
# A poll drains at most this many pages, then yields so a huge backlog cannot
# starve the other poller or delay shutdown.
MAX_PAGES_PER_POLL = 20
# a blip (a restart, a 503 under load) should not count as a failed poll; a longer
# outage is the poll loop's to wait out
POLL_RETRY = RetryPolicy(attempts=3, first_delay=0.1, max_delay=0.5)


class UpstreamError(Exception):
    """The upstream answered something the contract does not allow."""


class Poller(ABC):
    name: str

    def __init__(self, state: ExporterState, *, interval: float, max_backoff: float,
                 timeout: float) -> None:
        self.state = state
        self.interval = interval
        self.max_backoff = max(max_backoff, interval)
        self.timeout = timeout
        self._session = POLL_RETRY.session()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def poll_once(self) -> None:
        """Read what is new upstream and record it; raise on failure."""

    def _get(self, url: str, params: dict[str, Any]) -> requests.Response:
        resp = self._session.get(url, params=params, timeout=self.timeout)
        if resp.status_code != 200:
            raise UpstreamError(f"GET {resp.url} answered {resp.status_code}")
        return resp

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self.poll_once()
            except (requests.RequestException, UpstreamError, FeedError, ValueError,
                    KeyError, TypeError) as exc:
                failures += 1
                self.state.record_poll(self.name, error=str(exc)[:300])
                if failures == 1:
                    log.warning("poll failed; backing off",
                                extra={"poller": self.name, "error": str(exc)[:300]})
                delay = min(self.max_backoff, self.interval * 2 ** min(failures, 16))
                delay *= random.uniform(0.5, 1.0)  # jitter: no lock-step retries
            else:
                if failures:
                    log.info("poll recovered", extra={"poller": self.name,
                                                      "failed_polls": failures})
                failures = 0
                self.state.record_poll(self.name)
                delay = self.interval
            self._stop.wait(delay)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"poll-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
        self._session.close()


class AlertsPoller(Poller):
    name = "alerts"

    def __init__(self, state: ExporterState, base_url: str, **kwargs: Any) -> None:
        super().__init__(state, **kwargs)
        self.url = base_url.rstrip("/") + "/v1/alerts"
        self.cursor: str | None = None

    def poll_once(self) -> None:
        for _ in range(MAX_PAGES_PER_POLL):
            params: dict[str, Any] = {"limit": ALERTS_PAGE}
            if self.cursor is not None:
                params["cursor"] = self.cursor
            doc = self._get(self.url, params).json()
            if not isinstance(doc, dict) or not isinstance(doc.get("alerts"), list):
                raise UpstreamError("alerts answer lacks an 'alerts' array")
            alerts = doc["alerts"]
            for alert in alerts:
                if not isinstance(alert, dict) or "alert_id" not in alert or "rule" not in alert:
                    raise UpstreamError("alert without alert_id or rule")
            self.state.record_alerts(alerts)
            next_cursor = doc.get("next_cursor")
            if next_cursor is None:
                return
            self.cursor = str(next_cursor)
            if not alerts:
                return


class LabelsPoller(Poller):
    name = "labels"

    def __init__(self, state: ExporterState, feed_url: str, **kwargs: Any) -> None:
        super().__init__(state, **kwargs)
        self.feed = FeedClient.from_url(feed_url, timeout=self.timeout, policy=POLL_RETRY)
        self.next_offset = 0

    def poll_once(self) -> None:
        offsets = self.feed.offsets()
        # Records below `earliest` were retained away; they can no longer be read.
        self.next_offset = max(self.next_offset, offsets.earliest)
        pages = self.feed.pages(self.next_offset, offsets.latest, page_size=LABELS_PAGE)
        for page in islice(pages, MAX_PAGES_PER_POLL):
            labels = [orjson.loads(line) for line in page.lines]
            for label in labels:
                if not isinstance(label, dict) or "txn_id" not in label:
                    raise UpstreamError("label record without txn_id")
            self.state.record_labels(labels)
            self.next_offset = page.end

    def stop(self) -> None:
        super().stop()
        self.feed.close()
