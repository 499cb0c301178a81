"""The orders job's work in the JVM: sort a batch's events, keep them, count final minutes.

Key concepts:
- **One pass over a batch.** :func:`write_batch` judges every event of a
  micro-batch in Spark SQL (``reason``: null for an on-time event, else why
  it is not counted: invalid, or late against the final minute the batch
  began with) and writes the batch once, as Parquet, to its own directory
  under the checkpoint: on-time events slim (what counting needs), the few
  uncounted ones with their whole event for the dead letter. An
  ``Observation`` on that write gives the driver the batch's figures (newest
  event time, minute range, counts) without a second pass. Handing every
  event to Python (``toArrow``) cost as much as parsing it; now only the
  uncounted events and the final counts reach Python.
- **Final minutes from the kept files.** :func:`final_counts` reads the
  on-time events of the minutes that became final back from the batches'
  files, keeps each ``event_id`` once, and aggregates per minute, status
  and region, per minute, status and category, and the exact
  time-since-purchase percentiles (``percentile`` is exact, linear
  interpolation, as numpy's default), all in one Spark job.

Usage::

    figures = write_batch(batch_df, final_in=..., path="ck/minutes/7.parquet")
    counts = final_counts(spark, kept_paths, purchase_paths, lo=..., hi=..., oldest=...)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from streamwatch.contracts.events import AFTER_PURCHASE, ORDER_STATUSES

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

MINUTE_MS = 60_000
LATE = "late: its minute was final before this batch"
QUANTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}
#: the columns of a kept batch file (``reason`` null: on-time, counted when final)
KEPT_DDL = ("event_id STRING, order_id STRING, status STRING, region STRING, ts BIGINT, "
            "minute BIGINT, units BIGINT, "
            "items ARRAY<STRUCT<category: STRING, quantity: INT>>, reason STRING, "
            "row BIGINT, event_time STRING, "
            "event_items ARRAY<STRUCT<sku: STRING, category: STRING, quantity: INT, "
            "unit_price: STRING>>")
#: kinds of :class:`Counts` rows
_REGION, _CATEGORY, _TIMED = 0, 1, 2


@dataclass
class BatchFigures:
    """What the write of one batch observed."""

    on_time: int
    late: int
    invalid: int
    newest: int | None  # latest on-time event time (ms)
    min_minute: int | None
    max_minute: int | None
    max_purchase: int | None  # latest on-time purchase (ms)


@dataclass
class Counts:
    """Final minutes' aggregates, each event_id once."""

    #: (minute, status, region) -> (events, units)
    regions: dict[tuple[int, str, str], tuple[int, int]]
    #: (minute, status, category) -> (events with an item of it, their units of it)
    categories: dict[tuple[int, str, str], tuple[int, int]]
    #: (minute, status) -> {"p50", "p90", "p99" (seconds), "n"}
    timed: dict[tuple[int, str], dict[str, float | int]]


def _reason(final_in: int | None) -> Column:
    """Why an event is not counted (the first failed check), null when it is on time."""
    from pyspark.sql import functions as F

    items = F.col("items")
    bad_item = F.exists(items, lambda i: i["category"].isNull() | F.coalesce(
        i["quantity"] < 1, F.lit(True)))
    reason = (
        F.when(F.col("ts").isNull(), "event_time: not an RFC 3339 timestamp")
        .when(~F.coalesce(F.col("status").isin(*ORDER_STATUSES), F.lit(False)),
              f"status: not one of {list(ORDER_STATUSES)}")
        .when(F.col("order_id").isNull(), "order_id: missing")
        .when(F.col("region").isNull(), "region: missing")
        .when(F.coalesce(F.size(items) <= 0, F.lit(True)), "items: missing or empty")
        .when(bad_item, "items: every item needs a category and a quantity >= 1"))
    if final_in is not None:
        reason = reason.when(F.col("ts") < final_in, LATE)
    return reason


