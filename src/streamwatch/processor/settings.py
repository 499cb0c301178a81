"""Settings of ``streamwatch process <job>``: the flags every job shares, then each job's.

Every flag is declared once on the typed base (``streamwatch.core.settings``), with
the env twin ``STREAMWATCH_PROCESS_<FLAG>`` (``STREAMWATCH_PROCESS_SOURCE``, ...); the
flat ``STREAMWATCH_<FLAG>`` the processor read before is still read for one release.
A flat ``STREAMWATCH_SOURCE`` was the twin of the producers' ``--source`` too, which
is why the processor needs a prefix of its own.

:class:`ProcessSettings` holds the common flags; a job's class (one per job below)
gives the defaults that depend on the job (source, sink) and adds its own flags. The
objects are frozen: values derived from several flags are properties
(:attr:`ProcessSettings.checkpoint_path`) or a new object (``dataclasses.replace``),
never an assignment. This module imports no PySpark, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from streamwatch.core.flags import duration_seconds, non_negative_int, probability
from streamwatch.core.settings import Settings, or_none, setting

LOG_LEVELS = ("debug", "info", "warning", "error")
AVAILABLE_NOW = "available-now"
#: the hashtags queries' state store choices (``hashtags.job.STATE_STORES`` maps them)
STATE_STORE_NAMES = ("memory", "rocksdb")


def trigger_value(text: str) -> str:
    """``available-now`` or a processing-time interval such as ``1s``, ``500ms``, ``2 seconds``."""
    t = text.strip().lower()
    if t in ("available-now", "availablenow", "available_now"):
        return AVAILABLE_NOW
    if t.endswith(" milliseconds"):  # already normalised (a value handed on as text)
        t = t.removesuffix(" milliseconds") + "ms"
    seconds = duration_seconds(t.replace(" seconds", "s").replace(" second", "s"))
    if seconds < 0:
        raise argparse.ArgumentTypeError("a trigger interval must be >= 0")
    return f"{int(seconds * 1000)} milliseconds"


def bucket_count(text: str) -> int:
    """Card buckets of the fraud job: 1..4096."""
    value = int(text)
    if not 1 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"{text} must be within 1..4096")
    return value


def parse_spark_conf(text: str) -> dict[str, str]:
    """``K=V,K=V`` of ``--spark-conf`` as a dict; a bad item raises ValueError."""
    conf: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--spark-conf item {item!r} is not KEY=VALUE "
                             "(e.g. spark.sql.shuffle.partitions=8)")
        conf[key.strip()] = value.strip()
    return conf


def source_setting(default: str) -> str:
    """The ``--source`` field of a job that reads ``default`` unless told otherwise."""
    chosen: str = setting(default, metavar="SPEC",
                          help="feed:URL/FEED, kafka:HOST:PORT/TOPIC, file:PATH or "
                               "socket:HOST:PORT")
    return chosen


def sink_setting(default: str) -> str:
    """The ``--sink`` field of a job that writes to ``default`` unless told otherwise."""
    chosen: str = setting(default, metavar="SPEC", help="http:URL, jsonl:DIR or console")
    return chosen


def checkpoint_setting(job: str) -> str | None:
    """The ``--checkpoint`` field; its help names the job's default directory."""
    chosen: str | None = setting(
        None, parser=or_none(str), metavar="DIR",
        help=f"checkpoint directory (default <data-dir>/checkpoints/{job}); keep it to "
             "resume exactly where the job stopped")
    return chosen


@dataclass(frozen=True)
class ProcessSettings(Settings):
    """The flags every job has. A job's subclass sets ``job`` and its defaults."""

    service = "PROCESS"
    command = "streamwatch process"
    job: ClassVar[str]

    source: str = source_setting("")
    sink: str = sink_setting("console")
    data_dir: str = setting("./.streamwatch", help="base directory of the default checkpoint")
    checkpoint: str | None = checkpoint_setting("<job>")
    dead_letter: str | None = setting(
        None, parser=or_none(str), metavar="DIR",
        help="where malformed input lines go (default <checkpoint>/dead-letter)")
    trigger: str = setting(trigger_value("1s"), parser=trigger_value,
                           help="micro-batch interval (1s, 500ms, ...) or available-now "
                                "(process what is there, then exit)")
    master: str = setting("local[*]", help="Spark master URL")
    exporter_url: str | None = setting(
        None, parser=or_none(str), metavar="URL",
        help="metrics-exporter base URL; progress events (and trends) are POSTed there")
    max_records_per_trigger: int = setting(
        0, parser=non_negative_int,
        help="feed and Kafka sources: at most this many records per micro-batch "
             "(0 = no limit)")
    max_files_per_trigger: int = setting(
        0, parser=non_negative_int,
        help="file sources: at most this many new files per micro-batch (0 = no limit)")
    kafka_option: tuple[str, ...] = setting(
        (), repeated=True, metavar="KEY=VALUE",
        # items are checked with the source (io.kafka.parse_option), which knows the keys
        help="Kafka sources: a Spark source option (startingOffsets=latest, "
             "maxOffsetsPerTrigger=...) or a Kafka client setting spelt kafka.KEY "
             "(kafka.security.protocol=SASL_SSL); repeatable, wins over --kafka-properties")
    kafka_properties: str | None = setting(
        None, parser=or_none(str), metavar="FILE",
        help="Kafka sources: a Kafka client properties file (TLS/SASL settings, key=value lines)")
    restarts: int = setting(3, parser=non_negative_int,
                            help="how often a failed job is restarted from its checkpoint "
                                 "(exactly-once) before the process gives up with exit 1")
    spark_conf: str = setting("", metavar="K=V,K=V",
                              help="extra Spark settings, comma separated")
    log_level: str = setting("info", choices=LOG_LEVELS, help="log level")

    def validate(self) -> None:
        try:
            parse_spark_conf(self.spark_conf)
        except ValueError as exc:
            raise self.problem("spark_conf", str(exc)) from None

    @property
    def checkpoint_path(self) -> str:
        """``--checkpoint``, or ``<data-dir>/checkpoints/<job>`` when it is not given."""
        return self.checkpoint or str(Path(self.data_dir) / "checkpoints" / self.job)

    @property
    def dead_letter_path(self) -> str:
        """``--dead-letter``, or ``<checkpoint>/dead-letter``."""
        return self.dead_letter or str(Path(self.checkpoint_path) / "dead-letter")

    @property
    def spark_conf_items(self) -> dict[str, str]:
        return parse_spark_conf(self.spark_conf)


