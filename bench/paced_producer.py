"""A producer for the processor benchmarks: the product's feed log, feed HTTP API and line
socket, wired as ``streamwatch.feed.producer.run_producer`` wires them, in a child process.

Key concepts:
- The child opens a ``FeedLog`` with the producer's default flags (``TweetsSettings``:
  fsync interval 100 ms, 64 MiB segments, 1 GiB retention), serves it with
  ``create_app(FeedAppConfig(...))`` on ``streamwatch.core.http.Server`` and tails it
  on a ``LineTail`` (the line socket, default ``--socket-buffer``), all on 127.0.0.1
  with free ports.
- It is fed either all at once (``fill``: a backlog) or by a paced appender (``pace``):
  ``streamwatch.feed.sources.Pacer`` in 10 ms ticks, as the product's sources pace
  themselves. The real ``streamwatch tweets`` generator makes ~65k tweets/s on one
  core of this machine, too few to pace the feed source to its limit while Spark
  shares the cores, so the paced lines are a pool of the generator's tweets, cycled.
  ``pool="orders"`` (with ``feed="orders"``) fills the orders feed from the orders
  simulator instead (``iter_orders``), with ``OrdersSettings``' defaults.
- A child process, not a thread of the benchmark: the producer is a process of its
  own in the product too, and the driver's GIL stays out of the producer's way.

Usage::

    with PacedProducer(tmp_dir, pool="generator") as p:
        p.http_port, p.socket_port
        p.fill(1_000_000)                 # a backlog
        t0 = p.pace(20_000)               # append 20k lines/s from now
        timeline = p.stop_pace()          # [(monotonic_s, appended), ...] per tick
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

FEED = "tweets"
WORDS = ("spark", "streaming", "data", "fast", "great", "awful", "love", "hate", "launch",
         "day", "model", "cloud", "query", "stream", "window", "watermark", "state")
TAGS = ("Spark", "streaming", "data", "AI", "ML", "cloud", "bigdata", "python", "Café")


def iter_tweets(n: int, seed: int = 1) -> Iterator[bytes]:
    """N tweets of 8 words and 0-3 tags, 500 per second of event time (the hashtags input),
    ids 0..N-1."""
    rng = random.Random(seed)
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(8)) + " " + " ".join(
            "#" + rng.choice(TAGS) for _ in range(rng.randint(0, 3)))
        ms = i * 2  # 500 tweets per second of event time
        yield orjson.dumps({
            "id": str(i), "created_at": f"2026-11-20T{10 + ms // 3_600_000:02d}:"
            f"{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}Z",
            "user": "u", "lang": "en", "text": text})


def make_tweets(n: int, seed: int = 1) -> list[bytes]:
    return list(iter_tweets(n, seed))


def generator_pool(n: int, seed: int = 7) -> list[bytes]:
    """N tweets of the product's synthetic generator (``streamwatch tweets`` defaults)."""
    from streamwatch.producers.tweets.synthetic import SyntheticConfig, TweetGenerator

    gen = TweetGenerator(SyntheticConfig(), seed)
    now = int(time.time() * 1000)
    out: list[bytes] = []
    while len(out) < n:
        out.extend(gen.next_payloads(min(10_000, n - len(out)), now))
    return out


def iter_orders(n: int, rate: float, seed: int = 1) -> Iterator[bytes]:
    """N order events of the product's simulator: ``rate`` orders purchased a second of
    event time, ``time_scale`` 14,400 so shipments and deliveries follow within the input,
    2 % resends, 3 s of disorder, event time from 2026-11-20T10:00Z."""
    from streamwatch.contracts.events import parse_ts
    from streamwatch.producers.orders.simulator import OrderConfig, OrderGenerator

    config = OrderConfig(seed=seed, rate=rate, time_scale=14_400, duplicate_rate=0.02,
                         disorder_s=3,
                         anchor_ms=int(parse_ts("2026-11-20T10:00:00Z").timestamp() * 1000))
    gen = OrderGenerator(config)
    for start in range(0, n, 10_000):
        yield from gen.take(min(10_000, n - start))


