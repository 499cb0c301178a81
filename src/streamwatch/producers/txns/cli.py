"""txn-simulator: card transactions with labelled fraud, as two replayable feeds.

A seeded population of customers (homes in 60 cities, one device, a channel
profile, spending per category) buys from merchants in their city and online.
A share of transactions (--fraud-rate) belongs to fraud incidents of five
scenarios: card_testing, velocity, impossible_travel, amount_spike and
account_takeover (docs/fraud-scenarios.md gives each one's signature).

Feeds: "transactions" (what a detector sees; also on the line socket) and
"labels" ({"txn_id", "is_fraud", "scenario", "incident_id"}, one per
transaction, for evaluation only).

Examples:
  streamwatch txns --seed 1 --rate 1000
  streamwatch txns --fraud-rate 0.05 --scenario-weights card_testing=2,velocity=1
  streamwatch txns --disorder 5s --late-fraction 0.01 --late-by 10m
  streamwatch txns --seed 7 --max-events 100000     # a fixed data set, then keep serving
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from streamwatch.contracts.events import DETECTION_CLOCK_SKEW, SCENARIOS, parse_ts
from streamwatch.core import flags
from streamwatch.feed.producer import add_producer_flags

HTTP_PORT = 7102
SOCKET_PORT = 7202


def scenario_weights(text: str) -> dict[str, float]:
    """``card_testing=2,velocity=1`` -> weights; scenarios not named keep weight 1."""
    weights = dict.fromkeys(SCENARIOS, 1.0)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in SCENARIOS:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not SCENARIO=WEIGHT with SCENARIO one of {list(SCENARIOS)}")
        try:
            weight = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"weight {value!r} of {name} is not a number") \
                from None
        if weight < 0:
            raise argparse.ArgumentTypeError(f"weight of {name} must be >= 0")
        weights[name] = weight
    return weights


def start_time(text: str) -> str:
    """``now`` or an RFC 3339 timestamp no later than the detection clock allows."""
    if text != "now":
        try:
            at = parse_ts(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        if at > datetime.now(UTC) + DETECTION_CLOCK_SKEW:
            raise argparse.ArgumentTypeError(
                f"{text} is in the future: alerts on its transactions would be detected "
                "before they happened, which the alerting service refuses; give a past "
                "time or now")
    return text






def add_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("transactions")
    flags.add_flag(g, "--rate", default=200.0, type=flags.positive_float,
                   help="transactions per second (event time advances at the same pace)")
    flags.add_flag(g, "--seed", default=None, type=flags.non_negative_int,
                   help="random seed; the same seed gives the same population, ids, amounts "
                   "and incidents (unset = a fresh seed, logged at start)")
    flags.add_flag(g, "--cards", default=None, type=flags.positive_int,
                   help="number of customers, one card each (unset = 3 x rate x "
                   "--legit-min-gap, at least 10000)")
    flags.add_flag(g, "--legit-min-gap", default=60.0, type=flags.positive_float,
                   help="seconds between two legit transactions of one card, at least")
    flags.add_flag(g, "--start-time", default="now", type=start_time,
                   help="event time of the first transaction: now or e.g. "
                   "2026-11-20T10:00:00Z")
    flags.add_flag(g, "--max-events", default=None, type=flags.positive_int,
                   help="stop generating after this many transactions and keep serving "
                   "(unset = no limit)")
    f = parser.add_argument_group("fraud")
    flags.add_flag(f, "--fraud-rate", default=0.01, type=flags.probability,
                   help="share of all transactions that belong to fraud incidents (0..0.5)")
    flags.add_flag(f, "--scenario-weights", default=dict.fromkeys(SCENARIOS, 1.0),
                   type=scenario_weights, metavar="NAME=W,...",
                   help="share of fraud transactions per scenario, relative; unnamed "
                   f"scenarios keep 1, 0 disables one ({', '.join(SCENARIOS)})")
    d = parser.add_argument_group("delivery order")
    flags.add_flag(d, "--disorder", default=0.0, type=flags.duration_seconds,
                   help="deliver each transaction up to this much after its event_time "
                   "order, e.g. 5s (event_time itself is never changed)")
    flags.add_flag(d, "--late-fraction", default=0.0, type=flags.probability,
                   help="share of transactions delivered --late-by late")
    flags.add_flag(d, "--late-by", default=0.0, type=flags.duration_seconds,
                   help="delay of late transactions, e.g. 10m")
    add_producer_flags(parser, http_port=HTTP_PORT, socket_port=SOCKET_PORT)


#: the flags that shape the generated world (``streamwatch.feed.world``); --max-events only
#: says where this world stops, so it may change between starts
WORLD_FLAGS = ("--seed", "--rate", "--cards", "--legit-min-gap", "--start-time", "--fraud-rate",
               "--scenario-weights", "--disorder", "--late-fraction", "--late-by")


def world_params(args: argparse.Namespace) -> dict[str, Any]:
    """The world flags of this command line; None where the record decides (a restart
    continues the recorded seed and start time unless they are given)."""
    return {
        "--seed": args.seed,
        "--rate": args.rate,
        "--cards": args.cards,
        "--legit-min-gap": args.legit_min_gap,
        "--start-time": None if args.start_time == "now" else args.start_time,
        "--fraud-rate": args.fraud_rate,
        "--scenario-weights": dict(args.scenario_weights),
        "--disorder": args.disorder,
        "--late-fraction": args.late_fraction,
        "--late-by": args.late_by,
    }


def build_config(params: dict[str, Any], *, max_events: int | None = None, epoch: int = 1
                 ) -> Any:
    """``SimConfig`` from world parameters (``world_params`` with every value set); raises
    ValueError naming the flags to fix."""
    from dataclasses import replace

    from streamwatch.producers.txns.config import LegitParams, ScenarioConfig, SimConfig

    if params["--late-fraction"] > 0 and params["--late-by"] <= 0:
        raise ValueError("--late-fraction needs --late-by > 0 (e.g. --late-by 10m)")
    config = SimConfig(
        seed=params["--seed"], rate=params["--rate"], fraud_rate=params["--fraud-rate"],
        cards=params["--cards"],
        anchor_ms=int(parse_ts(params["--start-time"]).timestamp() * 1000),
        disorder_s=params["--disorder"], late_fraction=params["--late-fraction"],
        late_by_s=params["--late-by"], max_events=max_events, epoch=epoch,
        legit=replace(LegitParams(), min_gap_s=params["--legit-min-gap"]),
        scenarios=ScenarioConfig(weights=dict(params["--scenario-weights"])),
    )
    problems = config.problems()
    if problems:
        raise ValueError("; ".join(problems))
    return config


def main(args: argparse.Namespace) -> int:
    import logging

    from prometheus_client import CollectorRegistry

    from streamwatch.feed.producer import open_seeded_world, run_producer
    from streamwatch.producers.txns.simulator import TxnSource

    opened = open_seeded_world(
        "txn-simulator", "txns", args, TxnSource.feeds, world_params(args),
        lambda params, epoch: build_config(params, max_events=args.max_events, epoch=epoch))
    if isinstance(opened, int):
        return opened
    world, held, config = opened
    registry = CollectorRegistry()
    source = TxnSource(config, first_txn_no=world.first_number, held=held, registry=registry)
    logging.getLogger(__name__).info("txn-simulator configured", extra={
        "seed": config.seed, "rate": config.rate, "fraud_rate": config.fraud_rate,
        "cards": source.generator.pop.size, "epoch": world.epoch,
        "first_txn_no": world.first_number,
    })
    return run_producer("txn-simulator", source, args, socket_feed="transactions",
                        registry=registry)
