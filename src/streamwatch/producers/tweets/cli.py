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

from streamwatch.producers.tweets.settings import TweetsSettings

if TYPE_CHECKING:
    from streamwatch.feed.sources import Emit, Source
    from streamwatch.feed.world import World
    from streamwatch.producers.tweets.synthetic import SyntheticConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    TweetsSettings.add_arguments(parser)


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


def synthetic_world(settings: TweetsSettings) -> dict[str, Any]:
    return {"--source": "synthetic",
            **{flag: getattr(settings, name) for flag, name in SYNTHETIC_WORLD.items()}}


def synthetic_config(settings: TweetsSettings, params: dict[str, Any] | None = None,
                     epoch: int = 1) -> SyntheticConfig:
    """The generator's settings from the flags, or from a world record's ``params``."""
    from streamwatch.producers.tweets.synthetic import SyntheticConfig

    p = synthetic_world(settings) if params is None else params
    return SyntheticConfig(
        rate=p["--rate"], tags=p["--hashtags"], trend_every_s=p["--trend-every"],
        trend_duration_s=p["--trend-duration"], trend_share=p["--trend-share"],
        duplicate_rate=p["--duplicate-rate"], out_of_order_rate=p["--out-of-order-rate"],
        max_lateness_s=p["--max-lateness"], limit=settings.max_events or 0, epoch=epoch)


def replay_world(settings: TweetsSettings, path: Path) -> dict[str, Any]:
    """What a replay's feed depends on: the file (by path and size) and how it is read.
    --speed only paces it, unless --rebase-time stamps tweets by it."""
    return {"--source": f"replay:{path.resolve()}", "--source file bytes": path.stat().st_size,
            "--map": settings.map, "--time-format": settings.time_format,
            "--encoding": settings.encoding,
            "--rebase-time": settings.rebase_time,
            "--speed": settings.speed if settings.rebase_time else None,
            # when a rebased replay started: a restart stamps tweets as if it never stopped
            "--rebase-anchor": None}


def _open_world(settings: TweetsSettings, asked: dict[str, Any], defaults: dict[str, Any]
                ) -> tuple[World, int] | int:
    """The world of the tweets feed and the tweets it holds, or the exit code of a refusal."""
    from streamwatch.feed.producer import open_world

    try:
        world, held = open_world("tweets", settings, ("tweets",), asked, defaults=defaults)
    except ValueError as exc:  # WorldError
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot read the feed log under {settings.data_dir}: {exc}. "
                     f"Check {settings.where('data_dir')}.")
    return world, held["tweets"]


def _fail(message: str) -> int:
    print(f"streamwatch tweets: {message}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    from streamwatch.core.settings import run_command

    return run_command(TweetsSettings, args, run)


def run(settings: TweetsSettings) -> int:
    from prometheus_client import CollectorRegistry

    from streamwatch.feed.producer import run_producer

    registry = CollectorRegistry()
    spec = settings.source
    source: Source
    if spec == "synthetic":
        from streamwatch.producers.tweets.synthetic import SyntheticSource

        try:
            config = synthetic_config(settings)
        except ValueError as exc:
            return _fail(f"{exc}. See `streamwatch tweets --help` for the valid ranges.")
        opened = _open_world(settings, synthetic_world(settings),
                             defaults={"--seed": secrets.randbelow(1 << 31)})
        if isinstance(opened, int):
            return opened
        world, held = opened
        config = synthetic_config(settings, world.params, epoch=world.epoch)
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
            column_map = parse_column_map(settings.map)
        except ValueError as exc:
            return _fail(f"{settings.where('map')}: {exc}. "
                         "Form: --map created_at=COL,text=COL,id=COL,user=COL")
        try:
            encoding = check_encoding(settings.encoding)
        except ValueError as exc:
            return _fail(f"{settings.where('encoding')}: {exc}")
        if settings.time_format is not None and "%" not in settings.time_format:
            return _fail(f"--time-format {settings.time_format!r} has no strptime directive; "
                         "e.g. '%d/%m/%Y %H:%M:%S'")
        try:
            check_file(path, column_map, settings.time_format, encoding)
        except ReplayFileError as exc:
            return _fail(f"--source replay: {exc}. See `streamwatch tweets --help` for the "
                         "shapes read as they are and for --map")
        opened = _open_world(settings, replay_world(settings, path),
                             defaults={"--rebase-anchor": time.time() * 1000})
        if isinstance(opened, int):
            return opened
        world, held = opened
        source = ReplaySource(ReplayConfig(
            path, speed=settings.speed, rebase_time=settings.rebase_time, column_map=column_map,
            time_format=settings.time_format, encoding=encoding, skip=held,
            rebase_anchor_ms=world.params["--rebase-anchor"] if settings.rebase_time else None),
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
            rules = parse_rules(settings.x_rules)
        except ValueError as exc:
            return _fail(f"{settings.where('x_rules')}: {exc}")
        x_config = XApiConfig(token=token, base_url=settings.x_base_url, rules=rules,
                              stall_timeout_s=settings.x_stall_timeout,
                              backoff=BackoffPolicy().scaled(settings.x_backoff_scale))
        # a live stream has nothing to replay; the record keeps other sources out of its feed
        opened = _open_world(settings, {"--source": "x-api"}, defaults={})
        if isinstance(opened, int):
            return opened
        source = XApiSource(x_config, registry=registry)
    if settings.exit_at_end:
        source = _ExitAtEnd(source)
    return run_producer("tweet-ingester", source, settings, socket_feed="tweets",
                        registry=registry)
