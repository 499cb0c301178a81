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

from streamwatch.producers.orders.settings import OrdersSettings

PRODUCER = "orders"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    OrdersSettings.add_arguments(parser)


#: the flags that shape the generated world (``streamwatch.feed.world``); --max-events only
#: says where this world stops, so it may change between starts
WORLD_FLAGS = ("--seed", "--rate", "--start-time", "--time-scale", "--cancel-rate",
               "--return-rate", "--duplicate-rate", "--duplicate-delay", "--disorder",
               "--late-fraction", "--late-by")


def world_params(settings: OrdersSettings) -> dict[str, Any]:
    """The world flags of this command line; None where the record decides (a restart
    continues the recorded seed and start time unless they are given)."""
    return {
        "--seed": settings.seed,
        "--rate": settings.rate,
        "--start-time": None if settings.start_time == "now" else settings.start_time,
        "--time-scale": settings.time_scale,
        "--cancel-rate": settings.cancel_rate,
        "--return-rate": settings.return_rate,
        "--duplicate-rate": settings.duplicate_rate,
        "--duplicate-delay": settings.duplicate_delay,
        "--disorder": settings.disorder,
        "--late-fraction": settings.late_fraction,
        "--late-by": settings.late_by,
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
    from streamwatch.core.settings import run_command

    return run_command(OrdersSettings, args, run)


def run(settings: OrdersSettings) -> int:
    import logging

    from prometheus_client import CollectorRegistry

    from streamwatch.feed.producer import open_seeded_world, run_producer
    from streamwatch.producers.orders.simulator import OrderSource

    opened = open_seeded_world("order-simulator", PRODUCER, settings, OrderSource.feeds,
                               world_params(settings), build_config,
                               max_events=settings.max_events)
    if isinstance(opened, int):
        return opened
    world, held, config = opened
    registry = CollectorRegistry()
    source = OrderSource(config, held=held["orders"], registry=registry)
    logging.getLogger(__name__).info("order-simulator configured", extra={
        "seed": config.seed, "rate": config.rate, "time_scale": config.time_scale,
        "epoch": world.epoch, "events_held": held["orders"]})
    return run_producer("order-simulator", source, settings, socket_feed="orders",
                        registry=registry)
