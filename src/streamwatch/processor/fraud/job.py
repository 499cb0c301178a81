"""Stateful fraud rules over card transactions -> alerts.

Key concepts:
- Transactions are grouped by a bounded bucket of cards and handled by
  ``fraud.processor.FraudProcessor`` (``transformWithStateInPandas``); each
  bucket keeps its cards' profiles, and detection is vectorised per bucket.
- Rules come from a YAML file (``--rules``, default: the packaged
  ``fraud/rules.yaml``; ``docs/fraud-rules.md``). The driver re-reads it every
  ``--rules-poll`` seconds and at each micro-batch end, and publishes the
  active rules to ``--rules-publish-dir`` where every executor reads them at
  its next task: the next micro-batch uses an edited file. An invalid edit
  keeps the previous rules, is logged, and counted in the observed metric.
- Observed metrics ``fraud`` in every progress event: ``alerts``,
  ``rules_version``, ``rules_reload_errors_total``, ``cards_in_state`` (cards
  kept by the buckets that saw data in the batch), ``recent_rows``.
- Alerts carry ``alert_id = sha256(rule|card_id|first txn_id)`` and do not
  depend on micro-batch boundaries, so a replay after a crash yields the same
  ids and the idempotent alerting sink stores each once.

Usage::

    streamwatch process fraud --source feed:http://127.0.0.1:7102/transactions \\
        --sink http:http://127.0.0.1:7103/v1/alerts --checkpoint /tmp/ck-fraud
    streamwatch process fraud --source file:txns.jsonl --trigger available-now \\
        --sink jsonl:/tmp/alerts --checkpoint /tmp/ck

Output: one alert object per line/element, e.g.::

    {"alert_id": "3f1c...", "rule": "card_testing", "severity": "high", "score": 0.75,
     "card_id": "c-004211", "txn_ids": ["t-000000101", "t-000000102", "t-000000103"],
     "event_time": "2026-11-20T10:15:03.120Z", "detected_at": "2026-11-20T10:15:04.020Z",
     "reason": "3 transactions at or under 1.99 USD in 60 s"}
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamwatch.processor.fraud.buckets import QUERY_DIR

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from streamwatch.processor.fraud.rules import RulesWatcher
    from streamwatch.processor.settings import FraudSettings

log = logging.getLogger(__name__)

QUERY_NAME = "fraud-alerts"
METRICS_NAME = "fraud"



def _validate(settings: FraudSettings) -> None:
    if settings.state_ttl < 60:
        raise ValueError(f"--state-ttl {settings.state_ttl:g}s is too short: rules look back up "
                         "to an hour; use at least 60s (default 2h)")
    if settings.rules_poll <= 0:
        raise ValueError("--rules-poll must be > 0, e.g. 1s")


def _bucket_count(settings: FraudSettings) -> int:
    if settings.buckets is None:  # start() resolves it from the checkpoint before planning
        raise ValueError("the fraud job's card bucket count is unresolved; use start()")
    return settings.buckets


def start_rules_watcher(settings: FraudSettings) -> RulesWatcher:
    """Load the rules (failing loudly if invalid) and publish them for the executors."""
    from streamwatch.processor.fraud.rules import RulesWatcher, default_rules_path

    path = Path(settings.rules) if settings.rules else default_rules_path()
    publish = Path(settings.rules_publish_dir or Path(settings.checkpoint_path) / "rules")
    return RulesWatcher(path=path, publish_dir=publish)


def transactions(spark: SparkSession, settings: FraudSettings) -> DataFrame:
    """Parsed transactions with the detector's columns plus ``bucket``."""
    from pyspark.sql import functions as F

    from streamwatch.contracts.events import Transaction
    from streamwatch.processor.io.sources import read_stream
    from streamwatch.processor.jobs import source_options

    # The dead-letter side query is started later (start_dead_letter_when_running):
    # started together with this one, it makes the stateful operator's pre-init
    # Python worker time out ("Python worker failed to connect back").
    raw = read_stream(spark, settings.source, Transaction.DDL, options=source_options(settings))
    # hashes are computed in the JVM so that the Python side joins integers, not strings
    card = F.xxhash64("card_id")
    return raw.select(
        "txn_id", card.alias("card"), "card_id",
        F.unix_millis(F.to_timestamp("event_time")).alias("ts"),
        F.col("amount").cast("double").alias("amount"), "merchant_category",
        F.col("channel").isin("pos", "atm").alias("present"), "lat", "lon", "country",
        F.xxhash64("country").alias("country_h"), "device_id",
        F.when(F.col("device_id").isNull(), F.lit(0)).otherwise(F.xxhash64("device_id"))
        .alias("device_h"),
        F.pmod(card, F.lit(_bucket_count(settings))).cast("int").alias("bucket"),
    ).where(F.col("ts").isNotNull() & F.col("amount").isNotNull())


def alerts_with_stats(txns: DataFrame, watcher: RulesWatcher, settings: FraudSettings
                      ) -> DataFrame:
    """The processor's output (alerts + per-bucket stats rows), observed as ``fraud``."""
    from pyspark.sql import functions as F

    from streamwatch.processor.fraud.processor import OUTPUT_SCHEMA, FraudProcessor

    processor = FraudProcessor(
        rules_dir=str(watcher.publish_dir), buckets=_bucket_count(settings),
        ttl_ms=int(settings.state_ttl * 1000), initial=watcher.rules.to_json())
    out = txns.groupBy("bucket").transformWithStateInPandas(
        statefulProcessor=processor, outputStructType=OUTPUT_SCHEMA,
        outputMode="Append", timeMode="None")
    is_alert = (F.col("kind") == "alert").cast("long")
    return out.observe(
        METRICS_NAME,
        F.coalesce(F.sum(is_alert), F.lit(0)).alias("alerts"),
        F.max("rules_version").alias("rules_version"),
        F.max("rules_reload_errors").alias("rules_reload_errors_total"),
        F.sum("cards_in_state").alias("cards_in_state"),
        F.sum("recent_rows").alias("recent_rows"),
    )