def _child(conn: Any, data_dir: str, pool: str, pool_size: int, seed: int, feed: str,
           order_rate: float) -> None:
    from prometheus_client import CollectorRegistry

    from streamwatch.core.http import Server
    from streamwatch.feed.log import FeedLog
    from streamwatch.feed.server import FeedAppConfig, FeedMetrics, LineTail, create_app
    from streamwatch.feed.sources import Pacer
    from streamwatch.processor.cli import parse_settings
    from streamwatch.producers.orders.settings import OrdersSettings
    from streamwatch.producers.tweets.settings import TweetsSettings

    settings_type = OrdersSettings if feed == "orders" else TweetsSettings
    s = parse_settings(settings_type, ["--data-dir", data_dir, "--http-port", "0",
                                       "--socket-port", "0", "--host", "127.0.0.1"])
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # "bench" (the hashtags input) and "orders" (the orders simulator's events) are made as
    # they are appended, so millions of lines need not sit in memory; "generator": a pool
    # of the product's tweets, cycled by the pacer
    stream: Iterator[bytes] | None = (
        iter_tweets(pool_size, seed) if pool == "bench"
        else iter_orders(pool_size, order_rate, seed) if pool == "orders" else None)
    lines = [] if stream is not None else generator_pool(pool_size, seed)
    registry = CollectorRegistry()
    metrics = FeedMetrics(registry)
    feed_log = FeedLog.open(s.data_dir / "feeds", feed, segment_bytes=s.segment_bytes,
                            fsync=s.fsync, fsync_interval=s.fsync_interval,
                            retention_bytes=s.retention_bytes or None,
                            retention_seconds=s.retention_age or None,
                            on_fsync=metrics.fsync_seconds.observe)
    metrics.watch({feed: feed_log})
    tail = LineTail(feed_log, feed, s.host, s.socket_port, buffer_lines=s.socket_buffer,
                    metrics=metrics).start()
    config = FeedAppConfig(service="bench-producer", logs={feed: feed_log}, registry=registry,
                           metrics=metrics, socket_ports={feed: tail.port},
                           max_records_per_request=s.max_records_per_request, ready=True)
    server = Server(create_app(config), s.host, s.http_port).start()
    conn.send({"http_port": server.port, "socket_port": tail.port,
               "fsync": s.fsync, "socket_buffer": s.socket_buffer,
               "max_records_per_request": s.max_records_per_request})

    stop = threading.Event()
    timeline: list[tuple[float, int]] = []
    pacer_thread: threading.Thread | None = None
    cursor = 0

    def take(n: int) -> list[bytes]:
        nonlocal cursor
        if stream is not None:
            return list(itertools.islice(stream, n))
        out: list[bytes] = []
        while len(out) < n:
            chunk = lines[cursor:cursor + n - len(out)]
            out.extend(chunk)
            cursor = (cursor + len(chunk)) % len(lines)
        return out

    def pace(rate: float) -> None:
        pacer = Pacer(rate)
        appended = 0
        timeline.append((time.monotonic(), 0))
        while pacer.wait(stop):
            n = pacer.due()
            if n:
                feed_log.append_many(take(n))
                appended += n
            timeline.append((time.monotonic(), appended))

    def dropped() -> float:
        return metrics.socket_dropped.labels(feed)._value.get()

    try:
        while True:
            cmd, arg = conn.recv()
            if cmd == "fill":
                t0 = time.monotonic()
                for start in range(0, arg, 10_000):
                    chunk = take(min(10_000, arg - start))
                    if chunk:
                        feed_log.append_many(chunk)
                feed_log.flush()
                conn.send({"latest": feed_log.latest, "seconds": time.monotonic() - t0})
            elif cmd == "wait_client":
                deadline = time.monotonic() + arg
                while tail.client_count < 1 and time.monotonic() < deadline:
                    time.sleep(0.05)
                conn.send(tail.client_count)
            elif cmd == "pace":
                stop.clear()
                timeline.clear()
                pacer_thread = threading.Thread(target=pace, args=(arg,), daemon=True)
                pacer_thread.start()
                while not timeline:
                    time.sleep(0.001)
                conn.send(timeline[0][0])
            elif cmd == "stop_pace":
                stop.set()
                if pacer_thread is not None:
                    pacer_thread.join()
                conn.send({"timeline": list(timeline), "latest": feed_log.latest,
                           "socket_dropped": dropped()})
            elif cmd == "stats":
                conn.send({"latest": feed_log.latest, "clients": tail.client_count,
                           "socket_dropped": dropped()})
            elif cmd == "quit":
                break
    finally:
        stop.set()
        tail.stop()
        server.stop()
        feed_log.close()
        conn.close()


class PacedProducer:
    """The child process above, driven over a pipe; ``with`` starts and stops it."""

    def __init__(self, data_dir: Path, *, pool: str = "generator", pool_size: int = 50_000,
                 seed: int = 7, feed: str = FEED, order_rate: float = 2000.0) -> None:
        if (pool == "orders") != (feed == "orders"):
            raise ValueError(f"pool {pool!r} does not belong on feed {feed!r}")
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child, args=(child, str(data_dir), pool, pool_size,
                                                      seed, feed, order_rate), daemon=True)
        self.feed = feed
        self.info: dict[str, Any] = {}

    def __enter__(self) -> PacedProducer:
        self._proc.start()
        if not self._conn.poll(120):
            raise TimeoutError("the benchmark producer did not start in 120 s")
        self.info = self._conn.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self._conn.send(("quit", None))
        self._proc.join(timeout=30)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()

    @property
    def http_port(self) -> int:
        return int(self.info["http_port"])

    @property
    def feed_spec(self) -> str:
        """The processor's ``--source`` for this feed over HTTP."""
        return f"feed:http://127.0.0.1:{self.http_port}/{self.feed}"

    @property
    def socket_port(self) -> int:
        return int(self.info["socket_port"])

    def _ask(self, cmd: str, arg: Any = None) -> Any:
        self._conn.send((cmd, arg))
        return self._conn.recv()

    def fill(self, n: int) -> dict[str, Any]:
        """Append ``n`` lines as fast as the log takes them; ``{"latest", "seconds"}``."""
        out: dict[str, Any] = self._ask("fill", n)
        return out

    def wait_client(self, timeout: float) -> int:
        """Line-socket clients connected, after waiting up to ``timeout`` s for one."""
        return int(self._ask("wait_client", timeout))

    def pace(self, rate: float) -> float:
        """Start appending ``rate`` lines/s; the monotonic time the pacer started."""
        return float(self._ask("pace", rate))

    def stop_pace(self) -> dict[str, Any]:
        """Stop the pacer: ``{"timeline": [(t, appended), ...], "latest", "socket_dropped"}``."""
        out: dict[str, Any] = self._ask("stop_pace")
        return out

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = self._ask("stats")
        return out
