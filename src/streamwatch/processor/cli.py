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
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from streamwatch.core.flags import add_flag, env_name, non_negative_int

log = logging.getLogger(__name__)

# job -> (module, one-line help, default source, default sink)
JOBS: dict[str, tuple[str, str, str, str]] = {
    "hashtags": ("streamwatch.processor.hashtags.job",
                 "trending hashtags per sliding window with VADER sentiment",
                 "feed:http://127.0.0.1:7101/tweets", "console"),
    "fraud": ("streamwatch.processor.fraud.job",
              "stateful fraud rules over card transactions -> alerts",
              "feed:http://127.0.0.1:7102/transactions", "http:http://127.0.0.1:7103/v1/alerts"),
    "orders": ("streamwatch.processor.orders.job",
               "orders per event-time minute and status (purchased, shipped, delivered, ...)",
               "feed:http://127.0.0.1:7105/orders", "console"),
    "wordcount": ("streamwatch.processor.wordcount.job",
                  "the classic word count over the producers' TCP line socket",
                  "socket:127.0.0.1:7201", "console"),
}


def trigger_value(text: str) -> str:
    """``available-now`` or a processing-time interval such as ``1s``, ``500ms``, ``2 seconds``."""
    from streamwatch.core.flags import duration_seconds

    t = text.strip().lower()
    if t in ("available-now", "availablenow", "available_now"):
        return "available-now"
    if t.endswith(" milliseconds"):  # already normalised (argparse re-applies types)
        t = t.removesuffix(" milliseconds") + "ms"
    seconds = duration_seconds(t.replace(" seconds", "s").replace(" second", "s"))
    if seconds < 0:
        raise argparse.ArgumentTypeError("a trigger interval must be >= 0")
    return f"{int(seconds * 1000)} milliseconds"




def add_common_arguments(parser: argparse.ArgumentParser, job: str) -> None:
    """Flags every job has; defaults depend on the job."""
    _module, _help, source, sink = JOBS[job]
    add_flag(parser, "--source", default=source, metavar="SPEC",
             help="feed:URL/FEED, kafka:HOST:PORT/TOPIC, file:PATH or socket:HOST:PORT")
    add_flag(parser, "--sink", default=sink, metavar="SPEC", help="http:URL, jsonl:DIR or console")
    add_flag(parser, "--data-dir", default="./.streamwatch",
             help="base directory of the default checkpoint")
    add_flag(parser, "--checkpoint", default=None, metavar="DIR",
             help=f"checkpoint directory (default <data-dir>/checkpoints/{job}); "
                  "keep it to resume exactly where the job stopped")
    add_flag(parser, "--dead-letter", default=None, metavar="DIR",
             help="where malformed input lines go (default <checkpoint>/dead-letter)")
    add_flag(parser, "--trigger", type=trigger_value, default="1s",
             help="micro-batch interval (1s, 500ms, ...) or available-now (process what is "
                  "there, then exit)")
    add_flag(parser, "--master", default="local[*]", help="Spark master URL")
    add_flag(parser, "--exporter-url", default=None, metavar="URL",
             help="metrics-exporter base URL; progress events (and trends) are POSTed there")
    add_flag(parser, "--max-records-per-trigger", type=non_negative_int, default=0,
             help="feed and Kafka sources: at most this many records per micro-batch "
                  "(0 = no limit)")
    add_flag(parser, "--max-files-per-trigger", type=non_negative_int, default=0,
             help="file sources: at most this many new files per micro-batch (0 = no limit)")
    # Repeatable: the env twin holds one KEY=VALUE per line (SASL values contain ; and ,),
    # and the command line's items come after it, so they win.
    kafka_env = env_name("--kafka-option")
    parser.add_argument(
        "--kafka-option", action="append", metavar="KEY=VALUE",
        default=[line.strip() for line in os.environ.get(kafka_env, "").splitlines()
                 if line.strip()],
        help="Kafka sources: a Spark source option (startingOffsets=latest, "
             "maxOffsetsPerTrigger=...) or a Kafka client setting spelt kafka.KEY "
             "(kafka.security.protocol=SASL_SSL); repeatable, wins over --kafka-properties "
             f"[env {kafka_env}; one KEY=VALUE per line; default: none]")
    add_flag(parser, "--kafka-properties", default=None, metavar="FILE",
             help="Kafka sources: a Kafka client properties file (TLS/SASL settings, "
                  "key=value lines)")
    add_flag(parser, "--restarts", type=non_negative_int, default=3,
             help="how often a failed job is restarted from its checkpoint (exactly-once) "
                  "before the process gives up with exit 1")
    add_flag(parser, "--spark-conf", default="", metavar="K=V,K=V",
             help="extra Spark settings, comma separated")
    add_flag(parser, "--log-level", default="info",
             choices=["debug", "info", "warning", "error"], help="log level")


