"""Run the whole product on this machine: tweet-ingester, txn-simulator,
order-simulator, alerting and metrics-exporter as local processes, the
hashtags, fraud and orders jobs in one Spark local[*] session, and a live
terminal view.

Data, feed logs, the alert database, checkpoints and logs live under
--data-dir (default ./.streamwatch); starting again resumes from there.

Examples:
  streamwatch run
  streamwatch run --headless --duration 90
  streamwatch run --webhook http://127.0.0.1:9000/hook
"""

from __future__ import annotations

import argparse

from streamwatch.core.flags import add_flag, add_switch, duration_seconds, port, positive_float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_switch(parser, "--headless", help="log status lines instead of the live view")
    add_flag(parser, "--duration", type=duration_seconds, default=None,
             help="stop after this long (e.g. 90, 90s, 5m); runs until Ctrl-C when unset")
    add_flag(parser, "--webhook", default=None, metavar="URL",
             help="subscribe this URL to fraud alerts at start and print its secret once")
    add_flag(parser, "--data-dir", default="./.streamwatch",
             help="feed logs, alert database, checkpoints and logs")
    add_flag(parser, "--tweet-rate", type=positive_float, default=200.0,
             help="synthetic tweets per second")
    add_flag(parser, "--txn-rate", type=positive_float, default=200.0,
             help="simulated card transactions per second")
    add_flag(parser, "--order-rate", type=positive_float, default=20.0,
             help="orders purchased per second (each makes ~2.9 events: shipped, "
                  "delivered, ...; a day of an order's life passes in a minute)")
    add_flag(parser, "--seed", type=int, default=None,
             help="seed for the generators (unset: the one recorded under --data-dir by "
             "an earlier run, else random)")
    add_switch(parser, "--new-world",
               help="the generators start a new world (new seed unless --seed, new ids) "
               "instead of continuing the one recorded under --data-dir")
    add_flag(parser, "--tweets-port", type=port, default=7101, help="tweet-ingester HTTP port")
    add_flag(parser, "--tweets-socket-port", type=port, default=7201,
             help="tweet-ingester TCP line socket port")
    add_flag(parser, "--txns-port", type=port, default=7102, help="txn-simulator HTTP port")
    add_flag(parser, "--txns-socket-port", type=port, default=7202,
             help="txn-simulator TCP line socket port")
    add_flag(parser, "--orders-port", type=port, default=7105,
             help="order-simulator HTTP port")
    add_flag(parser, "--orders-socket-port", type=port, default=7205,
             help="order-simulator TCP line socket port")
    add_flag(parser, "--alerting-port", type=port, default=7103, help="alerting HTTP port")
    add_flag(parser, "--exporter-port", type=port, default=7104, help="metrics-exporter HTTP port")
    add_flag(parser, "--master", default="local[*]", help="Spark master for the jobs")
    add_flag(parser, "--trigger", default="2s",
             help="micro-batch trigger interval of the Spark jobs")
    add_flag(parser, "--trend-window", default="1m",
             help="hashtag window of the embedded run; short so that closed, exactly "
                  "ranked windows appear within a minute (`streamwatch process hashtags` "
                  "defaults to 5m)")
    add_flag(parser, "--trend-slide", default="10s", help="hashtag window slide")
    add_flag(parser, "--sentiment-window", default="1m",
             help="tumbling window of the overall sentiment; short so that the dashboard's "
                  "sentiment line grows every minute (`streamwatch process hashtags` "
                  "defaults to 15m)")
    add_flag(parser, "--trend-watermark", default="15s",
             help="how late a tweet may arrive and still count; a window is published "
                  "once the watermark passes its end")
    add_flag(parser, "--orders-watermark", default="15s",
             help="how late an order event may arrive and still count; a minute of orders "
                  "is published once the watermark passes its end (`streamwatch process "
                  "orders` defaults to 1m)")
    add_switch(parser, "--no-spark", help="start the services only, without the Spark jobs")
    add_flag(parser, "--refresh", type=duration_seconds, default=1.0,
             help="how often the view polls the services")


def main(args: argparse.Namespace) -> int:
    from streamwatch.launcher.launcher import Launcher

    return Launcher(args).run()
