"""Settings of ``streamwatch orders``: each declared once, as flag and env twin.

``STREAMWATCH_ORDERS_<FLAG>`` twins every flag (``STREAMWATCH_<FLAG>`` is still read for
one release): the flat ``STREAMWATCH_DUPLICATE_RATE`` compose set for this simulator was
also the tweet producer's ``--duplicate-rate``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from streamwatch.core.flags import (
    duration_seconds,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
)
from streamwatch.core.settings import or_none, setting
from streamwatch.feed.settings import ProducerSettings, http_port, socket_port

HTTP_PORT = 7105
SOCKET_PORT = 7205
ORDERS = "orders"
DELIVERY = "delivery order"


def start_time_text(text: str) -> str:
    """``now`` or an RFC 3339 timestamp."""
    from streamwatch.contracts.events import parse_ts

    if text != "now":
        try:
            parse_ts(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def time_scale(text: str) -> float:
    value = positive_float(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1 (1 = real-time delays)")
    return value


@dataclass(frozen=True)
class OrdersSettings(ProducerSettings):
    service = "ORDERS"
    command = "streamwatch orders"

    http_port: int = http_port(HTTP_PORT)
    socket_port: int = socket_port(SOCKET_PORT)

    rate: float = setting(
        50.0, parser=positive_float, group=ORDERS,
        help="orders purchased per second; each makes about 2.9 events (purchased, shipped, "
             "delivered, ...) once the first orders ship. Event time runs with the wall clock")
    seed: int | None = setting(
        None, parser=or_none(non_negative_int), group=ORDERS,
        help="random seed; the same seed gives the same orders, items, delays and resends "
             "(unset = the recorded world's, else a fresh one)")
    start_time: str = setting(
        "now", parser=start_time_text, metavar="TIME", group=ORDERS,
        help="event time of the first order: now or e.g. 2026-11-20T10:00:00Z")
    max_events: int | None = setting(
        None, parser=or_none(positive_int), group=ORDERS,
        help="stop generating after this many events and keep serving (unset = no limit)")
    time_scale: float = setting(
        1440.0, parser=time_scale, metavar="FACTOR", group=ORDERS,
        help="divide every lifecycle delay by this: 1 = real time (ship after ~8 h), 1440 = "
             "a day per minute (ship after ~20 s)")
    cancel_rate: float = setting(0.05, parser=probability, group=ORDERS,
                                 help="share of orders cancelled before they ship")
    return_rate: float = setting(0.04, parser=probability, group=ORDERS,
                                 help="share of delivered orders returned")
    duplicate_rate: float = setting(0.0, parser=probability, group=DELIVERY,
                                    help="share of events sent twice (same event_id)")
    duplicate_delay: float = setting(
        5.0, parser=duration_seconds, metavar="DURATION", group=DELIVERY,
        help="a resend follows its original by up to this much, e.g. 5s")
    disorder: float = setting(
        0.0, parser=duration_seconds, metavar="DURATION", group=DELIVERY,
        help="deliver each event up to this much after its event_time order, e.g. 5s "
             "(event_time itself is never changed)")
    late_fraction: float = setting(0.0, parser=probability, group=DELIVERY,
                                   help="share of events delivered --late-by late")
    late_by: float = setting(0.0, parser=duration_seconds, metavar="DURATION", group=DELIVERY,
                             help="delay of late events, e.g. 3m")
