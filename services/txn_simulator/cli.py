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
import secrets
import sys
from typing import Any

from streamwatch import flags
from streamwatch.events import SCENARIOS, parse_ts
from streamwatch.producer import add_producer_flags

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
    """``now`` or an RFC 3339 timestamp."""
    if text != "now":
        try:
            parse_ts(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
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


def build_config(args: argparse.Namespace, *, now_ms: int) -> Any:
    """``SimConfig`` from parsed flags; raises ValueError naming the flags to fix."""
    from dataclasses import replace

    from txn_simulator.config import LegitParams, ScenarioConfig, SimConfig

    if args.late_fraction > 0 and args.late_by <= 0:
        raise ValueError("--late-fraction needs --late-by > 0 (e.g. --late-by 10m)")
    anchor = now_ms if args.start_time == "now" else int(
        parse_ts(args.start_time).timestamp() * 1000)
    config = SimConfig(
        seed=args.seed, rate=args.rate, fraud_rate=args.fraud_rate, cards=args.cards,
        anchor_ms=anchor, disorder_s=args.disorder, late_fraction=args.late_fraction,
        late_by_s=args.late_by, max_events=args.max_events,
        legit=replace(LegitParams(), min_gap_s=args.legit_min_gap),
        scenarios=ScenarioConfig(weights=dict(args.scenario_weights)),
    )
    problems = config.problems()
    if problems:
        raise ValueError("; ".join(problems))
    return config


def _next_txn_no(args: argparse.Namespace, feeds: tuple[str, ...]) -> int:
    """Continue numbering after what earlier runs left in the feed logs."""
    from pathlib import Path

    from streamwatch.feedlog import FeedLog

    latest = 0
    for feed in feeds:
        if not (Path(args.data_dir) / "feeds" / feed).exists():
            continue
        log = FeedLog.open(Path(args.data_dir) / "feeds", feed, segment_bytes=args.segment_bytes,
                           fsync="never")
        try:
            latest = max(latest, log.latest)
        finally:
            log.close()
    return latest + 1


def main(args: argparse.Namespace) -> int:
    import logging
    import time

    from prometheus_client import CollectorRegistry

    from streamwatch.producer import run_producer
    from txn_simulator.simulator import TxnSource

    if args.seed is None:
        args.seed = secrets.randbelow(2**31)
    try:
        config = build_config(args, now_ms=int(time.time() * 1000))
    except ValueError as exc:
        print(f"txn-simulator: {exc}", file=sys.stderr)
        return 2
    try:
        first = _next_txn_no(args, TxnSource.feeds)
    except OSError as exc:
        print(f"txn-simulator: cannot read the feed logs under {args.data_dir}: {exc}. "
              "Check --data-dir (env STREAMWATCH_DATA_DIR).", file=sys.stderr)
        return 2
    registry = CollectorRegistry()
    source = TxnSource(config, first_txn_no=first, registry=registry)
    logging.getLogger(__name__).info("txn-simulator configured", extra={
        "seed": config.seed, "rate": config.rate, "fraud_rate": config.fraud_rate,
        "cards": source.generator.pop.size, "first_txn_no": first,
    })
    return run_producer("txn-simulator", source, args, socket_feed="transactions",
                        registry=registry)
