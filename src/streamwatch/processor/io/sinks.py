"""Where a job's results go: ``http:URL``, ``jsonl:DIR`` or ``console``.

Key concepts:
- Every sink is a ``foreachBatch`` writer: ``sink(batch_df, batch_id)``
  collects the (small) result batch and calls ``sink.write(batch_id, rows)``.
  Jobs that build their rows in Python call ``write`` directly.
- ``jsonl:DIR`` writes one file per batch id, ``<prefix>-<batch id>.jsonl``,
  through a temporary file and an atomic rename: a batch replayed after a
  crash overwrites its own file instead of appending duplicate lines.
- ``http:URL`` POSTs ``{wrap_key: [rows...]}`` in chunks, retrying connection
  errors and 502/503/504 by the project's retry policy
  (``streamwatch.core.http_client``). Receivers dedupe (alerts by ``alert_id``,
  trends by window + hashtag), so a retried chunk or a replayed batch is
  harmless. Any other 4xx or 5xx fails the batch: a 4xx is a bug in what we
  send, a 500 one in the receiver, and sending it again fixes neither.
  Every POST carries ``Authorization: Bearer $STREAMWATCH_INGEST_TOKEN`` (the
  alerting service and the exporter refuse writes without it).
- ``console`` prints one JSON object per line on stdout.

Usage::

    sink = parse_sink("jsonl:/tmp/out").open(wrap_key="alerts")
    df.writeStream.foreachBatch(sink).option("checkpointLocation", ck).start()

Expected output (``jsonl``): ``/tmp/out/batch-000000000007.jsonl`` holding
the rows of batch 7, one JSON object per line.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson

from streamwatch.processor.io.files import write_atomically

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


Row = Mapping[str, Any]
INGEST_TOKEN_ENV = "STREAMWATCH_INGEST_TOKEN"
SINK_HELP = "use http:URL (e.g. http:http://127.0.0.1:7103/v1/alerts), jsonl:DIR or console"


class SinkSpecError(ValueError):
    """A ``--sink`` value that does not parse; the message shows a correct one."""


class SinkError(RuntimeError):
    """A batch could not be delivered; the query fails and replays it on restart."""


class BatchSink(Protocol):
    def write(self, batch_id: int, rows: Sequence[Row]) -> None: ...

    def __call__(self, df: DataFrame, batch_id: int) -> None: ...


def ingest_headers() -> dict[str, str]:
    """The bearer header of the services' write endpoints, from the environment."""
    token = os.environ.get(INGEST_TOKEN_ENV, "")
    return {"Authorization": f"Bearer {token}"} if token else {}


def _dumps(row: Row) -> bytes:
    return orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS)


def collect_rows(df: DataFrame) -> list[dict[str, Any]]:
    """A result batch as plain dicts (nested rows become dicts too)."""
    return [r.asDict(recursive=True) for r in df.collect()]


class _DataFrameSink:
    def write(self, batch_id: int, rows: Sequence[Row]) -> None:
        raise NotImplementedError

    def __call__(self, df: DataFrame, batch_id: int) -> None:
        self.write(batch_id, collect_rows(df))


class JsonlSink(_DataFrameSink):
    """One JSONL file per batch id in ``directory``, written atomically."""

    def __init__(self, directory: str | os.PathLike[str], prefix: str = "batch") -> None:
        self.directory = Path(directory)
        self.prefix = prefix

    def path_for(self, batch_id: int) -> Path:
        return self.directory / f"{self.prefix}-{batch_id:012d}.jsonl"

    def write(self, batch_id: int, rows: Sequence[Row]) -> None:
        if not rows:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path_for(batch_id), b"".join(_dumps(r) + b"\n" for r in rows))


