"""Trending hashtags per event-time sliding window, with VADER sentiment.

Key concepts:
- Tweets are deduplicated by ``id`` within the watermark
  (``dropDuplicatesWithinWatermark``), so a tweet delivered twice counts once.
- Hashtags follow the rule in ``hashtag_rule``: pure-ASCII texts are parsed
  by JVM regex functions, other texts by the Python reference in a pandas UDF
  (fed null for ASCII rows, so it costs almost nothing on them).
- ``count`` per (window, hashtag) is a JVM streaming aggregation over
  ``window(created_at, --window, --slide)`` with ``--watermark``; output mode
  append, so each window is emitted once, complete, when the watermark passes
  its end. Rank and top-N are computed per window on that final batch
  (``row_number`` by count desc, then hashtag asc for ties).
- Sentiment is the mean VADER compound score of the window's tweets carrying
  the tag. Only tweets with a hashtag are scored, each distinct text once;
  ``--sentiment-sample`` < 1 scores a deterministic sample (by tweet id) to
  go beyond VADER's ~12k texts/s per core. Counts are always exact.
- A second query computes the overall sentiment per ``--sentiment-window``.

Outputs (to ``--sink``; ``jsonl:DIR`` puts sentiment rows under ``DIR/sentiment``)::

    {"window_start": "2026-11-20T10:10:00Z", "window_end": "2026-11-20T10:15:00Z",
     "hashtag": "spark", "count": 42, "rank": 1, "sentiment": 0.31}
    {"window_start": "...", "window_end": "...", "tweets": 9120, "sentiment": 0.12}

and, with ``--exporter-url``, ``POST /v1/trends`` with
``{"trends": [...], "sentiment": [...]}`` (one of the two lists may be empty).

Usage::

    streamwatch process hashtags --source feed:http://127.0.0.1:7101/tweets \\
        --sink jsonl:/tmp/trends --exporter-url http://127.0.0.1:7104
"""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from streamwatch.flags import add_flag, duration_seconds, probability

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame
    from pyspark.sql.streaming import StreamingQuery

log = logging.getLogger(__name__)

TIME_FORMAT = "yyyy-MM-dd'T'HH:mm:ss'Z'"
SAMPLE_BUCKETS = 1_000_000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_flag(parser, "--window", type=duration_seconds, default=300.0,
             help="sliding window length (e.g. 5m)")
    add_flag(parser, "--slide", type=duration_seconds, default=60.0,
             help="slide between window starts (e.g. 1m)")
    add_flag(parser, "--watermark", type=duration_seconds, default=120.0,
             help="how late a tweet may arrive; a window is emitted this long after its end")
    add_flag(parser, "--top", type=int, default=10, help="hashtags kept per window")
    add_flag(parser, "--sentiment-window", type=duration_seconds, default=900.0,
             help="tumbling window of the overall sentiment (0 disables that query)")
    add_flag(parser, "--sentiment-sample", type=probability, default=1.0,
             help="fraction of tweets scored with VADER (deterministic by id); 1 = all")


def _interval(seconds: float) -> str:
    return f"{round(seconds * 1000)} milliseconds"


def _validate(args: argparse.Namespace) -> None:
    if args.window <= 0 or args.slide <= 0 or args.slide > args.window:
        raise ValueError(f"--window ({args.window}s) and --slide ({args.slide}s) must be > 0 "
                         f"with slide <= window, e.g. --window 5m --slide 1m")
    if args.top < 1:
        raise ValueError(f"--top must be >= 1, got {args.top}")


def _sampled(fraction: float) -> Column:
    from pyspark.sql import functions as F

    if fraction >= 1.0:
        return F.lit(True)
    bucket = F.pmod(F.xxhash64("id"), F.lit(SAMPLE_BUCKETS))
    return bucket < F.lit(int(fraction * SAMPLE_BUCKETS))


def deduplicated_tweets(spark: Any, args: argparse.Namespace, *, dead_letter: bool) -> DataFrame:
    """Valid tweets with an event time, each id once within the watermark."""
    from pyspark.sql import functions as F

    from streamwatch.events import Tweet
    from streamwatch_processor.jobs import dead_letter_dir, source_options
    from streamwatch_processor.sources import read_stream

    tweets = read_stream(spark, args.source, Tweet.DDL, options=source_options(args),
                         dead_letter_dir=dead_letter_dir(args) if dead_letter else None,
                         trigger=args.trigger)
    return (
        tweets.select("id", F.to_timestamp("created_at").alias("ts"), "text")
        .where(F.col("ts").isNotNull())
        .withWatermark("ts", _interval(args.watermark))
        .dropDuplicatesWithinWatermark(["id"])
    )


