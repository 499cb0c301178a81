"""The classic Structured Streaming word count, over a producer's TCP line socket.

Key concepts:
- The line socket of a producer (tweet-ingester: 127.0.0.1:7201) sends one
  JSON tweet per line; a line that is a JSON object with a ``text`` field
  counts the words of that text, any other line counts its own words.
- Words are split on whitespace and lower-cased; the running count per word
  is a JVM streaming aggregation, written in ``complete`` (whole table each
  trigger) or ``update`` (changed words only) mode.
- Spark's socket source is NOT fault tolerant: lines in flight are lost when
  the driver dies. Use a ``feed:`` source for exactly-once.

Usage::

    streamwatch process wordcount --source socket:127.0.0.1:7201 --sink console

Expected output (console sink, complete mode)::

    --- wordcount batch 3: 3 rows
    {"word": "spark", "count": 12}
    {"word": "#streaming", "count": 7}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame
    from pyspark.sql.streaming import StreamingQuery

    from streamwatch.processor.settings import WordcountSettings




def word_counts(lines: DataFrame) -> DataFrame:
    """Running count per word of a ``value`` column of lines."""
    from pyspark.sql import functions as F

    text = F.coalesce(
        F.when(F.col("value").startswith("{"), F.get_json_object("value", "$.text")),
        F.col("value"),
    )
    words = F.explode(F.split(F.lower(F.trim(text)), r"\s+")).alias("word")
    return lines.select(words).where(F.col("word") != "").groupBy("word").count()


def start(spark: Any, settings: WordcountSettings) -> list[StreamingQuery]:
    from pyspark.sql import functions as F

    from streamwatch.processor.io.sinks import parse_sink
    from streamwatch.processor.io.sources import read_lines
    from streamwatch.processor.jobs import apply_trigger, checkpoint_dir, source_options

    sink = parse_sink(settings.sink).open("words", label="wordcount")
    counts = word_counts(read_lines(spark, settings.source, options=source_options(settings)))

    def write(batch: DataFrame, batch_id: int) -> None:
        ordered = batch.orderBy(F.desc("count"), "word")
        sink.write(batch_id, [r.asDict() for r in ordered.collect()])

    writer = (
        counts.writeStream.queryName("wordcount").outputMode(settings.output_mode)
        .option("checkpointLocation", checkpoint_dir(settings, "wordcount"))
        .foreachBatch(write)
    )
    return [apply_trigger(writer, settings.trigger).start()]