class ConsoleSink(_DataFrameSink):
    """One JSON object per line on ``stream`` (stdout by default)."""

    def __init__(self, stream: IO[str] | None = None, label: str = "") -> None:
        self.stream = stream
        self.label = label

    def write(self, batch_id: int, rows: Sequence[Row]) -> None:
        out = self.stream or sys.stdout
        if self.label and rows:
            out.write(f"--- {self.label} batch {batch_id}: {len(rows)} rows\n")
        for r in rows:
            out.write(_dumps(r).decode() + "\n")
        out.flush()


class HttpSink(_DataFrameSink):
    """POST ``{wrap_key: rows}`` to ``url`` in chunks, retried with backoff."""

    def __init__(
        self,
        url: str,
        wrap_key: str,
        *,
        chunk_size: int = 500,
        timeout: float = 10.0,
        max_attempts: int = 8,
        backoff_s: float = 0.25,
        max_backoff_s: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.wrap_key = wrap_key
        self.chunk_size = max(1, chunk_size)
        self.timeout = timeout
        self.max_attempts = max(1, max_attempts)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.headers = {"Content-Type": "application/json", **ingest_headers(),
                        **(headers or {})}
        self._session: Any = None

    def post(self, doc: Mapping[str, Any]) -> Any:
        """POST one document, retried by the project's policy; returns the response."""
        import requests

        from streamwatch.core.http_client import RETRY_STATUSES, RetryPolicy

        if self._session is None:
            # A POST is retried only because every receiver dedupes (see the module
            # docstring): a chunk sent twice after a lost answer is stored once.
            self._session = RetryPolicy(
                attempts=self.max_attempts, first_delay=self.backoff_s,
                max_delay=self.max_backoff_s, methods={"POST"}).session(self.headers)
        try:
            resp = self._session.post(self.url, data=orjson.dumps(doc), timeout=self.timeout)
        except requests.RequestException as exc:
            raise SinkError(f"POST {self.url} failed {self.max_attempts} times (last: "
                            f"{type(exc).__name__}: {exc}); is the receiver running?") from exc
        if resp.status_code < 400:
            return resp
        if resp.status_code in RETRY_STATUSES:
            raise SinkError(f"POST {self.url} failed {self.max_attempts} times (last: HTTP "
                            f"{resp.status_code}); is the receiver running?")
        hint = (f" (set {INGEST_TOKEN_ENV} to the receiver's ingest token)"
                if resp.status_code == 401 else "")
        raise SinkError(f"POST {self.url} was refused with HTTP {resp.status_code}: "
                        f"{resp.text[:300]}{hint}")

    def write(self, batch_id: int, rows: Sequence[Row]) -> None:
        for i in range(0, len(rows), self.chunk_size):
            self.post({self.wrap_key: list(rows[i:i + self.chunk_size])})


@dataclass(frozen=True)
class SinkSpec:
    kind: str  # http | jsonl | console
    target: str = ""

    def open(self, wrap_key: str, *, subdir: str = "", label: str = "") -> BatchSink:
        """A writer for this spec; ``subdir`` keeps a second output of a job apart."""
        if self.kind == "http":
            return HttpSink(self.target, wrap_key)
        if self.kind == "jsonl":
            return JsonlSink(Path(self.target) / subdir if subdir else self.target)
        return ConsoleSink(label=label or wrap_key)

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}" if self.target else self.kind


def parse_sink(spec: str) -> SinkSpec:
    """Parse a ``--sink`` value or raise ``SinkSpecError`` naming a valid one."""
    text = (spec or "").strip()
    if text == "console":
        return SinkSpec("console")
    kind, sep, rest = text.partition(":")
    if kind == "http" and sep:
        if not rest.startswith(("http://", "https://")):
            raise SinkSpecError(
                f"--sink {spec!r}: an http sink is http:URL with the full URL, "
                f"e.g. http:http://127.0.0.1:7103/v1/alerts"
            )
        return SinkSpec("http", rest)
    if kind == "jsonl" and sep and rest:
        return SinkSpec("jsonl", rest)
    raise SinkSpecError(f"--sink {spec!r} is not a sink spec; {SINK_HELP}")
