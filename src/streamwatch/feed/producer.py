"""The runtime every producer shares: feed logs, the feed HTTP API, the line socket.

A producer CLI (``streamwatch tweets``, ``txns``, ``orders``) declares its settings as a
subclass of :class:`~streamwatch.feed.settings.ProducerSettings` (the flags below plus its
source's), builds its :class:`~streamwatch.feed.sources.Source` and calls
:func:`run_producer` in its ``main``::

    def add_arguments(parser):
        TxnsSettings.add_arguments(parser)

    def main(args):
        settings = TxnsSettings.from_args(args)
        registry = CollectorRegistry()
        source = TxnSource(..., registry=registry)
        return run_producer("txn-simulator", source, settings,
                            socket_feed="transactions", registry=registry)

``run_producer`` opens one :class:`~streamwatch.feed.log.FeedLog` per feed under
``<data-dir>/feeds/<feed>/``, serves them over HTTP and tails ``socket_feed``
on the TCP line socket, runs the source in a thread, and on SIGTERM/SIGINT
stops the source, fsyncs and closes the logs and exits 0. A busy port exits 2
with a message naming the flag; a source that crashes exits 1.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from streamwatch.feed.kafka_publisher import KafkaPublisher
    from streamwatch.feed.log import FeedLog
    from streamwatch.feed.settings import ProducerSettings
    from streamwatch.feed.sources import Source
    from streamwatch.feed.world import World

log = logging.getLogger(__name__)

ConfigT = TypeVar("ConfigT")
ConfigT_co = TypeVar("ConfigT_co", covariant=True)


class BuildConfig(Protocol[ConfigT_co]):
    """A simulator's config from its world's parameters; ValueError names the flags to fix."""

    def __call__(self, params: dict[str, Any], *, max_events: int | None, epoch: int
                 ) -> ConfigT_co: ...


def latest_offsets(settings: ProducerSettings, feeds: tuple[str, ...]) -> dict[str, int]:
    """Each feed's latest offset under ``--data-dir`` (0 for a feed with no log yet)."""
    from streamwatch.feed.log import FeedLog

    out = {}
    for feed in feeds:
        if not (settings.data_dir / "feeds" / feed).exists():
            out[feed] = 0
            continue
        feed_log = FeedLog.open(settings.data_dir / "feeds", feed,
                                segment_bytes=settings.segment_bytes, fsync="never")
        try:
            out[feed] = feed_log.latest
        finally:
            feed_log.close()
    return out


def open_world(producer: str, settings: ProducerSettings, feeds: tuple[str, ...],
               asked: dict[str, Any], defaults: dict[str, Any]) -> tuple[World, dict[str, int]]:
    """The world this start continues or creates (``streamwatch.feed.world``), and how many of
    its records each feed already holds. Raises ``WorldError``/``OSError`` with the fix."""
    from streamwatch.feed import world as worlds

    latest = latest_offsets(settings, feeds)
    world, resumed = worlds.resume_or_create(
        settings.data_dir, producer, asked, defaults=defaults, latest=latest,
        new_world=settings.new_world)
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


def run_producer(service: str, source: Source, settings: ProducerSettings, *,
                 socket_feed: str, registry: CollectorRegistry) -> int:
    """Run ``source`` behind the feed log, HTTP API and line socket until signalled."""
    from streamwatch.core import logs
    from streamwatch.core.http import PortBusy, Server, binding, run_until_signalled
    from streamwatch.feed.log import FeedLog, FeedLogError
    from streamwatch.feed.server import FeedAppConfig, FeedMetrics, LineTail, create_app

    logs.setup(service, settings.log_level)
    if socket_feed not in source.feeds:
        raise ValueError(f"socket feed {socket_feed!r} is not one of {source.feeds}")
    try:
        publish = _kafka_publisher(service, settings, registry) if settings.kafka else None
    except ValueError as exc:  # before anything is opened: a bad flag changes nothing
        print(f"{service}: {exc}", file=sys.stderr)
        return 2
    rt = _Runtime()
    metrics = FeedMetrics(registry)
    feeds_dir = settings.data_dir / "feeds"
    try:
        for feed in source.feeds:
            rt.logs[feed] = FeedLog.open(
                feeds_dir, feed,
                segment_bytes=settings.segment_bytes,
                fsync=settings.fsync,
                fsync_interval=settings.fsync_interval,
                retention_bytes=settings.retention_bytes or None,
                retention_seconds=settings.retention_age or None,
                on_fsync=metrics.fsync_seconds.observe,
            )
    except (OSError, FeedLogError) as exc:
        _close_all(rt)
        print(f"{service}: cannot open the feed logs under {feeds_dir}: {exc}. "
              f"Check {settings.where('data_dir')} and its permissions.",
              file=sys.stderr)
        return 2
    metrics.watch(rt.logs)

    tail = LineTail(rt.logs[socket_feed], socket_feed, settings.host, settings.socket_port,
                    buffer_lines=settings.socket_buffer, metrics=metrics)
    config = FeedAppConfig(service=service, logs=rt.logs, registry=registry, metrics=metrics,
                           socket_ports={socket_feed: None},
                           max_records_per_request=settings.max_records_per_request)
    app = create_app(config)
    try:
        with binding(settings.host, settings.socket_port, settings.where("socket_port")):
            tail.start()
    except (PortBusy, OSError) as exc:
        _close_all(rt)
        return _bind_failed(service, exc, settings, "socket_port")
    config.socket_ports[socket_feed] = tail.port
    try:
        with binding(settings.host, settings.http_port, settings.where("http_port")):
            server = Server(app, settings.host, settings.http_port)
    except (PortBusy, OSError) as exc:
        tail.stop()
        _close_all(rt)
        return _bind_failed(service, exc, settings, "http_port")

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
            "host": settings.host, "http_port": server.port, "socket_port": tail.port,
            "socket_feed": socket_feed, "data_dir": str(settings.data_dir.resolve()),
            "feeds": {f: {"earliest": lg.earliest, "latest": lg.latest}
                      for f, lg in rt.logs.items()},
            "fsync": settings.fsync,
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


