"""The synthetic tweet generator: determinism, distribution shape, languages, sentiment."""

from __future__ import annotations

import re
import threading
import time
import unicodedata
from collections import Counter

import orjson
import pytest

from streamwatch.contracts.events import Tweet, parse_ts
from streamwatch.producers.tweets.synthetic import SyntheticConfig, SyntheticSource, TweetGenerator

HASHTAG = re.compile(r"(?<!\w)#(\w+)")
NOW_MS = 1_795_000_000_000


def hashtags(text: str) -> list[str]:
    """The processor's rule (ARCHITECTURE.md): NFKC + casefold, not all digits."""
    return [unicodedata.normalize("NFKC", t).casefold()
            for t in HASHTAG.findall(text) if not t.isdigit()]


def generate(n: int, seed: int = 7, **overrides: object) -> list[dict]:
    gen = TweetGenerator(SyntheticConfig(**overrides), seed)  # type: ignore[arg-type]
    return [orjson.loads(p) for p in gen.next_payloads(n, NOW_MS)]


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    return generate(20_000, trend_every_s=0)


def test_same_seed_same_sequence_other_seed_other_sequence() -> None:
    def key(t: dict) -> tuple:
        return t["id"], t["user"], t["lang"], t["text"]

    a, b = generate(2000, seed=11), generate(2000, seed=11)
    assert [key(t) for t in a] == [key(t) for t in b]
    c = generate(2000, seed=12)
    assert sum(key(x) == key(y) for x, y in zip(a, c, strict=True)) < 10


def test_every_tweet_matches_the_schema_with_snowflake_ids(sample: list[dict]) -> None:
    for t in sample[:2000]:
        Tweet.from_dict(t)
        assert re.fullmatch(r"[1-9]\d{17,18}", t["id"])
    first_seen = list(dict.fromkeys(t["id"] for t in sample))
    assert first_seen == sorted(first_seen, key=int)  # snowflakes grow with time


def test_created_at_is_near_now_with_a_few_out_of_order(sample: list[dict]) -> None:
    lags = [NOW_MS - parse_ts(t["created_at"]).timestamp() * 1000 for t in sample]
    assert all(0 <= lag <= 31_000 for lag in lags)
    late = sum(lag > 1000 for lag in lags)
    assert 0 < late < len(sample) * 0.05


def test_hashtags_have_a_long_tail(sample: list[dict]) -> None:
    counts = Counter(tag for t in sample for tag in set(hashtags(t["text"])))
    ranked = [c for _, c in counts.most_common()]
    assert len(ranked) >= 250  # most of the vocabulary shows up
    assert ranked[0] > 20 * ranked[len(ranked) // 2]  # a head far above the median
    assert sum(ranked[:10]) > 0.3 * sum(ranked)
    assert ranked[-1] * 100 < ranked[0]  # and a tail of rare tags


def test_tags_are_messy_the_way_the_processor_must_handle(sample: list[dict]) -> None:
    raw_forms: dict[str, set[str]] = {}
    repeated = non_ascii = 0
    for t in sample:
        raw = [r for r in HASHTAG.findall(t["text"]) if not r.isdigit()]
        for r in raw:
            raw_forms.setdefault(unicodedata.normalize("NFKC", r).casefold(), set()).add(r)
        norm = hashtags(t["text"])
        repeated += len(norm) != len(set(norm))
        non_ascii += any(not r.isascii() for r in raw)
    assert sum(len(forms) > 1 for forms in raw_forms.values()) > 50  # #Spark vs #spark
    assert repeated > 50
    assert non_ascii > 50


def test_duplicates_repeat_an_earlier_tweet_byte_for_byte() -> None:
    gen = TweetGenerator(SyntheticConfig(duplicate_rate=0.02), 3)
    payloads = gen.next_payloads(5000, NOW_MS)
    seen: set[bytes] = set()
    dups = 0
    for p in payloads:
        if p in seen:
            dups += 1
        seen.add(p)
    assert dups == gen.duplicates > 0
    ids = [orjson.loads(p)["id"] for p in payloads]
    assert len(set(ids)) == len(ids) - dups  # a duplicate is only ever a re-emission


def test_languages_are_mixed_with_english_dominant(sample: list[dict]) -> None:
    langs = Counter(t["lang"] for t in sample)
    assert set(langs) >= {"en", "es", "fr", "de", "pt", "ja"}
    assert langs.most_common(1)[0][0] == "en"
    assert all(n > len(sample) * 0.03 for n in langs.values())
    assert all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", t["text"])
               for t in sample[:3000] if t["lang"] == "ja")


