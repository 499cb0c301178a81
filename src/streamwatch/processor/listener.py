"""Forward every streaming progress event to the metrics exporter.

Key concepts:
- ``ProgressForwarder`` is a ``StreamingQueryListener``; Spark calls
  ``onQueryProgress`` on its listener-bus thread after each micro-batch.
- The callback only puts ``event.progress.json`` on a bounded queue; a
  background thread POSTs it to ``{exporter_url}/v1/progress`` with short
  timeouts. An exporter that is down or slow therefore never slows or fails
  a query: when the queue is full the event is dropped and counted.
- Each POST carries the ingest token (``STREAMWATCH_INGEST_TOKEN``).
- ``stats()`` reports ``posted``, ``failed`` and ``dropped`` counts.

Usage::

    forwarder = ProgressForwarder("http://127.0.0.1:7104")
    spark.streams.addListener(forwarder)
    ...
    spark.streams.removeListener(forwarder); forwarder.close()

Expected output: the exporter receives one JSON document per micro-batch,
the StreamingQueryProgress (``id``, ``runId``, ``batchId``,
``numInputRows``, ``inputRowsPerSecond``, ``durationMs``, ...).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from pyspark.sql.streaming import StreamingQueryListener

log = logging.getLogger(__name__)

_STOP = object()


class ProgressForwarder(StreamingQueryListener):
    """POST each progress event to ``{exporter_url}/v1/progress`` off the query's path."""

    def __init__(self, exporter_url: str, *, queue_size: int = 256, timeout: float = 2.0) -> None:
        self.url = exporter_url.rstrip("/") + "/v1/progress"
        self.timeout = timeout
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._counts = {"posted": 0, "failed": 0, "dropped": 0}
        self._thread = threading.Thread(target=self._run, name="progress-forwarder",
                                        daemon=True)
        self._thread.start()

    # --- listener callbacks (Spark's listener-bus thread: never block here) ---
    def onQueryStarted(self, event: Any) -> None:
        log.info("query started", extra={"query": event.name, "id": str(event.id)})

    def onQueryProgress(self, event: Any) -> None:
        self._offer(event.progress.json)

    def onQueryIdle(self, event: Any) -> None:
        return None

    def onQueryTerminated(self, event: Any) -> None:
        extra = {"id": str(event.id)}
        if event.exception:
            log.error("query failed", extra={**extra, "error": event.exception[:2000]})
        else:
            log.info("query stopped", extra=extra)

    # --- delivery ---
    def _offer(self, body: str) -> None:
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self._count("dropped")

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def _run(self) -> None:
        import requests

        from streamwatch.processor.io.sinks import INGEST_TOKEN_ENV, ingest_headers

        session = requests.Session()
        headers = {"Content-Type": "application/json", **ingest_headers()}
        failing = False
        while True:
            body = self._queue.get()
            if body is _STOP:
                break
            problem = None
            try:
                resp = session.post(self.url, data=body.encode(), timeout=self.timeout,
                                    headers=headers)
                if resp.status_code >= 300:
                    problem = f"HTTP {resp.status_code}"
                    if resp.status_code == 401:
                        problem += f" (set {INGEST_TOKEN_ENV} to the exporter's ingest token)"
            except requests.RequestException as exc:
                problem = type(exc).__name__
            ok = problem is None
            self._count("posted" if ok else "failed")
            if ok == failing:  # log transitions only, not every failed event
                failing = not ok
                log.log(logging.WARNING if failing else logging.INFO,
                        "exporter refused or unreachable, progress events dropped until it "
                        "takes them" if failing else "exporter takes progress events again",
                        extra={"url": self.url, "error": problem})
        session.close()

    def close(self, timeout: float = 2.0) -> None:
        """Stop the delivery thread; events still queued after ``timeout`` are dropped."""
        while True:
            try:
                self._queue.put(_STOP, timeout=timeout)
                break
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self._count("dropped")
                except queue.Empty:
                    pass
        self._thread.join(timeout)
