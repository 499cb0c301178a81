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
from typing import Any

from streamwatch.contracts.events import parse_ts
from streamwatch.producers.txns.settings import TxnsSettings, scenario_weights


def add_arguments(parser: argparse.ArgumentParser) -> None:
    TxnsSettings.add_arguments(parser)


#: the flags that shape the generated world (``streamwatch.feed.world``); --max-events only
#: says where this world stops, so it may change between starts
WORLD_FLAGS = ("--seed", "--rate", "--cards", "--legit-min-gap", "--start-time", "--fraud-rate",
               "--scenario-weights", "--disorder", "--late-fraction", "--late-by")


def world_params(settings: TxnsSettings) -> dict[str, Any]:
    """The world flags of this command line; None where the record decides (a restart
    continues the recorded seed and start time unless they are given)."""
    return {
        "--seed": settings.seed,
        "--rate": settings.rate,
        "--cards": settings.cards,
        "--legit-min-gap": settings.legit_min_gap,
        "--start-time": None if settings.start_time == "now" else settings.start_time,
        "--fraud-rate": settings.fraud_rate,
        "--scenario-weights": scenario_weights(settings.scenario_weights),
        "--disorder": settings.disorder,
        "--late-fraction": settings.late_fraction,
        "--late-by": settings.late_by,
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
    from streamwatch.core.settings import run_command

    return run_command(TxnsSettings, args, run)


def run(settings: TxnsSettings) -> int:
    import logging

    from prometheus_client import CollectorRegistry

    from streamwatch.feed.producer import open_seeded_world, run_producer
    from streamwatch.producers.txns.simulator import TxnSource

    opened = open_seeded_world("txn-simulator", "txns", settings, TxnSource.feeds,
                               world_params(settings), build_config,
                               max_events=settings.max_events)
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
    return run_producer("txn-simulator", source, settings, socket_feed="transactions",
                        registry=registry)