def test_vader_sentiment_spreads_over_negative_neutral_positive(sample: list[dict]) -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    classes: Counter[str] = Counter()
    non_english_polar = 0
    for t in sample[:3000]:
        score = analyzer.polarity_scores(t["text"])["compound"]
        label = "pos" if score >= 0.05 else "neg" if score <= -0.05 else "neu"
        classes[label] += 1
        non_english_polar += t["lang"] != "en" and label != "neu"
    assert all(classes[c] > 0.15 * 3000 for c in ("pos", "neg", "neu")), classes
    assert non_english_polar > 100


def test_burst_schedule_is_seeded_and_one_per_period() -> None:
    cfg = SyntheticConfig(trend_every_s=60, trend_duration_s=20)
    a = TweetGenerator(cfg, 5).schedule.bursts_until(600)
    assert a == TweetGenerator(cfg, 5).schedule.bursts_until(600)
    assert a != TweetGenerator(cfg, 6).schedule.bursts_until(600)
    assert len(a) == 10
    for k, b in enumerate(a):
        assert k * 60 <= b.start_s and b.end_s <= (k + 1) * 60
        assert b.end_s - b.start_s == pytest.approx(20)
    head = set(TweetGenerator(cfg, 5).tags[:20])
    assert not head & {b.tag for b in a}  # bursts lift a tag from below the head


def test_a_burst_takes_a_large_share_of_traffic_while_it_lasts() -> None:
    cfg = SyntheticConfig(rate=100, trend_every_s=120, trend_duration_s=60, trend_share=0.4)
    gen = TweetGenerator(cfg, 9)
    burst = gen.schedule.burst(0)
    tag = burst.tag.text.casefold()
    inside = outside = inside_n = outside_n = 0
    for _ in range(12_000):  # 120 s of virtual time
        t = gen.virtual_time
        has = tag in hashtags(gen.next_tweet(NOW_MS)["text"])
        plateau = burst.start_s + 15 <= t < burst.end_s - 15
        if plateau:
            inside_n += 1
            inside += has
        elif not burst.start_s <= t < burst.end_s:
            outside_n += 1
            outside += has
    assert inside / inside_n > 0.3
    assert outside / max(outside_n, 1) < 0.05


def test_source_paces_and_stops_at_the_limit() -> None:
    source = SyntheticSource(SyntheticConfig(rate=3000, limit=250), seed=1)
    batches: list[list[bytes]] = []
    stop = threading.Event()
    runner = threading.Thread(
        target=source.run, args=(lambda feed, p: batches.append(p), stop), daemon=True)
    runner.start()
    runner.join(10)
    assert not runner.is_alive()
    payloads = [p for b in batches for p in b]
    assert len(payloads) == 250
    assert len(batches) > 1  # emitted in ticks, not all at once
    for p in payloads:
        Tweet.from_dict(orjson.loads(p))


def test_source_stops_when_asked() -> None:
    source = SyntheticSource(SyntheticConfig(rate=100), seed=1)
    stop = threading.Event()
    runner = threading.Thread(target=source.run, args=(lambda f, p: None, stop), daemon=True)
    runner.start()
    time.sleep(0.1)
    stop.set()
    runner.join(5)
    assert not runner.is_alive()


def test_invalid_settings_are_named() -> None:
    with pytest.raises(ValueError, match=r"rate.*trend_share"):
        SyntheticConfig(rate=0, trend_share=2)


def test_a_new_world_of_the_same_seed_has_other_ids_and_users() -> None:
    first = [orjson.loads(p) for p in TweetGenerator(SyntheticConfig(), 7).next_payloads(200, 0)]
    again = [orjson.loads(p) for p in TweetGenerator(SyntheticConfig(epoch=2), 7)
             .next_payloads(200, 0)]
    assert not {t["id"] for t in first} & {t["id"] for t in again}
    assert {t["user"] for t in first} != {t["user"] for t in again}


def test_a_resumed_source_skips_what_the_feed_holds() -> None:
    whole = TweetGenerator(SyntheticConfig(), 7).next_payloads(500, 0)
    source = SyntheticSource(SyntheticConfig(limit=500), 7, held=320)
    source.catch_up(threading.Event())
    rest = source.generator.next_payloads(180, 0)

    def key(p: bytes) -> tuple:
        t = orjson.loads(p)
        return t["id"], t["user"], t["text"]

    assert [key(p) for p in rest] == [key(p) for p in whole[320:]]
