"""Streaming jobs of the processor, one module each.

Every job module exposes the same two functions, so ``streamwatch process``
runs one job and ``streamwatch run`` can start several in one SparkSession:

- ``add_arguments(parser)``: the job's own flags (the common ones -- source,
  sink, checkpoint, trigger, ... -- are added by ``streamwatch_processor.cli``);
- ``start(spark, args) -> list[StreamingQuery]``: start the job's queries
  (not awaited), each with its own checkpoint under ``args.checkpoint``.

The helpers below are shared by the jobs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql.streaming import DataStreamWriter

AVAILABLE_NOW = "available-now"


def apply_trigger(writer: DataStreamWriter, trigger: str) -> DataStreamWriter:
    """``available-now`` -> process what is there and stop; else a processing-time interval."""
    if trigger == AVAILABLE_NOW:
        return writer.trigger(availableNow=True)
    return writer.trigger(processingTime=trigger)


def checkpoint_dir(args: argparse.Namespace, query: str) -> str:
    """The checkpoint of one query of a job: ``<--checkpoint>/<query>``."""
    return str(Path(args.checkpoint) / query)


def source_options(args: argparse.Namespace) -> dict[str, str]:
    """Options for ``sources.read_stream`` from the common flags.

    ``--max-records-per-trigger`` applies to feed sources (the file and socket
    sources of Spark have no record limit).
    """
    limit = int(getattr(args, "max_records_per_trigger", 0) or 0)
    if limit > 0 and str(getattr(args, "source", "")).startswith("feed:"):
        return {"maxRecordsPerTrigger": str(limit)}
    return {}


def dead_letter_dir(args: argparse.Namespace) -> str:
    """Where malformed input lines go: ``--dead-letter`` or ``<--checkpoint>/dead-letter``."""
    return str(getattr(args, "dead_letter", None) or Path(args.checkpoint) / "dead-letter")