def _kafka_publisher(service: str, settings: ProducerSettings, registry: CollectorRegistry
                     ) -> Callable[[dict[str, FeedLog]], KafkaPublisher]:
    """Checks the ``--kafka`` flags (``ValueError`` names the one to fix) and returns how to
    build the publisher once the feed logs are open."""
    from streamwatch.core.kafka import parse_servers, read_properties
    from streamwatch.feed.kafka_publisher import KafkaPublisher

    # KafkaConfigError is a ValueError and names the flag
    servers = settings.kafka or ""
    bootstrap = parse_servers(servers, where=f"--kafka {servers!r} (env {settings.env('kafka')})",
                              example="--kafka 127.0.0.1:9092")
    client = read_properties(settings.kafka_properties, flag=settings.where("kafka_properties")) \
        if settings.kafka_properties else {}

    def build(logs: dict[str, FeedLog]) -> KafkaPublisher:
        return KafkaPublisher(service, logs, bootstrap=bootstrap,
                              topic_prefix=settings.kafka_topic_prefix, client_config=client,
                              registry=registry)

    return build


def open_seeded_world(service: str, producer: str, settings: ProducerSettings,
                      feeds: tuple[str, ...], asked: dict[str, Any],
                      build: BuildConfig[ConfigT], *, max_events: int | None
                      ) -> tuple[World, dict[str, int], ConfigT] | int:
    """For a simulator whose world flags include ``--seed`` and ``--start-time``: check the
    flags, continue or create the world (a fresh seed, the current time), and build the
    generator's config from the world's parameters with
    ``build(params, max_events=max_events, epoch=epoch)``.

    Returns the world, the records each feed holds and the config; or prints why it
    cannot (naming the flag to fix) and returns the exit code 2.
    """
    import time

    from streamwatch.contracts.events import format_epoch_ms
    from streamwatch.core import logs
    from streamwatch.feed import world as worlds

    # before the world is opened: the simulator logs its configuration (the fresh seed
    # among it) once built, before run_producer starts serving
    logs.setup(service, settings.log_level)
    now = format_epoch_ms(int(time.time() * 1000))
    try:
        # refuse bad flags before a world is recorded with them
        build({**asked, "--seed": asked["--seed"] or 0,
               "--start-time": asked["--start-time"] or now},
              max_events=max_events, epoch=1)
        world, held = open_world(producer, settings, feeds, asked, defaults={
            "--seed": worlds.fresh_seed(), "--start-time": now})
        return world, held, build(world.params, max_events=max_events, epoch=world.epoch)
    except ValueError as exc:  # WorldError included
        print(f"{service}: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"{service}: cannot read the feed logs under {settings.data_dir}: {exc}. "
              f"Check {settings.where('data_dir')}.", file=sys.stderr)
    return 2


def _bind_failed(service: str, exc: Exception, settings: ProducerSettings, name: str) -> int:
    """Exit code 2 with why the port of setting ``name`` cannot be bound (``PortBusy``:
    taken)."""
    port = getattr(settings, name)
    if isinstance(exc, OSError):
        msg = (f"cannot listen on {settings.host}:{port} ({exc}); check {settings.where(name)} "
               f"and {settings.where('host')}")
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