def alert_rows(batch: DataFrame) -> list[dict[str, Any]]:
    """The alert rows of a processor batch as dicts in the alert schema, sorted by id."""
    from pyspark.sql import functions as F

    from streamwatch.processor.fraud.processor import ALERT_FIELDS
    from streamwatch.processor.io.sinks import collect_rows

    alerts = batch.where(F.col("kind") == "alert").select(*ALERT_FIELDS)
    return sorted(collect_rows(alerts), key=lambda r: r["alert_id"])


def split_future(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Alerts whose transaction is stamped further ahead of the detector's clock than
    ``DETECTION_CLOCK_SKEW``, apart from the rest.

    The alerting service refuses such an alert (its ``detected_at`` cannot be right for
    both clocks), and a refused batch would stop the query at every retry; so these are
    kept in the dead-letter directory and logged instead (a producer's clock is wrong).
    """
    from streamwatch.contracts.events import DETECTION_CLOCK_SKEW, parse_ts

    ok: list[dict[str, Any]] = []
    future: list[dict[str, Any]] = []
    for row in rows:
        ahead = parse_ts(row["event_time"]) - parse_ts(row["detected_at"])
        (future if ahead > DETECTION_CLOCK_SKEW else ok).append(row)
    return ok, future


def start_dead_letter_when_running(spark: SparkSession, settings: FraudSettings,
                                   query: StreamingQuery) -> None:
    """Start the source's dead-letter query once the fraud query has planned its first batch."""
    from streamwatch.contracts.events import Transaction
    from streamwatch.processor.io.sources import read_stream
    from streamwatch.processor.jobs import dead_letter_dir, source_options

    stop = threading.Event()
    try:
        while query.isActive and query.lastProgress is None and not stop.wait(0.5):
            pass
        if query.isActive or settings.trigger == "available-now":
            read_stream(spark, settings.source, Transaction.DDL,
                        options=source_options(settings),
                        dead_letter_dir=dead_letter_dir(settings), trigger=settings.trigger)
    except Exception as exc:  # the session may be stopping; the main query is unaffected
        log.warning("fraud dead-letter query not started", extra={"error": str(exc)[:500]})


def _poll(watcher: RulesWatcher, lock: threading.Lock, every_s: float,
          query: StreamingQuery) -> None:
    """Check the rules file while the query runs, so idle periods do not delay a reload."""
    stop = threading.Event()
    while not stop.wait(every_s) and query.isActive:
        with lock:
            try:
                watcher.check()
            except OSError as exc:  # e.g. the publish dir vanished: keep polling, say why
                log.error("fraud rules publish failed", extra={"error": str(exc)})


def start(spark: Any, settings: FraudSettings) -> list[StreamingQuery]:
    from streamwatch.processor.fraud import buckets
    from streamwatch.processor.io.sinks import JsonlSink, parse_sink
    from streamwatch.processor.jobs import apply_trigger, checkpoint_dir, dead_letter_dir

    _validate(settings)
    # a copy with the resolved count: the caller's settings (a restart reuses them) keep
    # what the user gave, so a second start resolves from the checkpoint again
    settings = dataclasses.replace(settings, buckets=buckets.resolve(
        settings.checkpoint_path, settings.buckets))
    watcher = start_rules_watcher(settings)
    sink = parse_sink(settings.sink).open("alerts", label="alerts")
    future_sink = JsonlSink(Path(dead_letter_dir(settings)) / "alerts-from-the-future", "alerts")
    lock = threading.Lock()
    recorded = threading.Event()

    def write(batch: DataFrame, batch_id: int) -> None:
        # alert_rows runs the stateful operator: a wrong bucket count fails here
        rows, future = split_future(alert_rows(batch))
        if future:
            future_sink.write(batch_id, future)
            log.error("alerts on transactions stamped in the future kept out of the sink; "
                      "check the producer's clock", extra={
                          "alerts": len(future), "batch_id": batch_id,
                          "dead_letter": str(future_sink.path_for(batch_id))})
        if rows:
            sink.write(batch_id, rows)
        if not recorded.is_set():
            buckets.record(settings.checkpoint_path, _bucket_count(settings))
            recorded.set()
        with lock:  # rules edited during this batch apply from the next one
            watcher.check()

    writer = (alerts_with_stats(transactions(spark, settings), watcher, settings)
              .writeStream.queryName(QUERY_NAME).outputMode("append")
              .option("checkpointLocation", checkpoint_dir(settings, QUERY_DIR))
              .foreachBatch(write))
    query = apply_trigger(writer, settings.trigger).start()
    threading.Thread(target=_poll, args=(watcher, lock, settings.rules_poll, query),
                     name="fraud-rules-watcher", daemon=True).start()
    threading.Thread(target=start_dead_letter_when_running, args=(spark, settings, query),
                     name="fraud-dead-letter-start", daemon=True).start()
    log.info("fraud job started", extra={
        "rules": str(watcher.path), "rules_version": watcher.rules.version,
        "enabled": sorted(watcher.rules.enabled()), "buckets": settings.buckets,
        "state_ttl_s": settings.state_ttl})
    return [query]
