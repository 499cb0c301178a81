"""Settings every producer shares: the feed server, its log and the optional Kafka copy.

Each producer (``streamwatch tweets``, ``txns``, ``orders``) derives its settings from
:class:`ProducerSettings` with its own env prefix (``STREAMWATCH_TWEETS_HTTP_PORT``,
``STREAMWATCH_TXNS_HTTP_PORT``, ...): with one flat ``STREAMWATCH_HTTP_PORT`` a shell
or a compose anchor meant for one producer moved all three. The flat names are still
read for one release (``streamwatch.core.settings``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamwatch.core.flags import byte_size, duration_seconds, port, positive_int
from streamwatch.core.settings import Settings, path_or_none, setting, switch, text_or_none

FSYNC_POLICIES = ("always", "interval", "never")
LOG_LEVELS = ("debug", "info", "warning", "error")
FEED = "feed server and log"
KAFKA = "Kafka (optional)"


def http_port(default: int) -> int:
    """The ``--http-port`` field of a producer whose port is ``default``."""
    chosen: int = setting(default, parser=port, group=FEED,
                          help="HTTP port of the feed API, /metrics and /openapi.json "
                               "(0 = any free)")
    return chosen


def socket_port(default: int) -> int:
    """The ``--socket-port`` field of a producer whose line socket is ``default``."""
    chosen: int = setting(default, parser=port, group=FEED,
                          help="TCP port of the live line socket (0 = any free)")
    return chosen


@dataclass(frozen=True)
class ProducerSettings(Settings):
    """The flags of the feed runtime (``streamwatch.feed.producer``); a producer's
    subclass sets ``service``, ``command``, its ports and adds its source's flags."""

    host: str = setting("127.0.0.1", group=FEED,
                        help="address to bind the HTTP API and the line socket to "
                             "(0.0.0.0 in a container)")
    http_port: int = http_port(0)
    socket_port: int = socket_port(0)
    data_dir: Path = setting(Path("./.streamwatch"), parser=Path, group=FEED,
                             help="directory that holds the feed logs (under feeds/<feed>/)")
    fsync: str = setting("interval", choices=FSYNC_POLICIES, group=FEED,
                         help="when appended records are fsynced: always (every batch), "
                              "interval (group commit every --fsync-interval) or never (the "
                              "OS decides; survives a process crash, not a power loss)")
    fsync_interval: float = setting(0.1, parser=duration_seconds, metavar="DURATION",
                                    group=FEED,
                                    help="group-commit period for --fsync interval, e.g. 100ms")
    segment_bytes: int = setting(64 << 20, parser=byte_size, metavar="SIZE", group=FEED,
                                 help="roll a new log segment at this size, e.g. 64MiB")
    retention_bytes: int = setting(1 << 30, parser=byte_size, metavar="SIZE", group=FEED,
                                   help="keep at most this many bytes per feed by deleting "
                                        "the oldest sealed segments, e.g. 1GiB (0 = unlimited)")
    retention_age: float = setting(0.0, parser=duration_seconds, metavar="DURATION",
                                   group=FEED,
                                   help="delete sealed segments older than this, e.g. 24h "
                                        "(0 = keep)")
    max_records_per_request: int = setting(
        10_000, parser=positive_int, group=FEED,
        help="cap on records returned by one GET /v1/feeds/{feed}/records")
    socket_buffer: int = setting(10_000, parser=positive_int, group=FEED,
                                 help="lines buffered per line-socket client; a client that "
                                      "falls further behind is disconnected")
    log_level: str = setting("info", choices=LOG_LEVELS, group=FEED, help="log level")
    new_world: bool = switch(group=FEED,
                             help="start a new world (seed, population, ids with a new epoch) "
                                  "instead of continuing the one recorded under --data-dir; "
                                  "the feeds keep their earlier records")
    kafka: str | None = setting(
        None, parser=text_or_none, metavar="HOST:PORT[,HOST:PORT]", group=KAFKA,
        help="also publish every feed to Kafka at these bootstrap servers, exactly once "
             "(transactions); the feed log stays the local durable buffer")
    kafka_topic_prefix: str = setting("", metavar="PREFIX", group=KAFKA,
                                      help="topic of a feed: PREFIX + feed name "
                                           "(e.g. transactions)")
    kafka_properties: Path | None = setting(
        None, parser=path_or_none, metavar="FILE", group=KAFKA,
        help="Kafka client properties (TLS/SASL), key=value lines")
