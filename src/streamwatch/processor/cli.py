"""Run one Spark Structured Streaming job: hashtags, fraud, orders or wordcount.

Sources (--source):
  feed:URL/FEED      replayable feed of a producer, exactly-once with the checkpoint
                     (e.g. feed:http://127.0.0.1:7101/tweets)
  kafka:HOST:PORT[,HOST:PORT...]/TOPIC
                     a Kafka topic through Spark's connector, exactly-once with the
                     checkpoint (e.g. kafka:127.0.0.1:9092/transactions); options with
                     --kafka-option KEY=VALUE and --kafka-properties FILE
  file:PATH          JSONL file or directory of the event schema
  socket:HOST:PORT   Spark's socket source, course examples only: NOT fault tolerant
Sinks (--sink): http:URL | jsonl:DIR | console

Malformed input lines never stop a job: they are counted (observed metric
"corrupt" in each progress event) and written to --dead-letter.

Examples:
  streamwatch process hashtags --sink jsonl:/tmp/trends --exporter-url http://127.0.0.1:7104
  streamwatch process hashtags --source file:tweets.jsonl --trigger available-now \\
      --sink jsonl:/tmp/trends --checkpoint /tmp/ck
  streamwatch process fraud --source feed:http://127.0.0.1:7102/transactions
  streamwatch process fraud --source kafka:127.0.0.1:9092/transactions \\
      --kafka-option startingOffsets=latest --kafka-properties client.properties
  streamwatch process orders --sink jsonl:/tmp/orders --exporter-url http://127.0.0.1:7104
  streamwatch process wordcount --source socket:127.0.0.1:7201 --sink console
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import ModuleType
from typing import Any, TypeVar

from streamwatch.processor.settings import JOB_SETTINGS, ProcessSettings

log = logging.getLogger(__name__)
P = TypeVar("P", bound=ProcessSettings)

# job -> (module, one-line help); each job's flags and defaults are its settings class
# (streamwatch.processor.settings.JOB_SETTINGS)
JOBS: dict[str, tuple[str, str]] = {
    "hashtags": ("streamwatch.processor.hashtags.job",
                 "trending hashtags per sliding window with VADER sentiment"),
    "fraud": ("streamwatch.processor.fraud.job",
              "stateful fraud rules over card transactions -> alerts"),
    "orders": ("streamwatch.processor.orders.job",
               "orders per event-time minute and status (purchased, shipped, delivered, ...)"),
    "wordcount": ("streamwatch.processor.wordcount.job",
                  "the classic word count over the producers' TCP line socket"),
}


def _job_module(job: str) -> ModuleType:
    return importlib.import_module(JOBS[job][0])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    jobs = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    for job, (_module, summary) in JOBS.items():
        p = jobs.add_parser(job, help=summary, description=f"{summary}.\n\n{__doc__}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        JOB_SETTINGS[job].add_arguments(p)
        try:
            _job_module(job)
        except ImportError as exc:
            # A job whose module is missing must not break the others' --help.
            p.set_defaults(_job_error=f"job {job!r} is not available: {exc}")


def parse_settings(cls: type[P], argv: Sequence[str] = ()) -> P:
    """Settings of the job of ``cls`` as ``streamwatch process JOB ARGV`` would build them."""
    parser = argparse.ArgumentParser(prog=cls.command)
    cls.add_arguments(parser)
    return cls.from_args(parser.parse_args(list(argv)))


def job_args(job: str, argv: Sequence[str] = ()) -> ProcessSettings:
    """The settings of ``job`` as ``streamwatch process JOB ARGV`` would build them.

    For callers that start jobs in their own SparkSession (``streamwatch run``).
    """
    return parse_settings(JOB_SETTINGS[job], argv)


def _fail(settings: ProcessSettings, message: str) -> int:
    """Exit 2 with ``message``, worded as run_command words a refused setting."""
    print(f"{settings.command}: {message}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    from streamwatch.core.settings import run_command

    return run_command(JOB_SETTINGS[args.job], args, lambda settings: _start(settings, args))


def _start(settings: ProcessSettings, args: argparse.Namespace) -> int:
    from streamwatch.core import logs

    logs.setup("processor", settings.log_level)
    # py4j logs every callback at info; keep it to problems.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if getattr(args, "_job_error", None):
        return _fail(settings, args._job_error)
    from streamwatch.processor.io.sinks import SinkSpecError, parse_sink
    from streamwatch.processor.io.sources import SourceSpecError, parse_source
    from streamwatch.processor.jobs import source_options

    try:
        parse_source(settings.source)
        parse_sink(settings.sink)
        source_options(settings)  # a bad --kafka-option or properties file fails here, not in Spark
    except (SourceSpecError, SinkSpecError, ValueError) as exc:
        return _fail(settings, str(exc))
    return run_job(settings)


def run_job(settings: ProcessSettings) -> int:
    """Start the job, wait until it ends or a signal arrives, stop cleanly."""
    return run_jobs([settings], master=settings.master, app_name=f"streamwatch-{settings.job}",
                    conf=settings.spark_conf_items, exporter_url=settings.exporter_url)


def run_jobs(jobs: Sequence[ProcessSettings], *, master: str, app_name: str,
             conf: dict[str, str] | None = None, exporter_url: str | None = None) -> int:
    """Start several jobs in ONE SparkSession (``streamwatch run`` uses this), wait, stop.

    Each element of ``jobs`` is what :func:`job_args` returns. 0 when every query
    ended (available-now) or a signal came; 1 when a query failed.
    """
    from streamwatch.processor.session import build_session

    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("stopping", extra={"signal": signal.Signals(signum).name})
        stop.set()

    if any(s.source.startswith("kafka:") for s in jobs):
        from streamwatch.processor.io.kafka import connector_conf, merge_conf

        conf = merge_conf(conf or {}, connector_conf())
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    spark = build_session(master, app_name, conf)  # feed: sources register their data source
    forwarder = None
    if exporter_url:
        from streamwatch.processor.listener import ProgressForwarder

        forwarder = ProgressForwarder(exporter_url)
        spark.streams.addListener(forwarder)
    try:
        running: dict[int, list[Any]] = {}
        for i, settings in enumerate(jobs):
            if i:
                # Python source runners and workers of several jobs starting at once can
                # starve each other on a small machine; start the next job once the
                # previous one has completed a batch.
                _wait_first_progress(running[i - 1], stop, timeout=120.0)
            running[i] = _start_job(spark, settings)
        return _await(spark, jobs, running, stop)
    except Exception as exc:
        log.error("job failed", extra={"jobs": [s.job for s in jobs], "error": str(exc)[:4000]})
        return 1
    finally:
        for q in spark.streams.active:
            q.stop()
        if forwarder is not None:
            spark.streams.removeListener(forwarder)
            forwarder.close()
        spark.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)


def _start_job(spark: Any, settings: ProcessSettings) -> list[Any]:
    """Start a job; its queries are every query it started, side queries included."""
    before = {q.id for q in spark.streams.active}
    returned = _job_module(settings.job).start(spark, settings)
    ids = {q.id for q in returned}
    started = [*returned, *(q for q in spark.streams.active
                            if q.id not in before and q.id not in ids)]
    log.info("job started", extra={"job": settings.job, "source": settings.source,
                                   "sink": settings.sink, "checkpoint": settings.checkpoint_path,
                                   "queries": [q.name for q in started]})
    return started


def _wait_first_progress(queries: list[Any], stop: threading.Event, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        if all(q.lastProgress is not None or not q.isActive for q in queries):
            return
        stop.wait(0.5)


def _await(spark: Any, jobs: Sequence[ProcessSettings], running: dict[int, list[Any]],
           stop: threading.Event) -> int:
    """Wait for the jobs; restart a failed job from its checkpoint up to ``--restarts`` times.

    A restart is exactly-once like a driver restart: the checkpoint holds the
    offsets and state, sinks are idempotent. It rides out transient failures
    (a Python worker that was slow to start on a loaded machine, a sink that
    was down longer than its retries) without taking the other jobs down.
    0 when every query ended (available-now) or a signal came; 1 when a job
    failed more often than allowed.
    """
    restarts = {i: 0 for i in running}
    while not stop.is_set():
        for i, queries in running.items():
            failed = [q for q in queries if not q.isActive and q.exception() is not None]
            if not failed:
                continue
            settings = jobs[i]
            error = str(failed[0].exception())[:4000]
            allowed = settings.restarts
            if restarts[i] >= allowed:
                log.error("query failed", extra={"job": settings.job, "query": failed[0].name,
                                                 "restarts": restarts[i], "error": error})
                return 1
            restarts[i] += 1
            delay = min(30.0, 2.0 ** restarts[i])
            log.warning("query failed; restarting the job from its checkpoint", extra={
                "job": settings.job, "query": failed[0].name, "attempt": restarts[i],
                "of": allowed, "in_seconds": delay, "error": error})
            for q in queries:
                if q.isActive:
                    q.stop()
            if stop.wait(delay):
                return 0
            running[i] = _start_job(spark, settings)
        if not spark.streams.active:
            return 0
        stop.wait(0.5)
    return 0


if __name__ == "__main__":  # python -m streamwatch.processor.cli JOB ... (e.g. spark-submit)
    _parser = argparse.ArgumentParser(prog="streamwatch process", description=__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(_parser)
    raise SystemExit(main(_parser.parse_args()))