def trend_counts(tweets: DataFrame, args: argparse.Namespace) -> DataFrame:
    """(window, hashtag, count, sentiment) per sliding window: the streaming aggregation."""
    from pyspark.sql import functions as F

    from streamwatch_processor.hashtag_rule import (
        JAVA_NON_ASCII,
        ascii_hashtags_column,
        hashtags_udf,
    )
    from streamwatch_processor.sentiment import sentiment_udf

    non_ascii = F.col("text").rlike(JAVA_NON_ASCII)
    tagged = tweets.select(
        "id", "ts", "text",
        F.when(non_ascii, hashtags_udf()(F.when(non_ascii, F.col("text"))))
        .otherwise(ascii_hashtags_column(F.col("text"))).alias("tags"),
    ).where(F.size("tags") > 0)
    scored = tagged.select(
        "ts", "tags",
        sentiment_udf()(F.when(_sampled(args.sentiment_sample), F.col("text"))).alias("s"),
    )
    return (
        scored.select("ts", F.explode("tags").alias("hashtag"), "s")
        .groupBy(F.window("ts", _interval(args.window), _interval(args.slide)), "hashtag")
        .agg(F.count(F.lit(1)).alias("count"), F.avg("s").alias("sentiment"))
    )


def top_n(batch: DataFrame, top: int) -> DataFrame:
    """Rank hashtags within each window of a (final) batch and keep the first ``top``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    by_window = Window.partitionBy("window").orderBy(F.desc("count"), F.asc("hashtag"))
    return (
        batch.withColumn("rank", F.row_number().over(by_window))
        .where(F.col("rank") <= top)
        .select(
            F.date_format("window.start", TIME_FORMAT).alias("window_start"),
            F.date_format("window.end", TIME_FORMAT).alias("window_end"),
            "hashtag", "count", "rank",
            F.round("sentiment", 4).alias("sentiment"),
        )
        .orderBy("window_start", "rank")
    )


def overall_sentiment(tweets: DataFrame, args: argparse.Namespace) -> DataFrame:
    from pyspark.sql import functions as F

    from streamwatch_processor.sentiment import sentiment_udf

    scored = tweets.select(
        "ts", sentiment_udf()(F.when(_sampled(args.sentiment_sample), F.col("text"))).alias("s"))
    return (
        scored.groupBy(F.window("ts", _interval(args.sentiment_window)))
        .agg(F.count(F.lit(1)).alias("tweets"), F.avg("s").alias("sentiment"))
        .select(
            F.date_format("window.start", TIME_FORMAT).alias("window_start"),
            F.date_format("window.end", TIME_FORMAT).alias("window_end"),
            "tweets", F.round("sentiment", 4).alias("sentiment"),
        )
    )


class _ExporterPoster:
    """POST trends to the exporter; a live view, so failure is logged, never fatal."""

    def __init__(self, exporter_url: str | None) -> None:
        from streamwatch_processor.sinks import HttpSink

        self.http = None if not exporter_url else HttpSink(
            exporter_url.rstrip("/") + "/v1/trends", "trends", max_attempts=3, timeout=5.0)

    def post(self, trends: list[dict[str, Any]], sentiment: list[dict[str, Any]]) -> None:
        if self.http is None or not (trends or sentiment):
            return
        from streamwatch_processor.sinks import SinkError

        try:
            self.http.post({"trends": trends, "sentiment": sentiment})
        except SinkError as exc:
            log.warning("trends not delivered to the exporter", extra={"error": str(exc)})


def start(spark: Any, args: argparse.Namespace) -> list[StreamingQuery]:
    from streamwatch_processor.jobs import apply_trigger, checkpoint_dir
    from streamwatch_processor.sinks import collect_rows, parse_sink

    _validate(args)
    spec = parse_sink(args.sink)
    exporter = _ExporterPoster(args.exporter_url)
    trends_sink = spec.open("trends", label="trends")
    top = args.top

    def write_trends(batch: DataFrame, batch_id: int) -> None:
        rows = collect_rows(top_n(batch, top))
        if rows:
            trends_sink.write(batch_id, rows)
            exporter.post(rows, [])

    writer = (
        trend_counts(deduplicated_tweets(spark, args, dead_letter=True), args)
        .writeStream.queryName("hashtags-trends").outputMode("append")
        .option("checkpointLocation", checkpoint_dir(args, "trends"))
        .foreachBatch(write_trends)
    )
    queries = [apply_trigger(writer, args.trigger).start()]

    if args.sentiment_window > 0:
        sentiment_sink = spec.open("sentiment", subdir="sentiment", label="sentiment")

        def write_sentiment(batch: DataFrame, batch_id: int) -> None:
            rows = collect_rows(batch.orderBy("window_start"))
            if rows:
                sentiment_sink.write(batch_id, rows)
                exporter.post([], rows)

        writer = (
            overall_sentiment(deduplicated_tweets(spark, args, dead_letter=False), args)
            .writeStream.queryName("hashtags-sentiment").outputMode("append")
            .option("checkpointLocation", checkpoint_dir(args, "sentiment"))
            .foreachBatch(write_sentiment)
        )
        queries.append(apply_trigger(writer, args.trigger).start())
    return queries
