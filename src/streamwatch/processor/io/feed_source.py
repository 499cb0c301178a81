"""A replayable Structured Streaming source over the Streamwatch feed HTTP API.

Key concepts:
- ``FeedDataSource`` is a PySpark Python Data Source (``DataSource`` +
  ``DataSourceStreamReader``); register it once per session with
  ``spark.dataSource.register(FeedDataSource)``.
- Offsets are feed record offsets, ``{"offset": N}``, kept in the Spark
  checkpoint. A micro-batch reads the half-open range ``[start, end)``, so a
  restart from the same checkpoint re-reads exactly the same records.
- Admission control: ``maxRecordsPerTrigger`` caps a micro-batch
  (``getDefaultReadLimit`` returns ``ReadMaxRows``); ``Trigger.AvailableNow``
  reads up to the latest offset seen when the query started, then stops.
- A range is split into up to ``numPartitions`` partitions of at least
  ``minPartitionRecords`` records, so executors fetch in parallel.
- Reads go through ``streamwatch.feed.client.FeedClient``: a feed that does not
  answer makes the source retry with capped exponential backoff (logged; the
  project's one ``RetryPolicy``) for about ``retrySeconds``; a range that has
  fallen out of the feed's retention (HTTP 410) fails the query with a
  message saying so, since silently skipping records would break exactly-once.
- Rows are ``offset BIGINT, value STRING`` (the raw JSON line), produced as
  Arrow record batches; parse them with ``from_json`` in the JVM.

Usage::

    spark.dataSource.register(FeedDataSource)
    df = (spark.readStream.format("streamwatch_feed")
          .option("url", "http://127.0.0.1:7101").option("feed", "tweets")
          .option("maxRecordsPerTrigger", "50000").load())

Expected output (``df.writeStream.format("console")``)::

    +------+--------------------------------------------------+
    |offset|value                                             |
    +------+--------------------------------------------------+
    |0     |{"id": "1850000000000000001", "created_at": ...}  |
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.streaming.datasource import (
    ReadAllAvailable,
    ReadLimit,
    ReadMaxRows,
    SupportsTriggerAvailableNow,
)
from pyspark.sql.types import StructType

from streamwatch.core.http_client import RetryPolicy
from streamwatch.feed.client import FeedClient, FeedRetentionError, FeedUnavailable, Offsets

SOURCE_NAME = "streamwatch_feed"
SCHEMA = "offset BIGINT, value STRING"


@dataclass(frozen=True)
class FeedOptions:
    url: str
    feed: str
    max_records_per_trigger: int = 0
    num_partitions: int = 4
    min_partition_records: int = 2_000
    retry_seconds: float = 600.0
    request_timeout: float = 10.0
    starting: str = "earliest"

    @classmethod
    def parse(cls, given: Mapping[str, str]) -> FeedOptions:
        # Spark hands data sources case-insensitive options, stored lower-cased.
        options = {k.lower(): v for k, v in given.items()}

        def num(name: str, default: float, kind: type = int) -> Any:
            raw = options.get(name.lower())
            if raw is None or raw == "":
                return default
            try:
                value = kind(raw)
            except ValueError:
                raise ValueError(
                    f"feed source option {name}={raw!r} must be a number, e.g. {default}"
                ) from None
            if value < 0:
                raise ValueError(f"feed source option {name}={raw!r} must be >= 0")
            return value

        url = (options.get("url") or "").rstrip("/")
        feed = options.get("feed") or ""
        if not url.startswith(("http://", "https://")) or not feed:
            raise ValueError(
                "feed source needs options url (http://HOST:PORT) and feed (a feed name), "
                "e.g. .option('url', 'http://127.0.0.1:7101').option('feed', 'tweets')"
            )
        starting = options.get("startingoffsets", "earliest")
        if starting not in ("earliest", "latest"):
            raise ValueError("feed source option startingOffsets must be earliest or latest")
        return cls(
            url=url,
            feed=feed,
            max_records_per_trigger=num("maxRecordsPerTrigger", 0),
            num_partitions=max(1, num("numPartitions", 4)),
            min_partition_records=max(1, num("minPartitionRecords", 2_000)),
            retry_seconds=num("retrySeconds", 600.0, float),
            request_timeout=num("requestTimeout", 10.0, float),
            starting=starting,
        )

    def client(self) -> FeedClient:
        """A client that waits about ``retry_seconds`` for a feed that does not answer."""
        return FeedClient(self.url, self.feed, timeout=self.request_timeout,
                          policy=RetryPolicy.within(self.retry_seconds))

    def offsets(self) -> Offsets:
        with self.client() as feed:
            try:
                return feed.offsets()
            except FeedUnavailable as exc:
                raise _waited_too_long(self, exc) from exc


class FeedRange(InputPartition):
    """Records ``[start, end)`` of one feed, read by one Spark task."""

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end

    def __repr__(self) -> str:
        return f"FeedRange({self.start}, {self.end})"


def split_range(start: int, end: int, num_partitions: int, min_records: int) -> list[FeedRange]:
    """Split ``[start, end)`` into at most ``num_partitions`` near-equal contiguous ranges."""
    total = end - start
    if total <= 0:
        return []
    parts = max(1, min(num_partitions, total // min_records or 1))
    size, extra = divmod(total, parts)
    out, lo = [], start
    for i in range(parts):
        hi = lo + size + (1 if i < extra else 0)
        out.append(FeedRange(lo, hi))
        lo = hi
    return out


def _retention_error(opts: FeedOptions, start: int, end: int, earliest: Any) -> FeedRetentionError:
    return FeedRetentionError(
        f"feed {opts.feed!r} records [{start}, {end}) fell out of retention (the feed's "
        f"earliest offset is now {earliest}); they can no longer be replayed. Start the "
        f"query with a new checkpoint, or raise the producer's retention",
        start=start, end=end, earliest=earliest)


def _waited_too_long(opts: FeedOptions, exc: FeedUnavailable) -> FeedUnavailable:
    return FeedUnavailable(f"{exc}; the source waits about {opts.retry_seconds:.0f} s for a "
                           f"feed (raise the retrySeconds option to wait longer)")


class FeedStreamReader(DataSourceStreamReader, SupportsTriggerAvailableNow):
    """Reads ``[start, end)`` record ranges of one feed; see the module docstring."""

    def __init__(self, opts: FeedOptions) -> None:
        self.opts = opts
        self._target: int | None = None  # AvailableNow: do not read past this
        self._latest: int | None = None

    def initialOffset(self) -> dict[str, Any]:
        offsets = self.opts.offsets()
        return {"offset": offsets.latest if self.opts.starting == "latest" else offsets.earliest}

    def getDefaultReadLimit(self) -> ReadLimit:
        if self.opts.max_records_per_trigger > 0:
            return ReadMaxRows(self.opts.max_records_per_trigger)
        return ReadAllAvailable()

    def prepareForTriggerAvailableNow(self) -> None:
        self._target = self.opts.offsets().latest

    def latestOffset(self, start: dict[str, Any], limit: ReadLimit) -> dict[str, Any]:
        pos = int(start["offset"])
        offsets = self.opts.offsets()
        earliest, latest = offsets.earliest, offsets.latest
        self._latest = latest
        if pos < earliest:
            raise _retention_error(self.opts, pos, latest, earliest)
        end = latest if self._target is None else min(latest, self._target)
        if isinstance(limit, ReadMaxRows):
            end = min(end, pos + limit.max_rows)
        return {"offset": max(pos, end)}

    def reportLatestOffset(self) -> dict[str, Any] | None:
        return None if self._latest is None else {"offset": self._latest}

    def partitions(self, start: dict[str, Any], end: dict[str, Any]
                   ) -> Sequence[InputPartition]:
        return split_range(int(start["offset"]), int(end["offset"]),
                           self.opts.num_partitions, self.opts.min_partition_records)

    def read(self, partition: InputPartition) -> Iterator[Any]:
        import pyarrow as pa

        assert isinstance(partition, FeedRange)
        schema = pa.schema([("offset", pa.int64()), ("value", pa.string())])
        with self.opts.client() as feed:
            try:
                for page in feed.pages(partition.start, partition.end):
                    offsets = pa.array(range(page.start, page.end), type=pa.int64())
                    # Lines are UTF-8 JSON from the feed; Arrow validates them as strings.
                    values = pa.array(page.lines, type=pa.binary()).cast(pa.string())
                    yield pa.RecordBatch.from_arrays([offsets, values], schema=schema)
            except FeedRetentionError as exc:
                raise _retention_error(self.opts, partition.start, partition.end,
                                       exc.earliest) from None
            except FeedUnavailable as exc:
                raise _waited_too_long(self.opts, exc) from exc

    def commit(self, end: dict[str, Any]) -> None:
        # Retention is the producer's business; nothing to release here.
        return None


class FeedDataSource(DataSource):
    """``spark.readStream.format("streamwatch_feed")``: see the module docstring."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_NAME

    def schema(self) -> str:
        return SCHEMA

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        return FeedStreamReader(FeedOptions.parse(dict(self.options)))


def register(spark: Any) -> None:
    """Register ``streamwatch_feed`` with ``spark`` (idempotent)."""
    spark.dataSource.register(FeedDataSource)
