"""The runtime both producers share: feed logs, the feed HTTP API, the line socket.

A producer CLI (``streamwatch tweets``, ``streamwatch txns``) builds its
:class:`~streamwatch.feed.sources.Source`, calls :func:`add_producer_flags` in its
``add_arguments`` and :func:`run_producer` in its ``main``::

    def add_arguments(parser):
        add_producer_flags(parser, http_port=7102, socket_port=7202)
        ...                                   # the source's own flags

    def main(args):
        registry = CollectorRegistry()
        source = TxnSource(..., registry=registry)
        return run_producer("txn-simulator", source, args,
                            socket_feed="transactions", registry=registry)

``run_producer`` opens one :class:`~streamwatch.feed.log.FeedLog` per feed under
``<data-dir>/feeds/<feed>/``, serves them over HTTP and tails ``socket_feed``
on the TCP line socket, runs the source in a thread, and on SIGTERM/SIGINT
stops the source, fsyncs and closes the logs and exits 0. A busy port exits 2
with a message naming the flag; a source that crashes exits 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from streamwatch.core import flags

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from streamwatch.feed.kafka_publisher import KafkaPublisher
    from streamwatch.feed.log import FeedLog
    from streamwatch.feed.sources import Source
    from streamwatch.feed.world import World

log = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT")

FSYNC_POLICIES = ["always", "interval", "never"]


def add_producer_flags(parser: argparse.ArgumentParser, *, http_port: int,
                       socket_port: int) -> None:
    """Add the flags every producer shares (each with a ``STREAMWATCH_`` env twin)."""
    g = parser.add_argument_group("feed server and log")
    flags.add_flag(g, "--host", default="127.0.0.1",
                   help="address to bind the HTTP API and the line socket to "
                   "(0.0.0.0 in a container)")
    flags.add_flag(g, "--http-port", default=http_port, type=flags.port,
                   help="HTTP port of the feed API, /metrics and /openapi.json (0 = any free)")
    flags.add_flag(g, "--socket-port", default=socket_port, type=flags.port,
                   help="TCP port of the live line socket (0 = any free)")
    flags.add_flag(g, "--data-dir", default="./.streamwatch",
                   help="directory that holds the feed logs (under feeds/<feed>/)")
    flags.add_flag(g, "--fsync", default="interval", choices=FSYNC_POLICIES,
                   help="when appended records are fsynced: always (every batch), "
                   "interval (group commit every --fsync-interval) or never (the OS "
                   "decides; survives a process crash, not a power loss)")
    flags.add_flag(g, "--fsync-interval", default=0.1, type=flags.duration_seconds,
                   help="group-commit period for --fsync interval, e.g. 100ms")
    flags.add_flag(g, "--segment-bytes", default=64 << 20, type=flags.byte_size,
                   help="roll a new log segment at this size, e.g. 64MiB")
    flags.add_flag(g, "--retention-bytes", default=1 << 30, type=flags.byte_size,
                   help="keep at most this many bytes per feed by deleting the oldest "
                   "sealed segments, e.g. 1GiB (0 = unlimited)")
    flags.add_flag(g, "--retention-age", default=0.0, type=flags.duration_seconds,
                   help="delete sealed segments older than this, e.g. 24h (0 = keep)")
    flags.add_flag(g, "--max-records-per-request", default=10_000, type=flags.positive_int,
                   help="cap on records returned by one GET /v1/feeds/{feed}/records")
    flags.add_flag(g, "--socket-buffer", default=10_000, type=flags.positive_int,
                   help="lines buffered per line-socket client; a client that falls "
                   "further behind is disconnected")
    flags.add_flag(g, "--log-level", default="info",
                   choices=["debug", "info", "warning", "error"], help="log level")
    k = parser.add_argument_group("Kafka (optional)")
    flags.add_flag(k, "--kafka", default=None, metavar="HOST:PORT[,HOST:PORT]",
                   help="also publish every feed to Kafka at these bootstrap servers, exactly "
                   "once (transactions); the feed log stays the local durable buffer")
    flags.add_flag(k, "--kafka-topic-prefix", default="", metavar="PREFIX",
                   help="topic of a feed: PREFIX + feed name (e.g. transactions)")
    flags.add_flag(k, "--kafka-properties", default=None, metavar="FILE",
                   help="Kafka client properties (TLS/SASL), key=value lines")
    flags.add_switch(g, "--new-world",
                     help="start a new world (seed, population, ids with a new epoch) instead "
                     "of continuing the one recorded under --data-dir; the feeds keep their "
                     "earlier records")


def latest_offsets(args: argparse.Namespace, feeds: tuple[str, ...]) -> dict[str, int]:
    """Each feed's latest offset under ``--data-dir`` (0 for a feed with no log yet)."""
    from streamwatch.feed.log import FeedLog

    out = {}
    for feed in feeds:
        if not (Path(args.data_dir) / "feeds" / feed).exists():
            out[feed] = 0
            continue
        feed_log = FeedLog.open(Path(args.data_dir) / "feeds", feed,
                                segment_bytes=args.segment_bytes, fsync="never")
        try:
            out[feed] = feed_log.latest
        finally:
            feed_log.close()
    return out


