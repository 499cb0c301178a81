"""order-simulator: e-commerce order events (purchased, shipped, delivered, cancelled,
returned) as a replayable feed.

Every order is purchased, then usually shipped and delivered after realistic
delays (median 8 h to ship, 36 h more to deliver), sometimes cancelled before
shipping (--cancel-rate) or returned after delivery (--return-rate).
--time-scale divides those delays: the default 1440 lives a day of an order
in a minute, 1 is real time. Each event lists the order's items:

  {"event_id": "o-000000017/shipped", "order_id": "o-000000017", "status": "shipped",
   "event_time": "2026-11-20T10:15:03.120Z", "region": "eu-west",
   "items": [{"sku": "boo-0042", "category": "books", "quantity": 2, "unit_price": "12.99"}]}

Feed: "orders" (also on the line socket). A restart on the same --data-dir
continues the recorded world (seed and flags in feeds/orders.world.json).

Examples:
  streamwatch orders --seed 1 --rate 100     # ~290 events/s at steady state
  streamwatch orders --duplicate-rate 0.02 --disorder 5s --late-fraction 0.01 --late-by 3m
  streamwatch orders --time-scale 1 --max-events 100000   # real-time delays, a fixed set
"""

from __future__ import annotations

import argparse
from typing import Any

from streamwatch.core import flags
from streamwatch.feed.producer import add_producer_flags

HTTP_PORT = 7105
SOCKET_PORT = 7205
PRODUCER = "orders"


def start_time(text: str) -> str:
    """``now`` or an RFC 3339 timestamp."""
    from streamwatch.contracts.events import parse_ts

    if text != "now":
        try:
            parse_ts(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def time_scale(text: str) -> float:
    value = flags.positive_float(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1 (1 = real-time delays)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("orders")
    flags.add_flag(g, "--rate", default=50.0, type=flags.positive_float,
                   help="orders purchased per second; each makes about 2.9 events (purchased, "
                   "shipped, delivered, ...) once the first orders ship. Event time runs with "
                   "the wall clock")
    flags.add_flag(g, "--seed", default=None, type=flags.non_negative_int,
                   help="random seed; the same seed gives the same orders, items, delays and "
                   "resends (unset = the recorded world's, else a fresh one)")
    flags.add_flag(g, "--start-time", default="now", type=start_time,
                   help="event time of the first order: now or e.g. 2026-11-20T10:00:00Z")
    flags.add_flag(g, "--max-events", default=None, type=flags.positive_int,
                   help="stop generating after this many events and keep serving "
                   "(unset = no limit)")
    flags.add_flag(g, "--time-scale", default=1440.0, type=time_scale,
                   help="divide every lifecycle delay by this: 1 = real time (ship after "
                   "~8 h), 1440 = a day per minute (ship after ~20 s)")
    flags.add_flag(g, "--cancel-rate", default=0.05, type=flags.probability,
                   help="share of orders cancelled before they ship")
    flags.add_flag(g, "--return-rate", default=0.04, type=flags.probability,
                   help="share of delivered orders returned")
    d = parser.add_argument_group("delivery order")
    flags.add_flag(d, "--duplicate-rate", default=0.0, type=flags.probability,
                   help="share of events sent twice (same event_id)")
    flags.add_flag(d, "--duplicate-delay", default=5.0, type=flags.duration_seconds,
                   help="a resend follows its original by up to this much, e.g. 5s")
    flags.add_flag(d, "--disorder", default=0.0, type=flags.duration_seconds,
                   help="deliver each event up to this much after its event_time order, "
                   "e.g. 5s (event_time itself is never changed)")
    flags.add_flag(d, "--late-fraction", default=0.0, type=flags.probability,
                   help="share of events delivered --late-by late")
    flags.add_flag(d, "--late-by", default=0.0, type=flags.duration_seconds,
                   help="delay of late events, e.g. 3m")
    add_producer_flags(parser, http_port=HTTP_PORT, socket_port=SOCKET_PORT)


#: the flags that shape the generated world (``streamwatch.feed.world``); --max-events only
#: says where this world stops, so it may change between starts
WORLD_FLAGS = ("--seed", "--rate", "--start-time", "--time-scale", "--cancel-rate",
               "--return-rate", "--duplicate-rate", "--duplicate-delay", "--disorder",
               "--late-fraction", "--late-by")


def world_params(args: argparse.Namespace) -> dict[str, Any]:
    """The world flags of this command line; None where the record decides (a restart
    continues the recorded seed and start time unless they are given)."""
    return {
        "--seed": args.seed,
        "--rate": args.rate,
        "--start-time": None if args.start_time == "now" else args.start_time,
        "--time-scale": args.time_scale,
        "--cancel-rate": args.cancel_rate,
        "--return-rate": args.return_rate,
        "--duplicate-rate": args.duplicate_rate,
        "--duplicate-delay": args.duplicate_delay,
        "--disorder": args.disorder,
        "--late-fraction": args.late_fraction,
        "--late-by": args.late_by,
    }


def build_config(params: dict[str, Any], *, max_events: int | None = None, epoch: int = 1
                 ) -> Any:
    """``OrderConfig`` from world parameters (every value set); raises ValueError naming
    the flags to fix."""
    from streamwatch.contracts.events import parse_ts
    from streamwatch.producers.orders.simulator import OrderConfig

    config = OrderConfig(
        seed=params["--seed"], rate=params["--rate"],
        anchor_ms=int(parse_ts(params["--start-time"]).timestamp() * 1000),
        time_scale=params["--time-scale"], cancel_rate=params["--cancel-rate"],
        return_rate=params["--return-rate"], duplicate_rate=params["--duplicate-rate"],
        duplicate_delay_s=params["--duplicate-delay"], disorder_s=params["--disorder"],
        late_fraction=params["--late-fraction"], late_by_s=params["--late-by"],
        max_events=max_events, epoch=epoch)
    problems = config.problems()
    if problems:
        raise ValueError("; ".join(problems))
    return config


def main(args: argparse.Namespace) -> int:
    import logging

    from prometheus_client import CollectorRegistry

    from streamwatch.feed.producer import open_seeded_world, run_producer
    from streamwatch.producers.orders.simulator import OrderSource

    opened = open_seeded_world(
        "order-simulator", PRODUCER, args, OrderSource.feeds, world_params(args),
        lambda params, epoch: build_config(params, max_events=args.max_events, epoch=epoch))
    if isinstance(opened, int):
        return opened
    world, held, config = opened
    registry = CollectorRegistry()
    source = OrderSource(config, held=held["orders"], registry=registry)
    logging.getLogger(__name__).info("order-simulator configured", extra={
        "seed": config.seed, "rate": config.rate, "time_scale": config.time_scale,
        "epoch": world.epoch, "events_held": held["orders"]})
    return run_producer("order-simulator", source, args, socket_feed="orders",
                        registry=registry)
