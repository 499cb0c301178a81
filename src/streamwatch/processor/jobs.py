"""Streaming jobs of the processor, one module each.

Every job module exposes the same two functions, so ``streamwatch process``
runs one job and ``streamwatch run`` can start several in one SparkSession:

- ``add_arguments(parser)``: the job's own flags (the common ones -- source,
  sink, checkpoint, trigger, ... -- are added by ``streamwatch.processor.cli``);
- ``start(spark, args) -> list[StreamingQuery]``: start the job's queries
  (not awaited), each with its own checkpoint under ``args.checkpoint``.

The helpers below are shared by the jobs.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql.streaming import DataStreamWriter

AVAILABLE_NOW = "available-now"


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


def checkpoint_dir(args: argparse.Namespace, query: str) -> str:
    """The checkpoint of one query of a job: ``<--checkpoint>/<query>``."""
    return str(Path(args.checkpoint) / query)


def source_options(args: argparse.Namespace) -> dict[str, str]:
    """Options for ``sources.read_stream`` from the common flags.

    ``--max-records-per-trigger`` applies to feed and Kafka sources,
    ``--max-files-per-trigger`` to file sources (Spark's file source counts files, not
    records); the socket source has no limit. A Kafka source also gets
    ``--kafka-properties`` and every ``--kafka-option``.
    """
    source = str(getattr(args, "source", ""))
    records = int(getattr(args, "max_records_per_trigger", 0) or 0)
    files = int(getattr(args, "max_files_per_trigger", 0) or 0)
    if source.startswith("kafka:"):
        from streamwatch.processor.io import kafka

        return kafka.source_options(
            kafka.parse_kafka(source.removeprefix("kafka:")),
            options=getattr(args, "kafka_option", None) or (),
            properties_file=getattr(args, "kafka_properties", None),
            max_records_per_trigger=records,
        )
    if records > 0 and source.startswith("feed:"):
        return {"maxRecordsPerTrigger": str(records)}
    if files > 0 and source.startswith("file:"):
        return {"maxFilesPerTrigger": str(files)}
    return {}


def dead_letter_dir(args: argparse.Namespace) -> str:
    """Where malformed input lines go: ``--dead-letter`` or ``<--checkpoint>/dead-letter``."""
    return str(getattr(args, "dead_letter", None) or Path(args.checkpoint) / "dead-letter")