def open_world(producer: str, args: argparse.Namespace, feeds: tuple[str, ...],
               asked: dict[str, Any], defaults: dict[str, Any]) -> tuple[World, dict[str, int]]:
    """The world this start continues or creates (``streamwatch.feed.world``), and how many of
    its records each feed already holds. Raises ``WorldError``/``OSError`` with the fix."""
    from streamwatch.feed import world as worlds

    latest = latest_offsets(args, feeds)
    world, resumed = worlds.resume_or_create(
        args.data_dir, producer, asked, defaults=defaults, latest=latest,
        new_world=bool(getattr(args, "new_world", False)))
    held = {feed: world.held(feed, latest[feed]) for feed in feeds}
    log.info("continuing the recorded world" if resumed else "started a new world", extra={
        "epoch": world.epoch, "params": world.params, "records_held": held})
    return world, held
@dataclass
class _Runtime:
    """Everything one running producer holds, so shutdown can undo it in order."""

    logs: dict[str, FeedLog] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    failed: threading.Event = field(default_factory=threading.Event)


def run_producer(service: str, source: Source, args: argparse.Namespace, *,
                 socket_feed: str, registry: CollectorRegistry) -> int:
    """Run ``source`` behind the feed log, HTTP API and line socket until signalled."""
    from streamwatch.core import logs
    from streamwatch.core.http import PortBusy, Server, binding, run_until_signalled
    from streamwatch.feed.log import FeedLog, FeedLogError
    from streamwatch.feed.server import FeedAppConfig, FeedMetrics, LineTail, create_app

    logs.setup(service, args.log_level)
    if socket_feed not in source.feeds:
        raise ValueError(f"socket feed {socket_feed!r} is not one of {source.feeds}")
    try:
        publish = _kafka_publisher(service, args, registry) if getattr(args, "kafka", None) \
            else None
    except ValueError as exc:  # before anything is opened: a bad flag changes nothing
        print(f"{service}: {exc}", file=sys.stderr)
        return 2
    rt = _Runtime()
    metrics = FeedMetrics(registry)
    feeds_dir = Path(args.data_dir) / "feeds"
    try:
        for feed in source.feeds:
            rt.logs[feed] = FeedLog.open(
                feeds_dir, feed,
                segment_bytes=args.segment_bytes,
                fsync=args.fsync,
                fsync_interval=args.fsync_interval,
                retention_bytes=args.retention_bytes or None,
                retention_seconds=args.retention_age or None,
                on_fsync=metrics.fsync_seconds.observe,
            )
    except (OSError, FeedLogError) as exc:
        _close_all(rt)
        print(f"{service}: cannot open the feed logs under {feeds_dir}: {exc}. "
              "Check --data-dir (env STREAMWATCH_DATA_DIR) and its permissions.",
              file=sys.stderr)
        return 2
    metrics.watch(rt.logs)

    tail = LineTail(rt.logs[socket_feed], socket_feed, args.host, args.socket_port,
                    buffer_lines=args.socket_buffer, metrics=metrics)
    config = FeedAppConfig(service=service, logs=rt.logs, registry=registry, metrics=metrics,
                           socket_ports={socket_feed: None},
                           max_records_per_request=args.max_records_per_request)
    app = create_app(config)
    try:
        with binding(args.host, args.socket_port, _where("--socket-port")):
            tail.start()
    except (PortBusy, OSError) as exc:
        _close_all(rt)
        return _bind_failed(service, exc, args.host, args.socket_port, "--socket-port")
    config.socket_ports[socket_feed] = tail.port
    try:
        with binding(args.host, args.http_port, _where("--http-port")):
            server = Server(app, args.host, args.http_port)
    except (PortBusy, OSError) as exc:
        tail.stop()
        _close_all(rt)
        return _bind_failed(service, exc, args.host, args.http_port, "--http-port")

    def emit(feed: str, payloads: list[bytes]) -> None:
        if not payloads:
            return
        rt.logs[feed].append_many(payloads)
        metrics.produced.labels(feed).inc(len(payloads))

    def run_source() -> None:
        try:
            source.run(emit, rt.stop)
            if not rt.stop.is_set():
                log.info("source finished; still serving the feeds",
                         extra={"feeds": {f: lg.latest for f, lg in rt.logs.items()}})
        except Exception:
            if rt.stop.is_set():
                return
            log.exception("source failed; shutting down", extra={"service": service})
            rt.failed.set()
            # wake run_until_signalled the same way an operator would
            os.kill(os.getpid(), signal.SIGTERM)

    source_thread = threading.Thread(target=run_source, name="source", daemon=True)
    publisher_thread = None
    if publish is not None:
        publisher = publish(rt.logs)
        publisher_thread = threading.Thread(target=publisher.run, args=(rt.stop,),
                                            name="kafka-publisher", daemon=True)

    def start() -> None:
        server.start()
        config.ready = True
        source_thread.start()
        if publisher_thread is not None:
            publisher_thread.start()
        log.info("producer started", extra={
            "host": args.host, "http_port": server.port, "socket_port": tail.port,
            "socket_feed": socket_feed, "data_dir": str(Path(args.data_dir).resolve()),
            "feeds": {f: {"earliest": lg.earliest, "latest": lg.latest}
                      for f, lg in rt.logs.items()},
            "fsync": args.fsync,
        })

    def stop() -> None:
        rt.stop.set()
        config.ready = False
        source_thread.join(timeout=10)
        if source_thread.is_alive():
            log.warning("source did not stop within 10 s; closing the logs anyway")
        if publisher_thread is not None:
            publisher_thread.join(timeout=30)
        tail.stop()
        server.stop()
        _close_all(rt)
        log.info("producer stopped", extra={
            "feeds": {f: lg.latest for f, lg in rt.logs.items()}})

    run_until_signalled(start, stop)
    return 1 if rt.failed.is_set() else 0


