"""Kafka as a job's source: the ``kafka:BOOTSTRAP/TOPIC`` spec, its options and the connector.

Key concepts:
- ``kafka:HOST:PORT[,HOST:PORT...]/TOPIC`` reads ``TOPIC`` through Spark's official
  connector (``spark-sql-kafka-0-10``). Offsets live in the checkpoint, so a restarted
  job resumes exactly where it stopped, as with ``feed:``.
- Options come from ``--kafka-properties FILE`` (Kafka client properties such as
  ``security.protocol=SASL_SSL``) and ``--kafka-option KEY=VALUE`` (repeatable; a Spark
  source option such as ``startingOffsets=latest``, or a Kafka client setting spelt
  ``kafka.KEY``). A job starts at the earliest offset unless told otherwise (a new job
  over a feed reads it from the start too) and reads only committed records
  (``kafka.isolation.level=read_committed``: the producers publish in transactions).
- The connector is not part of PySpark. :func:`connector_conf` finds its jars
  (``STREAMWATCH_KAFKA_JARS``, or ``.tools/kafka/connector`` from ``make kafka``) or
  else lets Spark resolve it from Maven Central at start-up.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from streamwatch.core.kafka import KafkaConfigError, parse_servers, read_properties

__all__ = ["KafkaConfigError", "KafkaSpec", "client_properties", "connector_conf",
           "connector_jars", "parse_kafka", "parse_option", "source_options"]

log = logging.getLogger(__name__)

CONNECTOR = "org.apache.spark:spark-sql-kafka-0-10_2.13"
JARS_ENV = "STREAMWATCH_KAFKA_JARS"

# Options of Spark's Kafka source that a user may set (Structured Streaming + Kafka
# Integration Guide); anything else must be a Kafka client setting, spelt kafka.KEY.
SOURCE_OPTIONS = frozenset({
    "startingOffsets", "startingOffsetsByTimestamp", "startingTimestamp",
    "startingOffsetsByTimestampStrategy", "endingOffsets", "failOnDataLoss",
    "kafkaConsumer.pollTimeoutMs", "fetchOffset.numRetries", "fetchOffset.retryIntervalMs",
    "maxOffsetsPerTrigger", "minOffsetsPerTrigger", "maxTriggerDelay", "minPartitions",
    "groupIdPrefix", "includeHeaders",
})
# Set by the spec itself: a second value would silently read another topic or cluster.
RESERVED = frozenset({"kafka.bootstrap.servers", "subscribe", "subscribePattern", "assign"})

_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
SPEC_EXAMPLE = "kafka:127.0.0.1:9092/transactions (or kafka:b1:9092,b2:9092/transactions)"


@dataclass(frozen=True)
class KafkaSpec:
    bootstrap: str
    topic: str

    def __str__(self) -> str:
        return f"kafka:{self.bootstrap}/{self.topic}"


def parse_kafka(rest: str, *, flag: str = "--source") -> KafkaSpec:
    """``HOST:PORT[,HOST:PORT...]/TOPIC`` (the part after ``kafka:``)."""
    servers, sep, topic = rest.rpartition("/")
    if not sep:
        raise KafkaConfigError(f"{flag} kafka:{rest}: no /TOPIC; e.g. {SPEC_EXAMPLE}")
    bootstrap = parse_servers(servers, where=f"{flag} kafka:{rest}", example=SPEC_EXAMPLE)
    if not _TOPIC.match(topic) or topic in (".", ".."):
        raise KafkaConfigError(
            f"{flag} kafka:{rest}: {topic!r} is not a Kafka topic name (letters, digits, "
            f"'.', '_' and '-', at most 249); e.g. {SPEC_EXAMPLE}")
    return KafkaSpec(bootstrap, topic)


def client_properties(path: str | Path) -> dict[str, str]:
    """A properties file as Spark source options: client settings get the ``kafka.`` prefix."""
    return {k if k.startswith("kafka.") else f"kafka.{k}": v
            for k, v in read_properties(path).items()}


def parse_option(item: str) -> tuple[str, str]:
    """One ``--kafka-option KEY=VALUE``: a Spark source option or a ``kafka.`` client setting."""
    key, sep, value = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise KafkaConfigError(
            f"--kafka-option {item!r} is not KEY=VALUE (e.g. startingOffsets=latest or "
            f"kafka.security.protocol=SSL)")
    if key in RESERVED:
        raise KafkaConfigError(
            f"--kafka-option {key}: the topic and the servers are set by the spec "
            f"(--source kafka:HOST:PORT/TOPIC); drop this option")
    if key not in SOURCE_OPTIONS and not key.startswith("kafka."):
        raise KafkaConfigError(
            f"--kafka-option {key}: not an option of Spark's Kafka source; a Kafka client "
            f"setting is spelt kafka.{key}. Source options: {', '.join(sorted(SOURCE_OPTIONS))}")
    return key, value.strip()


def source_options(
    spec: KafkaSpec,
    *,
    options: Iterable[str] = (),
    properties_file: str | None = None,
    max_records_per_trigger: int = 0,
) -> dict[str, str]:
    """Every option of the ``kafka`` reader for ``spec``: defaults < file < flags."""
    # read_committed: a producer's aborted transaction (the producers publish in
    # transactions, and a crash leaves one open) must never reach a job
    opts: dict[str, str] = {"startingOffsets": "earliest",
                            "kafka.isolation.level": "read_committed"}
    if max_records_per_trigger > 0:
        opts["maxOffsetsPerTrigger"] = str(max_records_per_trigger)
    if properties_file:
        opts.update(client_properties(properties_file))
    opts.update(parse_option(item) for item in options)
    for key in RESERVED & opts.keys():
        raise KafkaConfigError(
            f"Kafka option {key} is set by the spec ({spec}); drop it from "
            f"--kafka-option/--kafka-properties")
    opts["kafka.bootstrap.servers"] = spec.bootstrap
    opts["subscribe"] = spec.topic
    return opts


def _jar_dirs() -> list[Path]:
    root = Path(__file__).resolve().parents[4]  # the checkout of an editable install
    return [Path.cwd() / ".tools/kafka/connector", root / ".tools/kafka/connector"]


def connector_jars(environ: Mapping[str, str] = os.environ) -> list[str]:
    """Local jars of the connector: ``STREAMWATCH_KAFKA_JARS`` (a directory or a comma list)
    or ``.tools/kafka/connector``; empty when there are none."""
    configured = environ.get(JARS_ENV, "").strip()
    if configured:
        entries = [Path(e.strip()) for e in configured.split(",") if e.strip()]
        jars: list[Path] = []
        for entry in entries:
            jars.extend(sorted(entry.glob("*.jar")) if entry.is_dir() else [entry])
        missing = [str(j) for j in jars if not j.is_file()]
        if missing or not jars:
            where = ", ".join(missing) or "empty"
            raise KafkaConfigError(
                f"{JARS_ENV}={configured!r}: no connector jars there ({where}); "
                f"run `make kafka` or unset it to let Spark fetch {CONNECTOR}")
        return [str(j) for j in jars]
    for d in _jar_dirs():
        found = sorted(d.glob("*.jar"))
        if found:
            return [str(j) for j in found]
    return []


def connector_conf(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """Spark settings that put the connector on the classpath (must be set before start-up)."""
    jars = connector_jars(environ)
    if jars:
        return {"spark.jars": ",".join(jars)}
    from pyspark import __version__ as spark_version

    log.info("Kafka connector jars not found locally; Spark fetches them from Maven Central",
             extra={"package": f"{CONNECTOR}:{spark_version}", "hint": "make kafka"})
    return {"spark.jars.packages": f"{CONNECTOR}:{spark_version}"}


def merge_conf(conf: dict[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """``conf`` with ``extra`` added; list-valued settings (jars, packages) are joined."""
    merged = dict(conf)
    for key, value in extra.items():
        if key in ("spark.jars", "spark.jars.packages") and merged.get(key):
            merged[key] = f"{merged[key]},{value}"
        else:
            merged[key] = value
    return merged