def write_batch(batch: DataFrame, *, final_in: int | None, path: str) -> BatchFigures:
    """Write ``batch`` (columns of ``job.order_events``) to ``path``; see the module doc."""
    from pyspark.sql import Observation
    from pyspark.sql import functions as F

    judged = batch.withColumn("reason", _reason(final_in))
    ok = F.col("reason").isNull()
    bad = ~ok
    ts = F.col("ts")
    minute = ts - F.pmod(ts, F.lit(MINUTE_MS))
    kept = judged.select(
        "event_id", "order_id", "status", "region", ts.cast("bigint").alias("ts"),
        F.when(ok, minute).alias("minute"),
        F.when(ok, F.aggregate("items", F.lit(0).cast("bigint"),
                               lambda acc, i: acc + i["quantity"])).alias("units"),
        F.when(ok, F.transform("items", lambda i: F.struct(
            i["category"].alias("category"), i["quantity"].alias("quantity")))).alias("items"),
        "reason",
        # the uncounted events go to the dead letter whole, in their order in the batch
        F.when(bad, F.monotonically_increasing_id()).alias("row"),
        F.when(bad, F.col("event_time")).alias("event_time"),
        F.when(bad, F.col("items")).alias("event_items"))
    late = F.col("reason") == F.lit(LATE)
    observation = Observation("orders-batch")
    observed = kept.observe(
        observation,
        F.count_if(ok).alias("on_time"),
        F.count_if(F.coalesce(late, F.lit(False))).alias("late"),
        F.count_if(bad & ~F.coalesce(late, F.lit(False))).alias("invalid"),
        F.max(F.when(ok, ts)).alias("newest"),
        F.min("minute").alias("min_minute"),
        F.max("minute").alias("max_minute"),
        F.max(F.when(ok & (F.col("status") == "purchased"), ts)).alias("max_purchase"))
    observed.write.mode("overwrite").parquet(path)
    got = observation.get

    def value(name: str) -> int | None:
        return None if got.get(name) is None else int(got[name])

    return BatchFigures(int(got["on_time"]), int(got["late"]), int(got["invalid"]),
                        value("newest"), value("min_minute"), value("max_minute"),
                        value("max_purchase"))


def _read(spark: SparkSession, paths: list[str]) -> DataFrame:
    return spark.read.schema(KEPT_DDL).parquet(*paths)


def final_counts(spark: SparkSession, kept: list[str], purchases: list[str], *,
                 lo: int | None, hi: int, oldest: int) -> Counts:
    """Aggregates of the on-time events in ``kept`` of minutes in ``[lo, hi)``, each
    event_id once; time since purchase against the on-time purchases in ``purchases``
    at or after ``oldest`` (the earliest purchase per order)."""
    from pyspark.sql import functions as F

    events = _read(spark, kept).where(F.col("reason").isNull() & (F.col("minute") < hi))
    if lo is not None:
        events = events.where(F.col("minute") >= lo)
    # resends carry the original's bytes: any copy of an event_id counts the same
    final = events.select("event_id", "order_id", "status", "region", "ts", "minute",
                          "units", "items").dropDuplicates(["event_id"])
    none_d, none_s = F.lit(None).cast("array<double>"), F.lit(None).cast("string")
    regions = final.groupBy("minute", "status", "region").agg(
        F.count(F.lit(1)).alias("orders"), F.sum("units").alias("units")).select(
        F.lit(_REGION).alias("kind"), "minute", "status", F.col("region").alias("key"),
        "orders", "units", none_d.alias("q"))
    # an event with two items of one category is one event of it
    per_event = final.select("event_id", "minute", "status", F.explode("items").alias(
        "i")).groupBy("event_id", "minute", "status", F.col("i.category").alias(
            "category")).agg(F.sum("i.quantity").alias("units"))
    categories = per_event.groupBy("minute", "status", "category").agg(
        F.count(F.lit(1)).alias("orders"), F.sum("units").alias("units")).select(
        F.lit(_CATEGORY).alias("kind"), "minute", "status", F.col("category").alias("key"),
        "orders", F.col("units").cast("bigint").alias("units"), none_d.alias("q"))
    parts = [regions, categories]
    if purchases:
        bought = _read(spark, purchases).where(
            F.col("reason").isNull() & (F.col("status") == "purchased")
            & (F.col("ts") >= oldest)).groupBy("order_id").agg(
            F.min("ts").alias("purchased"))
        later = final.where(F.col("status").isin(*AFTER_PURCHASE)).select(
            "order_id", "status", "minute", "ts")
        joined = later.join(bought, "order_id").where(F.col("ts") >= F.col("purchased"))
        secs = (F.col("ts") - F.col("purchased")) / F.lit(1000.0)
        timed = joined.groupBy("minute", "status").agg(
            F.count(F.lit(1)).alias("orders"),
            F.percentile(secs, F.array(*[F.lit(q) for q in QUANTILES.values()])).alias("q"))
        parts.append(timed.select(F.lit(_TIMED).alias("kind"), "minute", "status",
                                  none_s.alias("key"), "orders",
                                  F.lit(None).cast("bigint").alias("units"), "q"))
    out = parts[0]
    for part in parts[1:]:
        out = out.unionByName(part)
    counts = Counts({}, {}, {})
    for kind, minute, status, key, orders, units, q in out.collect():
        if kind == _REGION:
            counts.regions[(minute, status, key)] = (orders, units)
        elif kind == _CATEGORY:
            counts.categories[(minute, status, key)] = (orders, units)
        else:
            counts.timed[(minute, status)] = {
                **{name: round(float(v), 3) for name, v in zip(QUANTILES, q, strict=True)},
                "n": orders}
    return counts
