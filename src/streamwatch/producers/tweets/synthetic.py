"""Synthetic tweets: seedable, rate-controlled, with a long tail and trending bursts.

Key concepts
- **Determinism.** One ``random.Random(seed)`` drives every choice, and the
  number of draws per tweet does not depend on the wall clock, so the same
  seed yields the same ids, users, languages, texts and hashtags. Only
  ``created_at`` follows the real clock (``now`` minus a seeded lag).
- **Virtual time.** Tweet ``i`` happens at ``i / rate`` seconds after the
  start. Trend bursts and snowflake ids are defined on that axis, so the
  sequence does not depend on how smoothly the process was scheduled.
- **Popularity.** Hashtags follow a Zipf law over a few hundred tags (ranked by
  a seeded shuffle); every ``trend_every_s`` one mid/long-tail tag bursts to
  ``trend_share`` of the traffic for ``trend_duration_s`` (trapezoid ramp).
- **Messiness on purpose.** Mixed-case tags (``#Spark``/``#spark``), a tag
  repeated in one tweet, non-ASCII and full-width tags, ``#1`` and ``C#``
  noise, a few out-of-order ``created_at`` values and, with
  ``duplicate_rate``, a re-emitted earlier tweet (same id, same bytes) as after
  a stream reconnect. The processor must cope with each of these.

Usage::

    gen = TweetGenerator(SyntheticConfig(rate=200), seed=7)
    payloads = gen.next_payloads(100, now_ms=int(time.time() * 1000))
"""

from __future__ import annotations

import logging
import random
import threading
import time
from bisect import bisect_right
from collections import deque
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import orjson

from streamwatch.contracts.events import format_epoch_ms
from streamwatch.feed.sources import Emit, Pacer
from streamwatch.producers.tweets import vocab

log = logging.getLogger(__name__)

#: Twitter's snowflake epoch (2010-11-04T01:42:54.657Z) in Unix ms.
SNOWFLAKE_EPOCH_MS = 1_288_834_974_657
#: ids start near 2026-01-01 so they look like current X ids (~2.0e18).
_ID_BASE_UNIX_MS = 1_767_225_600_000
_RECENT = 1000  # how far back a duplicate may reach


@dataclass(frozen=True, slots=True)
class SyntheticConfig:
    rate: float = 200.0
    tags: int = 300
    zipf_exponent: float = 1.1
    users: int = 5000
    trend_every_s: float = 600.0  # 0 disables bursts
    trend_duration_s: float = 180.0
    trend_share: float = 0.35
    duplicate_rate: float = 0.001
    out_of_order_rate: float = 0.01
    max_lateness_s: float = 30.0
    limit: int = 0  # stop after this many tweets; 0 = run until stopped
    #: the world's epoch (``streamwatch.feed.world``): a new world of the same seed gets other
    #: users, tags and tweet ids
    epoch: int = 1

    def __post_init__(self) -> None:
        checks = {
            "rate": self.rate > 0,
            "tags": 20 <= self.tags <= len(vocab.TAG_WORDS) * len(vocab.TAG_SUFFIXES)
            + len(vocab.NON_ASCII_TAGS),
            "zipf_exponent": self.zipf_exponent > 0,
            "users": self.users >= 1,
            "trend_every_s": self.trend_every_s >= 0,
            "trend_duration_s": self.trend_duration_s >= 0,
            "trend_share": 0 <= self.trend_share <= 1,
            "duplicate_rate": 0 <= self.duplicate_rate <= 1,
            "out_of_order_rate": 0 <= self.out_of_order_rate <= 1,
            "max_lateness_s": self.max_lateness_s >= 0,
            "limit": self.limit >= 0,
            "epoch": self.epoch >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"invalid synthetic settings: {', '.join(bad)}")


@dataclass(frozen=True, slots=True)
class Tag:
    """A hashtag as word parts, so it can be rendered ``spark2026`` or ``Spark2026``."""

    parts: tuple[str, ...]

    @property
    def text(self) -> str:
        return "".join(self.parts)


@dataclass(frozen=True, slots=True)
class Burst:
    index: int
    start_s: float
    end_s: float
    tag: Tag

    def share(self, t: float, peak: float) -> float:
        """Share of tweets carrying the tag at virtual time ``t``: ramp up, hold, ramp down."""
        if not self.start_s <= t < self.end_s:
            return 0.0
        ramp = max((self.end_s - self.start_s) * 0.2, 1e-9)
        return peak * min(1.0, (t - self.start_s) / ramp, (self.end_s - t) / ramp)


def build_tags(count: int, rng: random.Random) -> list[Tag]:
    """``count`` distinct tags ordered by popularity rank (a seeded shuffle)."""
    ascii_tags = [Tag((w, s) if s else (w,)) for s in vocab.TAG_SUFFIXES for w in vocab.TAG_WORDS]
    pool = ascii_tags[: count - len(vocab.NON_ASCII_TAGS)] + [
        Tag((t,)) for t in vocab.NON_ASCII_TAGS
    ]
    pool = pool[:count]
    rng.shuffle(pool)
    return pool


