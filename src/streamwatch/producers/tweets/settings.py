"""Settings of ``streamwatch tweets``: each declared once, as flag and env twin.

``STREAMWATCH_TWEETS_<FLAG>`` twins every flag (``STREAMWATCH_<FLAG>`` is still read for
one release). The prefix keeps ``--source`` apart from the processor's: the flat
``STREAMWATCH_SOURCE`` meant both. The X API bearer token is no setting: it is read from
``STREAMWATCH_X_BEARER_TOKEN`` only, never from a flag, so it cannot show in ``ps``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from streamwatch.core.flags import (
    duration_seconds,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    probability,
)
from streamwatch.core.settings import or_none, setting, switch, text_or_none
from streamwatch.feed.settings import ProducerSettings, http_port, socket_port

HTTP_PORT = 7101
SOCKET_PORT = 7201


def source_spec(text: str) -> str:
    """``synthetic``, ``x-api`` or ``replay:FILE``."""
    if text in ("synthetic", "x-api") or (text.startswith("replay:") and len(text) > 7):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a source; use synthetic, x-api or replay:FILE")


@dataclass(frozen=True)
class TweetsSettings(ProducerSettings):
    service = "TWEETS"
    command = "streamwatch tweets"

    http_port: int = http_port(HTTP_PORT)
    socket_port: int = socket_port(SOCKET_PORT)

    source: str = setting("synthetic", parser=source_spec,
                          metavar="{synthetic,replay:FILE,x-api}", help="where tweets come from")
    rate: float = setting(200.0, parser=positive_float, help="synthetic: tweets per second")
    seed: int | None = setting(
        None, parser=or_none(non_negative_int),
        help="synthetic: random seed; the same seed gives the same ids, users, texts and "
             "hashtags (unset = a fresh seed, logged at start)")
    max_events: int | None = setting(
        None, parser=or_none(positive_int), aliases=("--limit",),
        help="synthetic: stop generating after this many tweets and keep serving (unset = no "
             "limit; same flag as `streamwatch txns`, --limit is its older spelling)")
    duplicate_rate: float = setting(
        0.001, parser=probability,
        help="synthetic: share of tweets re-emitted with the id of an earlier one, as after "
             "a stream reconnect")
    out_of_order_rate: float = setting(
        0.01, parser=probability,
        help="synthetic: share of tweets whose created_at lags by up to --max-lateness")
    max_lateness: float = setting(
        30.0, parser=duration_seconds, metavar="DURATION",
        help="synthetic: largest created_at lag of an out-of-order tweet, e.g. 30s")
    hashtags: int = setting(300, parser=int,
                            help="synthetic: distinct hashtags in the Zipf-distributed "
                                 "vocabulary (20..684)")
    trend_every: float = setting(
        600.0, parser=duration_seconds, metavar="DURATION",
        help="synthetic: one trending burst per period, at a seeded time within it, e.g. 10m "
             "(0 = no bursts)")
    trend_duration: float = setting(180.0, parser=duration_seconds, metavar="DURATION",
                                    help="synthetic: length of a trending burst, e.g. 3m")
    trend_share: float = setting(
        0.35, parser=probability,
        help="synthetic: peak share of tweets carrying the trending hashtag")

    speed: float = setting(
        1.0, parser=non_negative_float,
        help="replay: speed factor over the original created_at pacing (2 = twice as fast, "
             "0 = as fast as possible)")
    rebase_time: bool = switch(help="replay: shift created_at so the first tweet is 'now' "
                                    "(windows then look live)")
    map: str = setting(
        "", metavar="FIELD=COLUMN,...",
        help="replay: where the tweet fields are, for files whose names are not recognised: "
             "created_at=COL,text=COL,id=COL,user=COL,lang=COL; COL is a CSV header name, a "
             "column number from 1 (file without a header) or a JSON key (dotted for nested "
             "ones); unnamed fields are detected")
    time_format: str | None = setting(
        None, parser=text_or_none, metavar="STRPTIME",
        help="replay: the time column's format, e.g. '%%d/%%m/%%Y %%H:%%M' (Python strptime; "
             "no zone = UTC); unset = RFC 3339, X API, Sentiment140 and Airline Sentiment "
             "dates and epoch seconds/ms")
    encoding: str = setting(
        "auto",
        help="replay: the file's encoding, e.g. cp1252; auto = UTF-8, with any line that is "
             "not UTF-8 read as Latin-1 (and counted)")
    exit_at_end: bool = switch(
        help="exit once the source is exhausted (replay: end of file; synthetic: --max-events "
             "reached) instead of serving on")

    x_base_url: str = setting("https://api.x.com", metavar="URL",
                              help="x-api: base URL of the X API")
    x_rules: str = setting(
        "", metavar="RULES",
        help="x-api: filtered-stream rules separated by ';' or a JSON list; the server's "
             "rules are made to match (empty = keep the server's rules)")
    x_stall_timeout: float = setting(
        20.0, parser=positive_float, metavar="SECONDS",
        help="x-api: seconds without data or keep-alive before reconnecting")
    x_backoff_scale: float = setting(
        1.0, parser=positive_float, metavar="FACTOR",
        help="x-api: multiply X's documented reconnect delays (250 ms linear, 5 s and 60 s "
             "exponential); only tests should change it")
