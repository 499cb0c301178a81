"""Orders per event-time minute and status: purchased, shipped, delivered, ... every minute.

Key concepts:
- The JVM reads the ``orders`` feed (or a file, or a socket), parses each line
  with ``from_json`` against ``OrderEvent.DDL`` and projects the event time to
  epoch milliseconds (``try_to_timestamp``: a bad time becomes null, not a
  failed batch). Each micro-batch then goes to the driver as one Arrow table.
- ``orders.minutes.MinuteStore`` does the rest per batch, vectorised:
  late events (their minute was final before the batch) are set aside for the
  dead-letter folder and the ``late`` count, the others wait in their minute
  until the watermark (``--watermark``, default 1 min) passes it; a final
  minute's distinct ``event_id`` s are counted per status, category and region,
  with exact time-since-purchase percentiles. Its state is kept per batch
  under the checkpoint, so a batch Spark replays emits exactly what its first
  attempt did (docs/architecture.md, "Orders per minute", says why this is
  not ``dropDuplicatesWithinWatermark`` + a windowed aggregation).
- Outputs, all per batch id so a replay overwrites instead of adding: rows to
  ``--sink``; late and invalid events to ``<dead-letter>/late-<batch>.jsonl``;
  malformed lines (file and socket sources) to ``dead-letter-<batch>.jsonl``
  from the job's own batch, not a side query that would parse the input twice;
  the rows and the running late count to the exporter's ``POST /v1/orders``;
  the observed metric ``orders`` (``events``, in every progress event) and the
  job's figures in the log.

Output (one row per final minute and status, then per category and region)::

    {"minute_start": "2026-11-20T10:15:00Z", "minute_end": "2026-11-20T10:16:00Z",
     "status": "shipped", "category": null, "region": null, "orders": 120, "units": 311,
     "since_purchase_s": {"p50": 21.4, "p90": 40.2, "p99": 58.0, "n": 117}}

Usage::

    streamwatch process orders --source feed:http://127.0.0.1:7105/orders \\
        --sink jsonl:/tmp/orders --exporter-url http://127.0.0.1:7104
    streamwatch process orders --source file:orders.jsonl --trigger available-now \\
        --sink jsonl:/tmp/orders --checkpoint /tmp/ck-orders
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import StreamingQuery

    from streamwatch.processor.settings import OrdersSettings

log = logging.getLogger(__name__)

QUERY_NAME = "orders-minutes"
METRICS_NAME = "orders"
STORE_DIR = "minutes"
MALFORMED = "_malformed"




def _validate(settings: OrdersSettings) -> None:
    if settings.watermark < 0:
        raise ValueError(f"--watermark must be >= 0, got {settings.watermark:g}s")
    if settings.lifecycle_horizon < 60:
        raise ValueError(f"--lifecycle-horizon {settings.lifecycle_horizon:g}s is too short to "
                         "time any shipment; use at least 1m (default 1h)")


def order_events(spark: Any, settings: OrdersSettings) -> DataFrame:
    """Parsed order events with ``ts`` (epoch ms, null when the time does not parse), and
    malformed lines with their raw line in ``MALFORMED`` (null on parsed events)."""
    from pyspark.sql import functions as F

    from streamwatch.contracts.events import OrderEvent
    from streamwatch.processor.io.sources import read_stream
    from streamwatch.processor.jobs import dead_letter_dir, source_options

    # malformed lines ride in the batch (MALFORMED) instead of a side query that would
    # read and parse the whole source a second time on the same cores
    events = read_stream(spark, settings.source, OrderEvent.DDL, options=source_options(settings),
                         dead_letter_dir=dead_letter_dir(settings), trigger=settings.trigger,
                         malformed_column=MALFORMED)
    ts = F.unix_millis(F.try_to_timestamp("event_time"))
    return events.select("event_id", "order_id", "status", "event_time", "region",
                         ts.alias("ts"), "items", MALFORMED).observe(
        METRICS_NAME, F.count_if(F.col(MALFORMED).isNull()).alias("events"))


class _MalformedLines:
    """Dead-letters a batch's malformed lines as the source's side query would
    (``dead-letter-<batch>.jsonl``: ``source``, ``value``, ``batch_id``)."""

    def __init__(self, source: str, sink: Any) -> None:
        from streamwatch.processor.io.sources import parse_source

        self.source = str(parse_source(source))
        self.sink = sink

    def split(self, batch_id: int, table: Any) -> Any:
        """``table`` without the malformed lines and without the ``MALFORMED`` column."""
        import pyarrow.compute as pc

        bad = pc.is_valid(table[MALFORMED])
        if pc.any(bad).as_py():
            lines = table.filter(bad)[MALFORMED].to_pylist()
            self.sink.write(batch_id, [{"source": self.source, "value": v, "batch_id": batch_id}
                                       for v in lines])
            log.warning("malformed records dead-lettered", extra={
                "source": self.source, "count": len(lines), "batch_id": batch_id,
                "dir": str(self.sink.directory)})
            table = table.filter(pc.invert(bad))
        return table.drop_columns([MALFORMED])


class _ExporterPoster:
    """POST final rows to the exporter; a live view, so failure is logged, never fatal."""

    def __init__(self, exporter_url: str | None) -> None:
        from streamwatch.processor.io.sinks import HttpSink

        self.http = None if not exporter_url else HttpSink(
            exporter_url.rstrip("/") + "/v1/orders", "orders", max_attempts=3, timeout=5.0)

    def post(self, rows: list[dict[str, Any]], late_total: int) -> None:
        if self.http is None:
            return
        from streamwatch.processor.io.sinks import SinkError

        try:
            for i in range(0, max(1, len(rows)), 5000):
                self.http.post({"orders": rows[i:i + 5000], "late_events_total": late_total})
        except SinkError as exc:
            log.warning("orders not delivered to the exporter", extra={"error": str(exc)})


def start(spark: Any, settings: OrdersSettings) -> list[StreamingQuery]:
    from streamwatch.processor.io.sinks import JsonlSink, parse_sink
    from streamwatch.processor.jobs import (
        apply_trigger,
        checkpoint_dir,
        dead_letter_dir,
    )
    from streamwatch.processor.orders.minutes import MinuteStore

    _validate(settings)
    sink = parse_sink(settings.sink).open("orders", label="orders")
    dead_letter = JsonlSink(dead_letter_dir(settings), prefix="late")
    malformed = _MalformedLines(settings.source, JsonlSink(dead_letter_dir(settings),
                                                       prefix="dead-letter"))
    exporter = _ExporterPoster(settings.exporter_url)
    store = MinuteStore(Path(checkpoint_dir(settings, STORE_DIR)),
                        delay_ms=round(settings.watermark * 1000),
                        horizon_ms=round(settings.lifecycle_horizon * 1000))
    posted_late = [-1]

    def write_minutes(batch: DataFrame, batch_id: int) -> None:
        events = malformed.split(batch_id, batch.toArrow())
        out = store.commit(batch_id, events)
        uncounted = out.late + out.invalid
        if uncounted:
            dead_letter.write(batch_id, uncounted)
            log.warning("order events not counted (dead-lettered)", extra={
                "batch_id": batch_id, "late": len(out.late), "invalid": len(out.invalid),
                "late_total": store.late_total, "dir": str(dead_letter.directory)})
        if out.rows:
            sink.write(batch_id, out.rows)
        if out.rows or store.late_total != posted_late[0]:
            exporter.post(out.rows, store.late_total)
            posted_late[0] = store.late_total

    writer = (order_events(spark, settings)
              .writeStream.queryName(QUERY_NAME).outputMode("append")
              .option("checkpointLocation", checkpoint_dir(settings, "query"))
              .foreachBatch(write_minutes))
    return [apply_trigger(writer, settings.trigger).start()]