class TrendSchedule:
    """Burst ``k`` falls in ``[k * every, (k + 1) * every)``, placed by a seeded draw."""

    def __init__(self, seed: int, tags: list[Tag], every_s: float, duration_s: float) -> None:
        self._seed = seed
        self._tags = tags
        self.every_s = every_s
        self.duration_s = min(duration_s, every_s)
        self._cache: dict[int, Burst] = {}

    def burst(self, k: int) -> Burst:
        if k not in self._cache:
            rng = random.Random(f"{self._seed}:trend:{k}")
            start = k * self.every_s + rng.uniform(0.0, self.every_s - self.duration_s)
            # a tag from below the head, so the burst visibly changes the ranking
            tag = self._tags[rng.randrange(min(20, len(self._tags) - 1), len(self._tags))]
            self._cache[k] = Burst(k, start, start + self.duration_s, tag)
        return self._cache[k]

    def active(self, t: float) -> Burst | None:
        if self.every_s <= 0 or self.duration_s <= 0 or t < 0:
            return None
        b = self.burst(int(t // self.every_s))
        return b if b.start_s <= t < b.end_s else None

    def bursts_until(self, t: float) -> list[Burst]:
        if self.every_s <= 0 or self.duration_s <= 0:
            return []
        return [self.burst(k) for k in range(int(t // self.every_s) + 1)
                if self.burst(k).start_s < t]


def _zipf_cum(n: int, s: float) -> list[float]:
    return list(accumulate(1.0 / (rank ** s) for rank in range(1, n + 1)))


class TweetGenerator:
    """Deterministic tweet sequence for a seed; see the module docstring."""

    def __init__(self, config: SyntheticConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self._rng = random.Random(seed)
        setup = random.Random(f"{seed}:setup" if config.epoch == 1
                              else f"{seed}:setup:e{config.epoch}")
        self.tags = build_tags(config.tags, setup)
        self._tag_cum = _zipf_cum(len(self.tags), config.zipf_exponent)
        self.schedule = TrendSchedule(seed, self.tags, config.trend_every_s,
                                      config.trend_duration_s)
        self._users = self._build_users(setup)
        # a few users tweet a lot, most rarely
        self._user_cum = _zipf_cum(len(self._users), 0.8)
        self._langs = list(vocab.LANGUAGES)
        self._lang_cum = list(accumulate(vocab.LANGUAGES.values()))
        self._sentiments = list(vocab.SENTIMENTS)
        self._sent_cum = list(accumulate(vocab.SENTIMENTS.values()))
        self._id_base_ms = (_ID_BASE_UNIX_MS - SNOWFLAKE_EPOCH_MS
                            + setup.randrange(0, 1 << 32))
        self._worker = seed % 1024
        self._recent: deque[bytes] = deque(maxlen=_RECENT)
        self.count = 0  # new tweets generated (duplicates not included)
        self.duplicates = 0

    def _build_users(self, rng: random.Random) -> list[tuple[str, str]]:
        users: list[tuple[str, str]] = []
        seen: set[str] = set()
        langs = list(vocab.LANGUAGES)
        cum = list(accumulate(vocab.LANGUAGES.values()))
        while len(users) < self.config.users:
            name = "".join(rng.choice(vocab.USER_SYLLABLES) for _ in range(rng.randint(2, 3)))
            if rng.random() < 0.5:
                name += str(rng.randrange(100))
            if name in seen:
                name += f"_{len(users)}"
            seen.add(name)
            users.append((name, rng.choices(langs, cum_weights=cum)[0]))
        return users

    @property
    def virtual_time(self) -> float:
        """Seconds since the start on the generator's own axis (tweet index / rate)."""
        return self.count / self.config.rate

    def _pick(self, cum: list[float]) -> int:
        return bisect_right(cum, self._rng.random() * cum[-1])

    def _render(self, tag: Tag) -> str:
        r = self._rng.random()
        if tag.text == "spark" and r < 0.01:
            return "#" + vocab.FULLWIDTH_SPARK
        if r < 0.60:
            body = tag.text.lower()
        elif r < 0.85:
            body = tag.text[:1].upper() + tag.text[1:]
        elif r < 0.92:
            body = tag.text.upper()
        else:
            body = "".join(p[:1].upper() + p[1:] for p in tag.parts)
        return "#" + body

    def next_tweet(self, now_ms: int) -> dict[str, Any]:
        """The next new tweet (never a duplicate) as a dict in schema order."""
        rng, cfg = self._rng, self.config
        t = self.virtual_time
        virtual_ms = int(t * 1000)
        tweet_id = ((self._id_base_ms + virtual_ms) << 22) | (self._worker << 12) | (
            self.count & 0xFFF)
        user, home_lang = self._users[self._pick(self._user_cum)]
        lang = home_lang if rng.random() < 0.9 else self._langs[self._pick(self._lang_cum)]
        sentiment = self._sentiments[self._pick(self._sent_cum)]
        text = rng.choice(vocab.SENTENCES[lang][sentiment]).format(topic=rng.choice(vocab.TOPICS))
        # emoji carry the polarity VADER cannot read in non-English words
        if rng.random() < (0.3 if lang == "en" else 0.6):
            text += " " + rng.choice(vocab.EMOJI[sentiment])

        n_tags = (0, 1, 1, 1, 2, 2, 3)[rng.randrange(7)]
        chosen: list[Tag] = []
        burst = self.schedule.active(t)
        if burst is not None and rng.random() < burst.share(t, cfg.trend_share):
            chosen.append(burst.tag)
        while len(chosen) < n_tags:
            tag = self.tags[self._pick(self._tag_cum)]
            if tag not in chosen:
                chosen.append(tag)
        rendered = [self._render(tag) for tag in chosen]
        if rendered and rng.random() < 0.03:  # same tag twice, maybe in another case
            rendered.append(self._render(chosen[0]))
        if rng.random() < 0.01:  # not hashtags by the rule: digits only, and after a word
            rendered.append(rng.choice(("#1", "C#", "issue#42")))
        if rendered and rng.random() < 0.3:
            text = f"{rendered[0]} {text} {' '.join(rendered[1:])}".rstrip()
        elif rendered:
            text = f"{text} {' '.join(rendered)}"
        if rng.random() < 0.08:
            text = f"@{self._users[rng.randrange(len(self._users))][0]} {text}"
        if rng.random() < 0.05:
            text += " https://t.co/" + "".join(
                rng.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
                for _ in range(10))

        lag_ms = int(rng.expovariate(1 / 150.0))
        if rng.random() < cfg.out_of_order_rate:
            lag_ms += int(rng.uniform(1.0, max(cfg.max_lateness_s, 1.0)) * 1000)
        self.count += 1
        return {"id": str(tweet_id), "created_at": format_epoch_ms(now_ms - lag_ms),
                "user": user, "lang": lang, "text": text}

    def next_payloads(self, n: int, now_ms: int) -> list[bytes]:
        """``n`` compact JSON payloads; each may be a re-emitted recent one."""
        out: list[bytes] = []
        for _ in range(n):
            if self._recent and self._rng.random() < self.config.duplicate_rate:
                out.append(self._recent[self._rng.randrange(len(self._recent))])
                self.duplicates += 1
                continue
            payload = orjson.dumps(self.next_tweet(now_ms))
            self._recent.append(payload)
            out.append(payload)
        return out


class SyntheticSource:
    """The generator behind a :class:`~streamwatch.feed.sources.Pacer`, emitting to ``tweets``."""

    feeds = ("tweets",)

    def __init__(self, config: SyntheticConfig, seed: int, *, held: int = 0) -> None:
        self.config = config
        self.generator = TweetGenerator(config, seed)
        # tweets of this world the feed already holds: a restart regenerates and skips them
        self.held = held

    def catch_up(self, stop: threading.Event, chunk: int = 10_000) -> None:
        gen = self.generator
        while gen.count + gen.duplicates < self.held and not stop.is_set():
            # created_at follows the clock, not the seed: the skipped tweets' times are moot
            gen.next_payloads(min(chunk, self.held - gen.count - gen.duplicates), 0)
        if self.held:
            log.info("skipped the tweets the feed already holds", extra={"tweets": self.held})

    def run(self, emit: Emit, stop: threading.Event) -> None:
        cfg, gen = self.config, self.generator
        self.catch_up(stop)
        pacer = Pacer(cfg.rate)
        announced = -1
        log.info("synthetic tweets started", extra={
            "seed": gen.seed, "rate": cfg.rate, "tags": len(gen.tags),
            "trend_every_s": cfg.trend_every_s, "trend_duration_s": cfg.trend_duration_s})
        while not stop.is_set():
            n = pacer.due()
            if cfg.limit:
                n = min(n, cfg.limit - gen.count - gen.duplicates)
            if n > 0:
                emit("tweets", gen.next_payloads(n, int(time.time() * 1000)))
                burst = gen.schedule.active(gen.virtual_time)
                if burst is not None and burst.index != announced:
                    announced = burst.index
                    log.info("trend burst started", extra={
                        "hashtag": burst.tag.text, "burst": burst.index,
                        "duration_s": burst.end_s - burst.start_s})
            if cfg.limit and gen.count + gen.duplicates >= cfg.limit:
                log.info("synthetic tweets reached --max-events", extra={
                    "tweets": gen.count, "duplicates": gen.duplicates})
                return
            if not pacer.wait(stop):
                return