@dataclass(frozen=True)
class HashtagsSettings(ProcessSettings):
    job = "hashtags"
    command = "streamwatch process hashtags"

    source: str = source_setting("feed:http://127.0.0.1:7101/tweets")
    checkpoint: str | None = checkpoint_setting(job)
    window: float = setting(300.0, parser=duration_seconds,
                            help="sliding window length (e.g. 5m)")
    slide: float = setting(60.0, parser=duration_seconds,
                           help="slide between window starts (e.g. 1m)")
    watermark: float = setting(120.0, parser=duration_seconds,
                               help="how late a tweet may arrive; a window is emitted this "
                                    "long after its end")
    top: int = setting(10, parser=int, help="hashtags kept per window")
    sentiment_window: float = setting(
        900.0, parser=duration_seconds,
        help="tumbling window of the overall sentiment (0 disables that query)")
    sentiment_sample: float = setting(
        1.0, parser=probability,
        help="fraction of tweets scored with VADER (deterministic by id); 1 = all, "
             "0 = no sentiment")
    state_store: str = setting(
        "memory", choices=STATE_STORE_NAMES,
        help="state store of the hashtags queries (memory: HDFS-backed, faster for "
             "per-tweet dedup keys; rocksdb: state larger than memory)")


@dataclass(frozen=True)
class FraudSettings(ProcessSettings):
    job = "fraud"
    command = "streamwatch process fraud"

    source: str = source_setting("feed:http://127.0.0.1:7102/transactions")
    sink: str = sink_setting("http:http://127.0.0.1:7103/v1/alerts")
    checkpoint: str | None = checkpoint_setting(job)
    rules: str | None = setting(
        None, parser=or_none(str), metavar="PATH",
        help="fraud rules YAML (docs/fraud-rules.md); default: the packaged rules.yaml")
    rules_poll: float = setting(1.0, parser=duration_seconds,
                                help="how often the driver checks the rules file for changes")
    rules_publish_dir: str | None = setting(
        None, parser=or_none(str), metavar="DIR",
        help="shared directory (driver + executors) for the active rules snapshot "
             "(default <checkpoint>/rules)")
    state_ttl: float = setting(7200.0, parser=duration_seconds,
                               help="forget a card after this long without a transaction "
                                    "(event time)")
    buckets: int | None = setting(
        None, parser=bucket_count,
        help="card buckets = keys of the stateful operator; fixed for a checkpoint "
             "(default: the checkpoint's recorded count, 8 for a new one)")


@dataclass(frozen=True)
class OrdersSettings(ProcessSettings):
    job = "orders"
    command = "streamwatch process orders"

    source: str = source_setting("feed:http://127.0.0.1:7105/orders")
    checkpoint: str | None = checkpoint_setting(job)
    watermark: float = setting(
        60.0, parser=duration_seconds,
        help="how late an order event may arrive; a minute is written this long after its "
             "end, later events of it are dead-lettered and counted as late")
    lifecycle_horizon: float = setting(
        3600.0, parser=duration_seconds,
        help="how long (event time) purchases are kept to time shipping and delivery; at "
             "least the longest purchase-to-return time of the stream (1h suits streamwatch "
             "orders' default --time-scale 1440; real-time delays need days)")


@dataclass(frozen=True)
class WordcountSettings(ProcessSettings):
    job = "wordcount"
    command = "streamwatch process wordcount"

    source: str = source_setting("socket:127.0.0.1:7201")
    checkpoint: str | None = checkpoint_setting(job)
    output_mode: str = setting(
        "complete", choices=("complete", "update"),
        help="complete: the whole table each trigger; update: changed words only")


JOB_SETTINGS: dict[str, type[ProcessSettings]] = {
    cls.job: cls for cls in (HashtagsSettings, FraudSettings, OrdersSettings, WordcountSettings)
}