def _job_module(job: str) -> ModuleType:
    return importlib.import_module(JOBS[job][0])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    jobs = parser.add_subparsers(dest="job", metavar="JOB", required=True)
    for job, (_module, summary, _src, _sink) in JOBS.items():
        p = jobs.add_parser(job, help=summary, description=f"{summary}.\n\n{__doc__}",
                            formatter_class=argparse.RawDescriptionHelpFormatter)
        add_common_arguments(p, job)
        try:
            module = _job_module(job)
        except ImportError as exc:
            # A job whose module is missing must not break the others' --help.
            p.set_defaults(_job_error=f"job {job!r} is not available: {exc}")
            continue
        module.add_arguments(p)


def job_args(job: str, argv: Sequence[str] = ()) -> argparse.Namespace:
    """Parsed flags of ``job`` as ``streamwatch process JOB ARGV`` would parse them.

    For callers that start jobs in their own SparkSession (``streamwatch run``).
    """
    parser = argparse.ArgumentParser(prog=f"streamwatch process {job}")
    add_common_arguments(parser, job)
    _job_module(job).add_arguments(parser)
    args = parser.parse_args(list(argv))
    args.job = job
    return finish_args(args)


def finish_args(args: argparse.Namespace) -> argparse.Namespace:
    """Fill defaults that depend on other flags."""
    if not args.checkpoint:
        args.checkpoint = str(Path(args.data_dir) / "checkpoints" / args.job)
    return args


def spark_conf(text: str) -> dict[str, str]:
    conf: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(
                f"--spark-conf item {item!r} is not KEY=VALUE "
                f"(e.g. spark.sql.shuffle.partitions=8) [{env_name('--spark-conf')}]"
            )
        conf[key.strip()] = value.strip()
    return conf


def _fail(message: str) -> int:
    print(f"streamwatch process: {message}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    from streamwatch.core import logs

    logs.setup("processor", args.log_level)
    # py4j logs every callback at info; keep it to problems.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    if getattr(args, "_job_error", None):
        return _fail(args._job_error)
    finish_args(args)
    from streamwatch.processor.io.sinks import SinkSpecError, parse_sink
    from streamwatch.processor.io.sources import SourceSpecError, parse_source
    from streamwatch.processor.jobs import source_options

    try:
        parse_source(args.source)
        parse_sink(args.sink)
        conf = spark_conf(args.spark_conf)
        source_options(args)  # a bad --kafka-option or properties file fails here, not in Spark
    except (SourceSpecError, SinkSpecError, ValueError) as exc:
        return _fail(str(exc))
    return run_job(args, conf)


def run_job(args: argparse.Namespace, conf: dict[str, str]) -> int:
    """Start the job, wait until it ends or a signal arrives, stop cleanly."""
    return run_jobs([args], master=args.master, app_name=f"streamwatch-{args.job}", conf=conf,
                    exporter_url=args.exporter_url)


def run_jobs(jobs: Sequence[argparse.Namespace], *, master: str, app_name: str,
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

    if any(str(a.source).startswith("kafka:") for a in jobs):
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
        for i, args in enumerate(jobs):
            if i:
                # Python source runners and workers of several jobs starting at once can
                # starve each other on a small machine; start the next job once the
                # previous one has completed a batch.
                _wait_first_progress(running[i - 1], stop, timeout=120.0)
            running[i] = _start_job(spark, args)
        return _await(spark, jobs, running, stop)
    except Exception as exc:
        log.error("job failed", extra={"jobs": [a.job for a in jobs], "error": str(exc)[:4000]})
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


def _start_job(spark: Any, args: argparse.Namespace) -> list[Any]:
    """Start a job; its queries are every query it started, side queries included."""
    before = {q.id for q in spark.streams.active}
    returned = _job_module(args.job).start(spark, args)
    ids = {q.id for q in returned}
    started = [*returned, *(q for q in spark.streams.active
                            if q.id not in before and q.id not in ids)]
    log.info("job started", extra={"job": args.job, "source": args.source, "sink": args.sink,
                                   "checkpoint": args.checkpoint,
                                   "queries": [q.name for q in started]})
    return started


def _wait_first_progress(queries: list[Any], stop: threading.Event, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        if all(q.lastProgress is not None or not q.isActive for q in queries):
            return
        stop.wait(0.5)


def _await(spark: Any, jobs: Sequence[argparse.Namespace], running: dict[int, list[Any]],
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
            args = jobs[i]
            error = str(failed[0].exception())[:4000]
            allowed = int(getattr(args, "restarts", 0) or 0)
            if restarts[i] >= allowed:
                log.error("query failed", extra={"job": args.job, "query": failed[0].name,
                                                 "restarts": restarts[i], "error": error})
                return 1
            restarts[i] += 1
            delay = min(30.0, 2.0 ** restarts[i])
            log.warning("query failed; restarting the job from its checkpoint", extra={
                "job": args.job, "query": failed[0].name, "attempt": restarts[i],
                "of": allowed, "in_seconds": delay, "error": error})
            for q in queries:
                if q.isActive:
                    q.stop()
            if stop.wait(delay):
                return 0
            running[i] = _start_job(spark, args)
        if not spark.streams.active:
            return 0
        stop.wait(0.5)
    return 0


if __name__ == "__main__":  # python -m streamwatch.processor.cli JOB ... (e.g. spark-submit)
    _parser = argparse.ArgumentParser(prog="streamwatch process", description=__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(_parser)
    raise SystemExit(main(_parser.parse_args()))
