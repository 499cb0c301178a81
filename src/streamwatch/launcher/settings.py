"""Settings of ``streamwatch run``: each declared once, as flag and env twin.

``STREAMWATCH_RUN_<FLAG>`` twins every flag (``STREAMWATCH_<FLAG>`` is still read for one
release): the flat ``STREAMWATCH_ALERTING_PORT`` of ``--alerting-port`` is now the
alerting service's own ``--port`` twin, so a shell exporting it for one moved the other.
The launcher hands its children their settings as flags, never through these names.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamwatch.core.flags import duration_seconds, port, positive_float
from streamwatch.core.settings import Settings, or_none, setting, switch, text_or_none

SERVICES = "services"
SPARK = "Spark jobs"


@dataclass(frozen=True)
class RunSettings(Settings):
    service = "RUN"
    command = "streamwatch run"

    headless: bool = switch(help="log status lines instead of the live view")
    duration: float | None = setting(
        None, parser=or_none(duration_seconds), metavar="DURATION",
        help="stop after this long (e.g. 90, 90s, 5m); runs until Ctrl-C when unset")
    webhook: str | None = setting(
        None, parser=text_or_none, metavar="URL",
        help="subscribe this URL to fraud alerts at start and print its secret once")
    data_dir: Path = setting(Path("./.streamwatch"), parser=Path,
                             help="feed logs, alert database, checkpoints and logs")
    refresh: float = setting(1.0, parser=duration_seconds, metavar="DURATION",
                             help="how often the view polls the services")
    tweet_rate: float = setting(200.0, parser=positive_float, group=SERVICES,
                                help="synthetic tweets per second")
    txn_rate: float = setting(200.0, parser=positive_float, group=SERVICES,
                              help="simulated card transactions per second")
    order_rate: float = setting(
        20.0, parser=positive_float, group=SERVICES,
        help="orders purchased per second (each makes ~2.9 events: shipped, delivered, ...; "
             "a day of an order's life passes in a minute)")
    seed: int | None = setting(
        None, parser=or_none(int), group=SERVICES,
        help="seed for the generators (unset: the one recorded under --data-dir by an "
             "earlier run, else random)")
    new_world: bool = switch(
        group=SERVICES,
        help="the generators start a new world (new seed unless --seed, new ids) instead of "
             "continuing the one recorded under --data-dir")
    tweets_port: int = setting(7101, parser=port, group=SERVICES,
                               help="tweet-ingester HTTP port")
    tweets_socket_port: int = setting(7201, parser=port, group=SERVICES,
                                      help="tweet-ingester TCP line socket port")
    txns_port: int = setting(7102, parser=port, group=SERVICES,
                             help="txn-simulator HTTP port")
    txns_socket_port: int = setting(7202, parser=port, group=SERVICES,
                                    help="txn-simulator TCP line socket port")
    orders_port: int = setting(7105, parser=port, group=SERVICES,
                               help="order-simulator HTTP port")
    orders_socket_port: int = setting(7205, parser=port, group=SERVICES,
                                      help="order-simulator TCP line socket port")
    alerting_port: int = setting(7103, parser=port, group=SERVICES,
                                 help="alerting HTTP port")
    exporter_port: int = setting(7104, parser=port, group=SERVICES,
                                 help="metrics-exporter HTTP port")
    no_spark: bool = switch(group=SPARK,
                              help="start the services only, without the Spark jobs")
    master: str = setting("local[*]", group=SPARK, help="Spark master for the jobs")
    trigger: str = setting("2s", metavar="DURATION", group=SPARK,
                           help="micro-batch trigger interval of the Spark jobs")
    trend_window: str = setting(
        "1m", metavar="DURATION", group=SPARK,
        help="hashtag window of the embedded run; short so that closed, exactly ranked "
             "windows appear within a minute (`streamwatch process hashtags` defaults to 5m)")
    trend_slide: str = setting("10s", metavar="DURATION", group=SPARK,
                               help="hashtag window slide")
    sentiment_window: str = setting(
        "1m", metavar="DURATION", group=SPARK,
        help="tumbling window of the overall sentiment; short so that the dashboard's "
             "sentiment line grows every minute (`streamwatch process hashtags` defaults "
             "to 15m)")
    trend_watermark: str = setting(
        "15s", metavar="DURATION", group=SPARK,
        help="how late a tweet may arrive and still count; a window is published once the "
             "watermark passes its end")
    orders_watermark: str = setting(
        "15s", metavar="DURATION", group=SPARK,
        help="how late an order event may arrive and still count; a minute of orders is "
             "published once the watermark passes its end (`streamwatch process orders` "
             "defaults to 1m)")

    def validate(self) -> None:
        seen: dict[int, str] = {}
        for name in PORTS:
            number = getattr(self, name)
            if number in seen:
                raise self.problem(name, f"{self.flag(name)} and {self.flag(seen[number])} "
                                   f"are both {number}", "; give each service its own port")
            seen[number] = name


#: the port settings, one per service the launcher starts
PORTS = ("tweets_port", "tweets_socket_port", "txns_port", "txns_socket_port", "orders_port",
         "orders_socket_port", "alerting_port", "exporter_port")
