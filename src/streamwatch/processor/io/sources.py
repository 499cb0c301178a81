"""Where a job's events come from: ``feed:``, ``kafka:``, ``file:`` and ``socket:`` specs.

Key concepts:
- ``feed:URL/FEED`` reads feed ``FEED`` of the producer at ``URL`` through the
  replayable feed data source (offsets in the checkpoint: exactly-once).
- ``kafka:HOST:PORT[,...]/TOPIC`` reads a Kafka topic through Spark's connector
  (offsets in the checkpoint: exactly-once); see ``streamwatch.processor.io.kafka``.
- ``file:PATH`` reads JSONL files (a file or a directory; new files in a
  directory are picked up), so recorded data replays through the same job.
- ``socket:HOST:PORT`` is Spark's socket source, for the course examples. It
  is NOT fault tolerant: lines in flight when the driver dies are lost.
- Every source yields raw lines; ``read_stream`` parses them with
  ``from_json`` against an event DDL (``Tweet.DDL``, ``Transaction.DDL``) in
  the JVM. A line that is not a JSON object of that shape, or lacks the
  first DDL field (the event id), is malformed: it never reaches the job,
  it is counted in the progress's ``observedMetrics`` (``corrupt_records``)
  and, given ``dead_letter_dir``, written there by a small side query (file and
  socket sources; a feed or a topic keeps the record at its offset, so it is not copied).

Usage::

    df = read_stream(spark, "feed:http://127.0.0.1:7101/tweets", Tweet.DDL,
                     dead_letter_dir="/tmp/dl")

Expected output: a streaming DataFrame with exactly the DDL's columns.
"""

from __future__ import annotations

import logging
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

CORRUPT_COLUMN = "_corrupt_record"
CORRUPT_METRIC = "corrupt"
SPEC_HELP = (
    "use feed:URL/FEED (e.g. feed:http://127.0.0.1:7101/tweets), "
    "kafka:HOST:PORT/TOPIC (e.g. kafka:127.0.0.1:9092/tweets), "
    "file:PATH (e.g. file:data/tweets.jsonl or file:data/) "
    "or socket:HOST:PORT (e.g. socket:127.0.0.1:7201)"
)


class SourceSpecError(ValueError):
    """A ``--source`` value that does not parse; the message shows a correct one."""


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # feed | kafka | file | socket
    url: str = ""
    bootstrap: str = ""
    topic: str = ""
    feed: str = ""
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.kind == "feed":
            return f"feed:{self.url}/{self.feed}"
        if self.kind == "kafka":
            return f"kafka:{self.bootstrap}/{self.topic}"
        if self.kind == "file":
            return f"file:{self.path}"
        return f"socket:{self.host}:{self.port}"


_FEED = re.compile(r"^(https?://[^/\s]+(?:/[^\s]*)?)/([A-Za-z0-9_.-]+)$")
_SOCKET = re.compile(r"^\[?([^\s\]]+?)\]?:(\d{1,5})$")


def parse_source(spec: str) -> SourceSpec:
    """Parse a ``--source`` value or raise ``SourceSpecError`` naming a valid one."""
    kind, sep, rest = (spec or "").partition(":")
    if not sep or not rest:
        raise SourceSpecError(f"--source {spec!r} is not a source spec; {SPEC_HELP}")
    if kind == "feed":
        m = _FEED.match(rest.rstrip("/") if rest.count("/") > 3 else rest)
        if not m:
            raise SourceSpecError(
                f"--source {spec!r}: a feed spec is feed:http://HOST:PORT/FEED, "
                f"e.g. feed:http://127.0.0.1:7102/transactions"
            )
        return SourceSpec("feed", url=m.group(1), feed=m.group(2))
    if kind == "kafka":
        from streamwatch.processor.io.kafka import KafkaConfigError, parse_kafka

        try:
            k = parse_kafka(rest)
        except KafkaConfigError as exc:
            raise SourceSpecError(str(exc)) from None
        return SourceSpec("kafka", bootstrap=k.bootstrap, topic=k.topic)
    if kind == "file":
        return SourceSpec("file", path=rest)
    if kind == "socket":
        m = _SOCKET.match(rest)
        if not m or not 0 < int(m.group(2)) <= 65535:
            raise SourceSpecError(
                f"--source {spec!r}: a socket spec is socket:HOST:PORT, "
                f"e.g. socket:127.0.0.1:7201"
            )
        return SourceSpec("socket", host=m.group(1), port=int(m.group(2)))
    raise SourceSpecError(f"--source {spec!r}: unknown kind {kind!r}; {SPEC_HELP}")


