"""Trending hashtags per event-time sliding window, with VADER sentiment.

Key concepts:
- One streaming query reads, parses and deduplicates the input once: tweets
  are deduplicated by ``id`` within the watermark
  (``dropDuplicatesWithinWatermark``), so a tweet delivered twice counts once.
- Hashtags follow the rule in ``hashtags.rule``: pure-ASCII texts are parsed
  by JVM regex functions, other texts by the Python reference in an Arrow UDF
  (fed null for ASCII rows, so it costs almost nothing on them).
- The JVM aggregates per *pane* (``hashtags/panes.py``): a tumbling window of
  ``gcd(--window, --slide, --sentiment-window)`` per hashtag, plus a row per
  pane for all tweets, with ``--watermark``; output mode append, so each pane
  is emitted once, final. The 5-minute sliding trend windows and the 15-minute
  sentiment windows are sums of whole panes, assembled per batch from a
  durable pane store in the checkpoint, so a replayed batch emits exactly the
  same windows. Rank and top-N per window: count desc, then hashtag asc.
- Sentiment is the mean VADER compound score of the window's tweets carrying
  the tag (overall: of all the window's tweets). Each tweet is scored once,
  each distinct text once per worker; ``--sentiment-sample`` < 1 scores a
  deterministic sample (by tweet id) to go beyond VADER's ~12k texts/s per
  core, and 0 turns sentiment off. Counts are always exact.
- The hashtags queries use the in-memory (HDFS-backed) state store by default
  (``--state-store``): deduplication puts one key per tweet, and that costs
  about half of what RocksDB does (docs/benchmarks.md). Its state is the ids
  of one watermark delay of tweets. A checkpoint keeps the store it was created
  with.

Outputs (to ``--sink``; ``jsonl:DIR`` puts sentiment rows under ``DIR/sentiment``)::

    {"window_start": "2026-11-20T10:10:00Z", "window_end": "2026-11-20T10:15:00Z",
     "hashtag": "spark", "count": 42, "rank": 1, "sentiment": 0.31}
    {"window_start": "...", "window_end": "...", "tweets": 9120, "sentiment": 0.12}

(``sentiment`` is null when no tweet of the window was scored.)

and, with ``--exporter-url``, ``POST /v1/trends`` with
``{"trends": [...], "sentiment": [...]}`` (one of the two lists may be empty).

Usage::

    streamwatch process hashtags --source feed:http://127.0.0.1:7101/tweets \\
        --sink jsonl:/tmp/trends --exporter-url http://127.0.0.1:7104
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.streaming import StreamingQuery

    from streamwatch.processor.settings import HashtagsSettings

log = logging.getLogger(__name__)

SAMPLE_BUCKETS = 1_000_000
STATE_STORE_CONF = "spark.sql.streaming.stateStore.providerClass"
STATE_STORES = {
    "memory": "org.apache.spark.sql.execution.streaming.state.HDFSBackedStateStoreProvider",
    "rocksdb": "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider",
}




def _interval(seconds: float) -> str:
    return f"{round(seconds * 1000)} milliseconds"


def _validate(settings: HashtagsSettings) -> None:
    if settings.window <= 0 or settings.slide <= 0 or settings.slide > settings.window:
        raise ValueError(f"--window ({settings.window}s) and --slide ({settings.slide}s) must "
                         f"be > 0 with slide <= window, e.g. --window 5m --slide 1m")
    if settings.top < 1:
        raise ValueError(f"--top must be >= 1, got {settings.top}")
    if _pane_ms(settings) < 1000:
        raise ValueError(
            f"--window ({settings.window}s), --slide ({settings.slide}s) and --sentiment-window "
            f"({settings.sentiment_window}s) must share a divisor of at least 1s (the pane), "
            f"e.g. --window 5m --slide 1m --sentiment-window 15m")


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _pane_ms(settings: HashtagsSettings) -> int:
    from streamwatch.processor.hashtags.panes import pane_ms

    durations = [_ms(settings.window), _ms(settings.slide)]
    if settings.sentiment_window > 0:
        durations.append(_ms(settings.sentiment_window))
    return pane_ms(*durations)


def _sampled(fraction: float) -> Column:
    from pyspark.sql import functions as F

    if fraction >= 1.0:
        return F.lit(True)
    bucket = F.pmod(F.xxhash64("id"), F.lit(SAMPLE_BUCKETS))
    return bucket < F.lit(int(fraction * SAMPLE_BUCKETS))


def deduplicated_tweets(spark: Any, settings: HashtagsSettings) -> DataFrame:
    """Valid tweets with an event time, each id once within the watermark."""
    from pyspark.sql import functions as F

    from streamwatch.contracts.events import Tweet
    from streamwatch.processor.io.sources import read_stream
    from streamwatch.processor.jobs import dead_letter_dir, source_options

    tweets = read_stream(spark, settings.source, Tweet.DDL, options=source_options(settings),
                         dead_letter_dir=dead_letter_dir(settings),
                         trigger=settings.trigger)
    return (
        tweets.select("id", F.to_timestamp("created_at").alias("ts"), "text")
        .where(F.col("ts").isNotNull())
        .withWatermark("ts", _interval(settings.watermark))
        .dropDuplicatesWithinWatermark(["id"])
    )


def pane_counts(tweets: DataFrame, settings: HashtagsSettings) -> DataFrame:
    """(pane start ms, hashtag, count, s_sum, s_n) per pane: the streaming aggregation.

    Hashtag null is the row of all tweets of the pane (only with a sentiment window).
    """
    from pyspark.sql import functions as F

    from streamwatch.processor.hashtags.rule import (
        ascii_hashtags_column,
        hashtags_udf,
        is_ascii_column,
    )
    from streamwatch.processor.hashtags.sentiment import sentiment_udf

    text, ascii_text = F.col("text"), F.col("ascii")
    tweets = tweets.select("id", "ts", "text", is_ascii_column(text).alias("ascii"))
    tags = F.when(ascii_text, ascii_hashtags_column(text)).otherwise(
        hashtags_udf()(F.when(~ascii_text, text)))
    if settings.sentiment_window > 0:  # the all-tweets row
        tags = F.concat(tags, F.array(F.lit(None).cast("string")))
    tagged = tweets.select("id", "ts", "text", tags.alias("tags")).where(F.size("tags") > 0)
    if settings.sentiment_sample > 0:
        score = sentiment_udf()(F.when(_sampled(settings.sentiment_sample), F.col("text")))
    else:
        score = F.lit(None).cast("double")
    # scored before the explode: once per tweet, not once per tag
    scored = tagged.select("ts", "tags", score.alias("s"))
    rows = scored.select("ts", F.explode("tags").alias("hashtag"), "s")
    pane = F.window("ts", _interval(_pane_ms(settings) / 1000))
    return (
        rows.groupBy(pane.alias("pane"), "hashtag")
        .agg(F.count(F.lit(1)).alias("count"), F.sum("s").alias("s_sum"),
             F.count("s").alias("s_n"))
        .select(F.unix_millis("pane.start").alias("pane_start"), "hashtag", "count",
                F.coalesce("s_sum", F.lit(0.0)).alias("s_sum"), "s_n")
    )


class _ExporterPoster:
    """POST trends to the exporter; a live view, so failure is logged, never fatal."""

    def __init__(self, exporter_url: str | None) -> None:
        from streamwatch.processor.io.sinks import HttpSink

        self.http = None if not exporter_url else HttpSink(
            exporter_url.rstrip("/") + "/v1/trends", "trends", max_attempts=3, timeout=5.0)

    def post(self, trends: list[dict[str, Any]], sentiment: list[dict[str, Any]]) -> None:
        if self.http is None or not (trends or sentiment):
            return
        from streamwatch.processor.io.sinks import SinkError

        try:
            self.http.post({"trends": trends, "sentiment": sentiment})
        except SinkError as exc:
            log.warning("trends not delivered to the exporter", extra={"error": str(exc)})


def start(spark: Any, settings: HashtagsSettings) -> list[StreamingQuery]:
    from streamwatch.processor.hashtags.panes import PaneStore, sentiment_windows, trend_windows
    from streamwatch.processor.io.sinks import parse_sink
    from streamwatch.processor.jobs import apply_trigger, checkpoint_dir, session_conf

    _validate(settings)
    spec = parse_sink(settings.sink)
    exporter = _ExporterPoster(settings.exporter_url)
    trends_sink = spec.open("trends", label="trends")
    sentiment_sink = spec.open("sentiment", subdir="sentiment", label="sentiment")
    window, slide, top = _ms(settings.window), _ms(settings.slide), settings.top
    sentiment_window = _ms(settings.sentiment_window)
    store = PaneStore(Path(checkpoint_dir(settings, "panes")), pane_ms=_pane_ms(settings),
                      horizon_ms=max(window, sentiment_window))

    def write_windows(batch: DataFrame, batch_id: int) -> None:
        final = store.commit(batch_id, batch.collect())
        trends = trend_windows(final, window, slide, top)
        overall = sentiment_windows(final, sentiment_window) if sentiment_window else []
        if trends:
            trends_sink.write(batch_id, trends)
        if overall:
            sentiment_sink.write(batch_id, overall)
        exporter.post(trends, overall)

    writer = (
        pane_counts(deduplicated_tweets(spark, settings), settings)
        .writeStream.queryName("hashtags-trends").outputMode("append")
        # not "trends": checkpoints of the earlier sliding-window plan cannot be resumed
        .option("checkpointLocation", checkpoint_dir(settings, "pane-counts"))
        .foreachBatch(write_windows)
    )
    with session_conf(spark, {STATE_STORE_CONF: STATE_STORES[settings.state_store]}):
        return [apply_trigger(writer, settings.trigger).start()]
