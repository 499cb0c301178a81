"""tweet-ingester: serve a stream of tweets as the replayable feed ``tweets``.

Sources (--source):
  synthetic      seedable generator: long-tail hashtags, scheduled trending
                 bursts, six languages, positive/neutral/negative wording
  replay:FILE    tweets as the public datasets publish them (.gz too), paced by
                 created_at x --speed: CSV with a header (Twitter US Airline
                 Sentiment ...), headerless Sentiment140, X API v1.1 / v2 JSON
                 lines or a saved v2 response; --map names anything else
  x-api          the X API v2 filtered stream; the bearer token is read from
                 STREAMWATCH_X_BEARER_TOKEN only, never from a flag

The feed is served on --http-port (GET /v1/feeds/tweets/records) and tailed
live on --socket-port, one JSON tweet per line.

Examples:
  streamwatch tweets --seed 7 --rate 500
  streamwatch tweets --source replay:data/tweets.jsonl --speed 0 --exit-at-end

Replay, one example per shape (every one read as downloaded, no flags needed):
  streamwatch tweets --source replay:Tweets.csv            # US Airline Sentiment
  streamwatch tweets --source replay:training.1600000.processed.noemoticon.csv
                                   # Sentiment140: no header, Latin-1, CR lines
  streamwatch tweets --source replay:statuses.jsonl        # X API v1.1, one a line
  streamwatch tweets --source replay:stream.jsonl          # X API v2 {"data","includes"}
  streamwatch tweets --source replay:search-response.json  # a saved v2 response
  streamwatch tweets --source replay:ids.csv               # only tweet_id,text: the
                                   # time comes from the snowflake id
Anything else, named explicitly:
  streamwatch tweets --source replay:export.csv --encoding cp1252 \\
      --map created_at=posted,user=who,text=message,id=ref --time-format '%d/%m/%Y %H:%M'
  streamwatch tweets --source replay:plain.csv --map id=1,created_at=2,text=4
                                   # no header: column numbers from 1
  streamwatch tweets --source replay:scrape.jsonl --map id=tweetId,user=author.handle
                                   # JSON: keys, dotted for nested ones
  STREAMWATCH_X_BEARER_TOKEN=... streamwatch tweets --source x-api --x-rules '#spark; #kafka'
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamwatch.core import flags
from streamwatch.feed.producer import add_producer_flags

if TYPE_CHECKING:
    from streamwatch.feed.sources import Emit, Source
    from streamwatch.feed.world import World
    from streamwatch.producers.tweets.synthetic import SyntheticConfig

HTTP_PORT = 7101
SOCKET_PORT = 7201


def source_spec(text: str) -> str:
    """``synthetic``, ``x-api`` or ``replay:FILE``."""
    if text in ("synthetic", "x-api") or (text.startswith("replay:") and len(text) > 7):
        return text
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a source; use synthetic, x-api or replay:FILE")






def add_arguments(parser: argparse.ArgumentParser) -> None:
    # validated in main, not by argparse: STREAMWATCH_SOURCE is also the processor's env
    # twin, and an eager check here would break every subcommand when it holds feed:URL
    flags.add_flag(parser, "--source", default="synthetic",
                   metavar="{synthetic,replay:FILE,x-api}", help="where tweets come from")
    flags.add_flag(parser, "--rate", default=200.0, type=flags.positive_float,
                   help="synthetic: tweets per second")
    flags.add_flag(parser, "--seed", default=None, type=flags.non_negative_int,
                   help="synthetic: random seed; the same seed gives the same ids, users, "
                   "texts and hashtags (unset = a fresh seed, logged at start)")
    flags.add_flag(parser, "--max-events", default=None, type=flags.positive_int,
                   aliases=("--limit",),
                   help="synthetic: stop generating after this many tweets and keep "
                   "serving (unset = no limit; same flag as `streamwatch txns`, "
                   "--limit is its older spelling)")
    flags.add_flag(parser, "--duplicate-rate", default=0.001, type=flags.probability,
                   help="synthetic: share of tweets re-emitted with the id of an earlier "
                   "one, as after a stream reconnect")
    flags.add_flag(parser, "--out-of-order-rate", default=0.01, type=flags.probability,
                   help="synthetic: share of tweets whose created_at lags by up to "
                   "--max-lateness")
    flags.add_flag(parser, "--max-lateness", default=30.0, type=flags.duration_seconds,
                   help="synthetic: largest created_at lag of an out-of-order tweet, e.g. 30s")
    flags.add_flag(parser, "--hashtags", default=300, type=int,
                   help="synthetic: distinct hashtags in the Zipf-distributed vocabulary "
                   "(20..684)")
    flags.add_flag(parser, "--trend-every", default=600.0, type=flags.duration_seconds,
                   help="synthetic: one trending burst per period, at a seeded time "
                   "within it, e.g. 10m (0 = no bursts)")
    flags.add_flag(parser, "--trend-duration", default=180.0, type=flags.duration_seconds,
                   help="synthetic: length of a trending burst, e.g. 3m")
    flags.add_flag(parser, "--trend-share", default=0.35, type=flags.probability,
                   help="synthetic: peak share of tweets carrying the trending hashtag")

    flags.add_flag(parser, "--speed", default=1.0, type=flags.non_negative_float,
                   help="replay: speed factor over the original created_at pacing "
                   "(2 = twice as fast, 0 = as fast as possible)")
    flags.add_switch(parser, "--rebase-time",
                     help="replay: shift created_at so the first tweet is 'now' "
                     "(windows then look live)")
    flags.add_flag(parser, "--map", default="", metavar="FIELD=COLUMN,...",
                   help="replay: where the tweet fields are, for files whose names are not "
                   "recognised: created_at=COL,text=COL,id=COL,user=COL,lang=COL; COL is "
                   "a CSV header name, a column number from 1 (file without a header) or "
                   "a JSON key (dotted for nested ones); unnamed fields are detected")
    flags.add_flag(parser, "--time-format", default=None, metavar="STRPTIME",
                   help="replay: the time column's format, e.g. '%%d/%%m/%%Y %%H:%%M' "
                   "(Python strptime; no zone = UTC); unset = RFC 3339, X API, "
                   "Sentiment140 and Airline Sentiment dates and epoch seconds/ms")
    flags.add_flag(parser, "--encoding", default="auto",
                   help="replay: the file's encoding, e.g. cp1252; auto = UTF-8, with "
                   "any line that is not UTF-8 read as Latin-1 (and counted)")
    flags.add_switch(parser, "--exit-at-end",
                     help="exit once the source is exhausted (replay: end of file; "
                     "synthetic: --max-events reached) instead of serving on")

    flags.add_flag(parser, "--x-base-url", default="https://api.x.com",
                   help="x-api: base URL of the X API")
    flags.add_flag(parser, "--x-rules", default="",
                   help="x-api: filtered-stream rules separated by ';' or a JSON list; the "
                   "server's rules are made to match (empty = keep the server's rules)")
    flags.add_flag(parser, "--x-stall-timeout", default=20.0, type=flags.positive_float,
                   help="x-api: seconds without data or keep-alive before reconnecting")
    flags.add_flag(parser, "--x-backoff-scale", default=1.0, type=flags.positive_float,
                   help="x-api: multiply X's documented reconnect delays (250 ms linear, "
                   "5 s and 60 s exponential); only tests should change it")
    add_producer_flags(parser, http_port=HTTP_PORT, socket_port=SOCKET_PORT)


class _ExitAtEnd:
    """Wraps a finite source so the process exits 0 when it is exhausted.

    ``run_producer`` keeps serving after a source returns; sending ourselves
    SIGTERM takes the same clean shutdown path as an operator's signal.
    """

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.feeds = inner.feeds

    def run(self, emit: Emit, stop: threading.Event) -> None:
        self.inner.run(emit, stop)
        if not stop.is_set():
            os.kill(os.getpid(), signal.SIGTERM)


#: the flags that shape a synthetic world (``streamwatch.feed.world``); a restart must repeat
#: them or leave --seed unset to continue the recorded one
SYNTHETIC_WORLD = {"--seed": "seed", "--rate": "rate", "--hashtags": "hashtags",
                   "--duplicate-rate": "duplicate_rate",
                   "--out-of-order-rate": "out_of_order_rate",
                   "--max-lateness": "max_lateness", "--trend-every": "trend_every",
                   "--trend-duration": "trend_duration", "--trend-share": "trend_share"}


def synthetic_world(args: argparse.Namespace) -> dict[str, Any]:
    return {"--source": "synthetic",
            **{flag: getattr(args, name) for flag, name in SYNTHETIC_WORLD.items()}}


def synthetic_config(args: argparse.Namespace, params: dict[str, Any] | None = None,
                     epoch: int = 1) -> SyntheticConfig:
    """The generator's settings from the flags, or from a world record's ``params``."""
    from streamwatch.producers.tweets.synthetic import SyntheticConfig

    p = synthetic_world(args) if params is None else params
    return SyntheticConfig(
        rate=p["--rate"], tags=p["--hashtags"], trend_every_s=p["--trend-every"],
        trend_duration_s=p["--trend-duration"], trend_share=p["--trend-share"],
        duplicate_rate=p["--duplicate-rate"], out_of_order_rate=p["--out-of-order-rate"],
        max_lateness_s=p["--max-lateness"], limit=args.max_events or 0, epoch=epoch)


def replay_world(args: argparse.Namespace, path: Path) -> dict[str, Any]:
    """What a replay's feed depends on: the file (by path and size) and how it is read.
    --speed only paces it, unless --rebase-time stamps tweets by it."""
    return {"--source": f"replay:{path.resolve()}", "--source file bytes": path.stat().st_size,
            "--map": args.map, "--time-format": args.time_format, "--encoding": args.encoding,
            "--rebase-time": args.rebase_time,
            "--speed": args.speed if args.rebase_time else None,
            # when a rebased replay started: a restart stamps tweets as if it never stopped
            "--rebase-anchor": None}


def _open_world(args: argparse.Namespace, asked: dict[str, Any], defaults: dict[str, Any]
                ) -> tuple[World, int] | int:
    """The world of the tweets feed and the tweets it holds, or the exit code of a refusal."""
    from streamwatch.feed.producer import open_world

    try:
        world, held = open_world("tweets", args, ("tweets",), asked, defaults=defaults)
    except ValueError as exc:  # WorldError
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot read the feed log under {args.data_dir}: {exc}. "
                     "Check --data-dir (env STREAMWATCH_DATA_DIR).")
    return world, held["tweets"]


def _fail(message: str) -> int:
    print(f"streamwatch tweets: {message}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry

    from streamwatch.feed.producer import run_producer

    registry = CollectorRegistry()
    try:
        spec = source_spec(args.source)
    except argparse.ArgumentTypeError as exc:
        return _fail(f"--source (env STREAMWATCH_SOURCE): {exc}")
    source: Source
    if spec == "synthetic":
        from streamwatch.producers.tweets.synthetic import SyntheticSource

        try:
            config = synthetic_config(args)
        except ValueError as exc:
            return _fail(f"{exc}. See `streamwatch tweets --help` for the valid ranges.")
        opened = _open_world(args, synthetic_world(args),
                             defaults={"--seed": secrets.randbelow(1 << 31)})
        if isinstance(opened, int):
            return opened
        world, held = opened
        config = synthetic_config(args, world.params, epoch=world.epoch)
        source = SyntheticSource(config, world.params["--seed"], held=held)
    elif spec.startswith("replay:"):
        from streamwatch.producers.tweets.replay import (
            ReplayConfig,
            ReplayFileError,
            ReplaySource,
            check_encoding,
            check_file,
            parse_column_map,
        )

        path = Path(spec.removeprefix("replay:")).expanduser()
        try:
            column_map = parse_column_map(args.map)
        except ValueError as exc:
            return _fail(f"--map (env STREAMWATCH_MAP): {exc}. "
                         "Form: --map created_at=COL,text=COL,id=COL,user=COL")
        try:
            encoding = check_encoding(args.encoding)
        except ValueError as exc:
            return _fail(f"--encoding (env STREAMWATCH_ENCODING): {exc}")
        if args.time_format is not None and "%" not in args.time_format:
            return _fail(f"--time-format {args.time_format!r} has no strptime directive; "
                         "e.g. '%d/%m/%Y %H:%M:%S'")
        try:
            check_file(path, column_map, args.time_format, encoding)
        except ReplayFileError as exc:
            return _fail(f"--source replay: {exc}. See `streamwatch tweets --help` for the "
                         "shapes read as they are and for --map")
        opened = _open_world(args, replay_world(args, path),
                             defaults={"--rebase-anchor": time.time() * 1000})
        if isinstance(opened, int):
            return opened
        world, held = opened
        source = ReplaySource(ReplayConfig(
            path, speed=args.speed, rebase_time=args.rebase_time, column_map=column_map,
            time_format=args.time_format, encoding=encoding, skip=held,
            rebase_anchor_ms=world.params["--rebase-anchor"] if args.rebase_time else None),
            registry=registry)
    else:
        from streamwatch.producers.tweets.xapi import (
            TOKEN_ENV,
            BackoffPolicy,
            XApiConfig,
            XApiSource,
            parse_rules,
        )

        token = os.environ.get(TOKEN_ENV, "").strip()
        if not token:
            return _fail(f"--source x-api needs a bearer token: set {TOKEN_ENV} (from the "
                         "X developer portal, Keys and tokens). It is read only from the "
                         "environment so that it never shows in `ps`.")
        try:
            rules = parse_rules(args.x_rules)
        except ValueError as exc:
            return _fail(f"--x-rules: {exc}")
        x_config = XApiConfig(token=token, base_url=args.x_base_url, rules=rules,
                              stall_timeout_s=args.x_stall_timeout,
                              backoff=BackoffPolicy().scaled(args.x_backoff_scale))
        # a live stream has nothing to replay; the record keeps other sources out of its feed
        opened = _open_world(args, {"--source": "x-api"}, defaults={})
        if isinstance(opened, int):
            return opened
        source = XApiSource(x_config, registry=registry)
    if args.exit_at_end:
        source = _ExitAtEnd(source)
    return run_producer("tweet-ingester", source, args, socket_feed="tweets", registry=registry)
