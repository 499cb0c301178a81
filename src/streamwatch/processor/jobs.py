"""Streaming jobs of the processor, one module each.

Every job has a settings class in ``streamwatch.processor.settings`` (the common
flags -- source, sink, checkpoint, trigger, ... -- and its own) and a module that
exposes the same function, so ``streamwatch process`` runs one job and
``streamwatch run`` can start several in one SparkSession:

- ``start(spark, settings) -> list[StreamingQuery]``: start the job's queries
  (not awaited), each with its own checkpoint under ``settings.checkpoint_path``.
  The settings are frozen; a job that derives a value makes a new object.

The helpers below are shared by the jobs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamwatch.processor.settings import AVAILABLE_NOW

if TYPE_CHECKING:
    from pyspark.sql.streaming import DataStreamWriter

    from streamwatch.processor.settings import ProcessSettings

__all__ = ["AVAILABLE_NOW", "apply_trigger", "checkpoint_dir", "dead_letter_dir",
           "session_conf", "source_options"]


def apply_trigger(writer: DataStreamWriter, trigger: str) -> DataStreamWriter:
    """``available-now`` -> process what is there and stop; else a processing-time interval."""
    if trigger == AVAILABLE_NOW:
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=trigger)


@contextlib.contextmanager
def session_conf(spark: Any, conf: Mapping[str, str]) -> Iterator[None]:
    """Set SQL confs for queries started inside the block, then restore the previous values.

    A query copies the session's conf when it starts (and keeps the checkpoint's
    values on restart), so this gives one job's queries their own settings in a
    session shared with other jobs. Jobs are started one at a time (``cli.run_jobs``).
    """
    previous = {key: spark.conf.get(key, None) for key in conf}
    for key, value in conf.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)


def checkpoint_dir(settings: ProcessSettings, query: str) -> str:
    """The checkpoint of one query of a job: ``<--checkpoint>/<query>``."""
    return str(Path(settings.checkpoint_path) / query)


def source_options(settings: ProcessSettings) -> dict[str, str]:
    """Options for ``sources.read_stream`` from the common flags.

    ``--max-records-per-trigger`` applies to feed and Kafka sources,
    ``--max-files-per-trigger`` to file sources (Spark's file source counts files, not
    records); the socket source has no limit. A Kafka source also gets
    ``--kafka-properties`` and every ``--kafka-option``.
    """
    source = settings.source
    records = settings.max_records_per_trigger
    files = settings.max_files_per_trigger
    if source.startswith("kafka:"):
        from streamwatch.processor.io import kafka

        return kafka.source_options(
            kafka.parse_kafka(source.removeprefix("kafka:")),
            options=settings.kafka_option,
            properties_file=settings.kafka_properties,
            max_records_per_trigger=records,
        )
    if records > 0 and source.startswith("feed:"):
        return {"maxRecordsPerTrigger": str(records)}
    if files > 0 and source.startswith("file:"):
        return {"maxFilesPerTrigger": str(files)}
    return {}


def dead_letter_dir(settings: ProcessSettings) -> str:
    """Where malformed input lines go: ``--dead-letter`` or ``<--checkpoint>/dead-letter``."""
    return settings.dead_letter_path