def read_lines(
    spark: SparkSession, spec: str | SourceSpec, *, options: dict[str, str] | None = None
) -> DataFrame:
    """The raw lines of a source as a streaming DataFrame with a ``value`` STRING column.

    ``options`` go to the underlying Spark source (e.g. ``maxRecordsPerTrigger``
    for feeds, ``maxFilesPerTrigger`` for files, ``streamwatch.processor.io.kafka.source_options``
    for topics).
    """
    src = spec if isinstance(spec, SourceSpec) else parse_source(spec)
    opts = dict(options or {})
    if src.kind == "feed":
        from streamwatch.processor.io import feed_source

        feed_source.register(spark)
        reader = spark.readStream.format(feed_source.SOURCE_NAME)
        reader = reader.option("url", src.url).option("feed", src.feed)
        return reader.options(**opts).load()
    if src.kind == "kafka":
        from streamwatch.processor.io.kafka import KafkaSpec
        from streamwatch.processor.io.kafka import source_options as kafka_options

        if "subscribe" not in opts:  # callers that pass only limits get the defaults
            opts = {**kafka_options(KafkaSpec(src.bootstrap, src.topic)), **opts}
        raw = spark.readStream.format("kafka").options(**opts).load()
        # Kafka values are bytes; the jobs parse UTF-8 JSON lines like every other source.
        return raw.selectExpr("CAST(value AS STRING) AS value")
    if src.kind == "file":
        path = Path(src.path)
        if not path.exists():
            raise SourceSpecError(
                f"--source file:{src.path}: no such file or directory; point it at a JSONL "
                f"file or a directory of them"
            )
        if path.is_dir():
            return spark.readStream.options(**opts).text(str(path))
        # A single file: watch its directory but only that name.
        reader = spark.readStream.options(**opts).option("pathGlobFilter", path.name)
        return reader.text(str(path.parent))
    reader = spark.readStream.format("socket").option("host", src.host)
    return reader.option("port", str(src.port)).load()


def read_stream(
    spark: SparkSession,
    spec: str,
    ddl: str,
    *,
    options: dict[str, str] | None = None,
    dead_letter_dir: str | None = None,
    trigger: str | None = None,
    malformed_column: str | None = None,
) -> DataFrame:
    """Parsed events of ``spec`` with exactly the columns of ``ddl``; see the module docstring.

    ``trigger`` (``1s``, ``available-now``) is the dead-letter query's trigger;
    pass the job's own so that an ``available-now`` run also ends it.

    ``malformed_column``: instead of a side query (which reads and parses the
    whole source a second time), malformed lines of file and socket sources
    stay in the stream, their raw line in this extra column (null on every
    parsed event), for a ``foreachBatch`` job to dead-letter with its batch.
    Feeds drop them as usual and the column is all null.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    src = parse_source(spec)
    lines = read_lines(spark, src, options=options)
    schema = StructType.fromDDL(ddl)
    if not isinstance(schema, StructType):  # a DDL of one bare type, not of fields
        raise ValueError(f"not a record DDL (name TYPE, ...): {ddl!r}")
    key = schema.fields[0].name
    with_corrupt = StructType([*schema.fields, StructField(CORRUPT_COLUMN, StringType())])
    parsed = lines.select(
        F.col("value"),
        F.from_json(
            "value", with_corrupt,
            {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT_COLUMN},
        ).alias("e"),
    )
    bad = F.col("e").isNull() | F.col(f"e.{CORRUPT_COLUMN}").isNotNull() | F.col(
        f"e.{key}").isNull()
    flagged = parsed.withColumn("_bad", bad).observe(
        CORRUPT_METRIC, F.sum(F.col("_bad").cast("long")).alias("corrupt_records"),
        F.count(F.lit(1)).alias("input_records"),
    )
    # A feed (or a topic) keeps every record at its offset, so a malformed one stays there to
    # be read again; a side query would read the whole feed a second time (a second Python
    # source runner per job) only to copy it. Files and sockets do not keep lines: those get one.
    fields = [F.col(f"e.{f.name}").alias(f.name) for f in schema.fields]
    kept = src.kind in ("feed", "kafka")
    if malformed_column is not None:
        if kept:
            return flagged.where(~F.col("_bad")).select(
                *fields, F.lit(None).cast("string").alias(malformed_column))
        return flagged.select(*fields, F.when(F.col("_bad"), F.col("value")).alias(
            malformed_column))
    if dead_letter_dir and not kept:
        _start_dead_letter(src, parsed.where(bad), dead_letter_dir, trigger or "1s")
    return flagged.where(~F.col("_bad")).select(*fields)


def _start_dead_letter(
    src: SourceSpec, bad_lines: DataFrame, dead_letter_dir: str, trigger: str
) -> None:
    """A side query that writes malformed lines as JSONL per batch id and logs their count.

    It reads the source a second time (Spark cannot fork one streaming scan
    into two sinks); malformed input is rare, so the cost is one more cheap
    read, and the main job never waits for it.
    """
    from pyspark.sql import functions as F

    from streamwatch.processor.io.sinks import JsonlSink
    from streamwatch.processor.jobs import apply_trigger

    sink = JsonlSink(dead_letter_dir, prefix="dead-letter")
    source_name = str(src)

    def write(batch: DataFrame, batch_id: int) -> None:
        rows = [
            {"source": source_name, "value": r["value"], "batch_id": batch_id}
            for r in batch.select("value").collect()
        ]
        if rows:
            sink.write(batch_id, rows)
            log.warning("malformed records dead-lettered",
                        extra={"source": source_name, "count": len(rows),
                               "batch_id": batch_id, "dir": dead_letter_dir})

    writer = (
        bad_lines.select(F.col("value"))
        .writeStream.queryName(f"dead-letter-{zlib.crc32(source_name.encode()):08x}")
        .option("checkpointLocation", str(Path(dead_letter_dir) / "_checkpoint"))
        .foreachBatch(write)
    )
    apply_trigger(writer, trigger).start()
