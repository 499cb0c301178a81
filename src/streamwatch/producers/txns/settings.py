"""Settings of ``streamwatch txns``: each declared once, as flag and env twin.

``STREAMWATCH_TXNS_<FLAG>`` twins every flag (``STREAMWATCH_<FLAG>`` is still read for one
release): ``--rate``, ``--seed`` or ``--disorder`` of the transaction simulator no longer
share a variable with the other producers'.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime

from streamwatch.contracts.events import DETECTION_CLOCK_SKEW, SCENARIOS, parse_ts
from streamwatch.core.flags import (
    duration_seconds,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
)
from streamwatch.core.settings import or_none, setting
from streamwatch.feed.settings import ProducerSettings, http_port, socket_port

HTTP_PORT = 7102
SOCKET_PORT = 7202
TXNS = "transactions"
FRAUD = "fraud"
DELIVERY = "delivery order"


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


def weights_text(text: str) -> str:
    """Checked ``--scenario-weights``, every scenario spelt out (``card_testing=2,...``): a
    frozen setting holds text, :func:`scenario_weights` turns it into the mapping."""
    return ",".join(f"{name}={weight:g}" for name, weight in scenario_weights(text).items())


def start_time_text(text: str) -> str:
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


@dataclass(frozen=True)
class TxnsSettings(ProducerSettings):
    service = "TXNS"
    command = "streamwatch txns"

    http_port: int = http_port(HTTP_PORT)
    socket_port: int = socket_port(SOCKET_PORT)

    rate: float = setting(200.0, parser=positive_float, group=TXNS,
                          help="transactions per second (event time advances at the same "
                               "pace)")
    seed: int | None = setting(
        None, parser=or_none(non_negative_int), group=TXNS,
        help="random seed; the same seed gives the same population, ids, amounts and "
             "incidents (unset = a fresh seed, logged at start)")
    cards: int | None = setting(
        None, parser=or_none(positive_int), group=TXNS,
        help="number of customers, one card each (unset = 3 x rate x --legit-min-gap, at "
             "least 10000)")
    legit_min_gap: float = setting(
        60.0, parser=positive_float, metavar="SECONDS", group=TXNS,
        help="seconds between two legit transactions of one card, at least")
    start_time: str = setting(
        "now", parser=start_time_text, metavar="TIME", group=TXNS,
        help="event time of the first transaction: now or e.g. 2026-11-20T10:00:00Z")
    max_events: int | None = setting(
        None, parser=or_none(positive_int), group=TXNS,
        help="stop generating after this many transactions and keep serving (unset = no "
             "limit)")
    fraud_rate: float = setting(
        0.01, parser=probability, group=FRAUD,
        help="share of all transactions that belong to fraud incidents (0..0.5)")
    scenario_weights: str = setting(
        weights_text(""), parser=weights_text, metavar="NAME=W,...", group=FRAUD,
        help="share of fraud transactions per scenario, relative; unnamed scenarios keep 1, "
             f"0 disables one ({', '.join(SCENARIOS)})")
    disorder: float = setting(
        0.0, parser=duration_seconds, metavar="DURATION", group=DELIVERY,
        help="deliver each transaction up to this much after its event_time order, e.g. 5s "
             "(event_time itself is never changed)")
    late_fraction: float = setting(0.0, parser=probability, group=DELIVERY,
                                   help="share of transactions delivered --late-by late")
    late_by: float = setting(0.0, parser=duration_seconds, metavar="DURATION", group=DELIVERY,
                             help="delay of late transactions, e.g. 10m")