def _kafka_publisher(service: str, args: argparse.Namespace, registry: CollectorRegistry
                     ) -> Callable[[dict[str, FeedLog]], KafkaPublisher]:
    """Checks the ``--kafka`` flags (``ValueError`` names the one to fix) and returns how to
    build the publisher once the feed logs are open."""
    from streamwatch.core.kafka import parse_servers, read_properties
    from streamwatch.feed.kafka_publisher import KafkaPublisher

    # KafkaConfigError is a ValueError and names the flag
    bootstrap = parse_servers(args.kafka, where=f"--kafka {args.kafka}",
                              example="--kafka 127.0.0.1:9092")
    client = read_properties(args.kafka_properties) if args.kafka_properties else {}

    def build(logs: dict[str, FeedLog]) -> KafkaPublisher:
        return KafkaPublisher(service, logs, bootstrap=bootstrap,
                              topic_prefix=args.kafka_topic_prefix, client_config=client,
                              registry=registry)

    return build


def open_seeded_world(service: str, producer: str, args: argparse.Namespace,
                      feeds: tuple[str, ...], asked: dict[str, Any],
                      build: Callable[[dict[str, Any], int], ConfigT]
                      ) -> tuple[World, dict[str, int], ConfigT] | int:
    """For a simulator whose world flags include ``--seed`` and ``--start-time``: check the
    flags, continue or create the world (a fresh seed, the current time), and build the
    generator's config from the world's parameters with ``build(params, epoch)``.

    Returns the world, the records each feed holds and the config; or prints why it
    cannot (naming the flag to fix) and returns the exit code 2.
    """
    import time

    from streamwatch.contracts.events import format_epoch_ms
    from streamwatch.feed import world as worlds

    now = format_epoch_ms(int(time.time() * 1000))
    try:
        # refuse bad flags before a world is recorded with them
        build({**asked, "--seed": asked["--seed"] or 0,
               "--start-time": asked["--start-time"] or now}, 1)
        world, held = open_world(producer, args, feeds, asked, defaults={
            "--seed": worlds.fresh_seed(), "--start-time": now})
        return world, held, build(world.params, world.epoch)
    except ValueError as exc:  # WorldError included
        print(f"{service}: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"{service}: cannot read the feed logs under {args.data_dir}: {exc}. "
              "Check --data-dir (env STREAMWATCH_DATA_DIR).", file=sys.stderr)
    return 2


def _where(flag: str) -> str:
    return f"{flag} (env {flags.env_name(flag)})"


def _bind_failed(service: str, exc: Exception, host: str, port: int, flag: str) -> int:
    """Exit code 2 with why ``host:port`` cannot be bound (``PortBusy``: taken)."""
    if isinstance(exc, OSError):
        msg = f"cannot listen on {host}:{port} ({exc}); check {_where(flag)} and --host"
    else:
        msg = str(exc)
    print(f"{service}: {msg}", file=sys.stderr)
    return 2


def _close_all(rt: _Runtime) -> None:
    for feed, feed_log in rt.logs.items():
        try:
            feed_log.close()
        except OSError:
            log.exception("closing the feed log failed", extra={"feed": feed})
