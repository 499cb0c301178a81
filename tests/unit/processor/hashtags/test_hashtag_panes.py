"""Pane-based windows of the hashtags job (``streamwatch.processor.hashtags.panes``).

Tested: ``pane_ms`` is the gcd of the durations; trend and sentiment windows assembled
from panes fed batch by batch (append mode: each pane once, when the watermark passes its
end) equal a brute-force reference computed from the raw tweets, each window exactly
once; a batch replayed after a crash emits what its first attempt did; windows after a
gap in the stream; pruning of old batch files; batches without panes.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest

from streamwatch.processor.hashtags.panes import (
    RETAIN,
    Pane,
    PaneStore,
    iso,
    pane_ms,
    sentiment_windows,
    trend_windows,
)

SEC, MIN = 1_000, 60_000
BASE = 1_699_999_200_000  # a multiple of 15 minutes
TAGS = ["ai", "go", "rust", "spark", "zig"]
Tweet = tuple[int, list[str], float | None]  # event time ms, hashtags, sentiment score
Spec = tuple[int, int, int, int]  # window, slide, top, sentiment window (ms, ms, n, ms)
Rows = list[dict[str, Any]]
TRENDS: Spec = (5 * MIN, MIN, 3, 15 * MIN)
SHORT: Spec = (2 * MIN, 30 * SEC, 2, 2 * MIN)


def make_tweets(seed: int, n: int = 600, span_ms: int = 20 * MIN) -> list[Tweet]:
    rng = random.Random(seed)
    # Scores are multiples of 1/8 so that sums are exact in any order.
    return sorted((BASE + rng.randrange(span_ms), rng.sample(TAGS, rng.randint(0, 3)),
                   None if rng.random() < 0.3 else rng.randint(-8, 8) / 8) for _ in range(n))


def to_panes(tweets: list[Tweet], p: int) -> list[Pane]:
    """What the Spark aggregation emits: per (pane, tag) and per (pane, None) for all tweets."""
    acc: dict[tuple[int, str | None], list[Any]] = defaultdict(lambda: [0, 0.0, 0])
    for ts, tags, score in tweets:
        for tag in [*tags, None]:
            a = acc[(ts // p * p, tag)]
            a[0] += 1
            if score is not None:
                a[1] += score
                a[2] += 1
    return [(start, tag, c, s, n) for (start, tag), (c, s, n) in acc.items()]


def split(panes: list[Pane], p: int, watermarks: list[int]) -> list[list[Pane]]:
    """Append mode: a pane is given in the first batch whose watermark reaches its end."""
    out, prev = [], None
    for wm in watermarks:
        out.append([x for x in panes if x[0] + p <= wm and (prev is None or x[0] + p > prev)])
        prev = wm
    return out


def emit(store: PaneStore, batch_id: int, panes: list[Pane], spec: Spec) -> tuple[Rows, Rows]:
    window, slide, top, sentiment = spec
    final = store.commit(batch_id, random.Random(batch_id).sample(panes, len(panes)))
    return trend_windows(final, window, slide, top), sentiment_windows(final, sentiment)


def run(store: PaneStore, batches: list[list[Pane]], spec: Spec) -> list[tuple[Rows, Rows]]:
    return [emit(store, b, panes, spec) for b, panes in enumerate(batches)]


def mean(scores: list[float]) -> float | None:
    return round(sum(scores) / len(scores), 4) if scores else None


def reference(tweets: list[Tweet], spec: Spec, through: int) -> tuple[Rows, Rows]:
    """Windows computed from raw tweets, for window ends <= ``through``."""
    window, slide, top, sentiment = spec
    trends: Rows = []
    ends = {k * slide + window for ts, _, _ in tweets
            for k in range((ts - window) // slide + 1, ts // slide + 1)}
    for end in sorted(e for e in ends if e <= through):
        inside = [t for t in tweets if end - window <= t[0] < end]
        counts = Counter(tag for _, tags, _ in inside for tag in tags)
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        for rank, (tag, count) in enumerate(ranked, start=1):
            scores = [s for _, tags, s in inside if tag in tags and s is not None]
            trends.append({"window_start": iso(end - window), "window_end": iso(end),
                           "hashtag": tag, "count": count, "rank": rank,
                           "sentiment": mean(scores)})
    by_window: dict[int, list[Tweet]] = defaultdict(list)
    for t in tweets:
        by_window[t[0] // sentiment * sentiment + sentiment].append(t)
    overall = [{"window_start": iso(end - sentiment), "window_end": iso(end), "tweets": len(ts),
                "sentiment": mean([s for _, _, s in ts if s is not None])}
               for end, ts in sorted(by_window.items()) if end <= through]
    return trends, overall


def flatten(outputs: list[tuple[Rows, Rows]]) -> tuple[Rows, Rows]:
    trends = [r for t, _ in outputs for r in t]
    overall = [r for _, s in outputs for r in s]
    assert not [k for k, n in Counter((r["window_end"], r["rank"]) for r in trends).items()
                if n > 1], "a trend window was emitted twice"
    assert not [k for k, n in Counter(r["window_end"] for r in overall).items() if n > 1]
    return (sorted(trends, key=lambda r: (r["window_end"], r["rank"])),
            sorted(overall, key=lambda r: r["window_end"]))


def watermarks(seed: int, until: int) -> list[int]:
    rng, wm, out = random.Random(seed), BASE, []
    while wm < until:
        wm += rng.choice([0, rng.randrange(10 * SEC, 150 * SEC)])  # 0: a batch without panes
        out.append(wm)
    return out


def check_against_reference(tmp: Path, tweets: list[Tweet], spec: Spec, wms: list[int]) -> None:
    p = pane_ms(*spec[:2], spec[3])
    panes = to_panes(tweets, p)
    store = PaneStore(tmp, pane_ms=p, horizon_ms=max(spec[0], spec[3]))
    got = flatten(run(store, split(panes, p, wms), spec))
    through = max(x[0] + p for x in panes if x[0] + p <= wms[-1])  # newest final pane end
    expected = reference(tweets, spec, through)
    assert got[0] == expected[0]
    assert got[1] == expected[1]
    assert len(expected[0]) > 20 and expected[1]  # the case is not vacuous


@pytest.mark.parametrize(("durations", "expected"), [
    ((5 * MIN, MIN, 15 * MIN), MIN),
    ((2 * MIN, 30 * SEC, 2 * MIN), 30 * SEC),
    ((5 * MIN, 45 * SEC), 15 * SEC),
    ((90 * SEC, MIN, 15 * MIN), 30 * SEC),
])
def test_pane_ms_is_gcd_of_durations(durations: tuple[int, ...], expected: int) -> None:
    assert pane_ms(*durations) == expected


@pytest.mark.parametrize("spec", [TRENDS, SHORT], ids=["5m-1m-15m", "2m-30s-2m"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_windows_match_brute_force_reference(tmp_path: Path, spec: Spec, seed: int) -> None:
    tweets = make_tweets(seed)
    check_against_reference(tmp_path, tweets, spec, watermarks(seed, BASE + 22 * MIN))


@pytest.fixture
def six_batches() -> list[list[Pane]]:
    batches = split(to_panes(make_tweets(7), MIN), MIN,
                    [BASE + k * 3 * MIN + 20 * SEC for k in range(1, 7)])
    assert all(batches)
    return batches


def test_replay_after_crash_emits_the_same_windows(tmp_path: Path,
                                                   six_batches: list[list[Pane]]) -> None:
    uninterrupted = run(PaneStore(tmp_path / "a", MIN, 15 * MIN), six_batches, TRENDS)
    store = PaneStore(tmp_path / "b", MIN, 15 * MIN)
    first = run(store, six_batches[:5], TRENDS)
    assert first == uninterrupted[:5]
    restarted = PaneStore(tmp_path / "b", MIN, 15 * MIN)  # the crash: state only on disk
    assert emit(restarted, 4, six_batches[4], TRENDS) == first[4]
    assert emit(restarted, 5, six_batches[5], TRENDS) == uninterrupted[5]
    assert any(uninterrupted[5]) and any(first[4])


def test_recommit_replaces_files_from_the_batch_id_on(tmp_path: Path,
                                                      six_batches: list[list[Pane]]) -> None:
    store = PaneStore(tmp_path, MIN, 15 * MIN)
    first = run(store, six_batches[:5], TRENDS)
    before = (tmp_path / "4.json").read_bytes()
    # A rolled-back run left a record of batch 5 behind; it must not count as emitted.
    leftover = [[BASE + 59 * MIN, "zig", 9, 0.0, 0]]
    doc = {"batch_id": 5, "final_through": BASE + 60 * MIN, "panes": leftover}
    (tmp_path / "5.json").write_text(json.dumps(doc))
    restarted = PaneStore(tmp_path, MIN, 15 * MIN)
    assert emit(restarted, 4, six_batches[4], TRENDS) == first[4]
    assert not (tmp_path / "5.json").exists()
    assert (tmp_path / "4.json").read_bytes() == before
    # The same store object recommitting its own batch also redoes it.
    assert emit(restarted, 4, six_batches[4], TRENDS) == first[4]


def test_recommit_after_rolled_back_batch_that_pruned(tmp_path: Path) -> None:
    """Batch 2 of a rolled-back run must not prune what a recommit of batch 1 needs
    (``emitted_through`` and pane 0): the windows ending at minutes 2..5 and 21 and the
    sentiment window [0, 15), exactly as the first attempt emitted them.
    """
    store = PaneStore(tmp_path, MIN, 15 * MIN)
    def at(m: int) -> list[Pane]:
        return [(BASE + m * MIN, "ai", 1, 0.5, 1), (BASE + m * MIN, None, 1, 0.5, 1)]
    emit(store, 0, at(0), TRENDS)
    first = emit(store, 1, at(20), TRENDS)
    emit(store, 2, at(40), TRENDS)
    assert emit(PaneStore(tmp_path, MIN, 15 * MIN), 1, at(20), TRENDS) == first


def test_gap_windows_wait_for_the_next_final_pane(tmp_path: Path) -> None:
    """Tweets in minute 0, then none until minute 20.

    Observed semantics: the batch finalising pane [0, 1) emits only the window ending at
    minute 1; windows ending at minutes 2..5 (and the sentiment window [0, 15)) are not
    emitted while the watermark passes their ends without new panes, but in the batch where
    pane [20, 21) becomes final, together with the window ending at minute 21. None twice.
    """
    tweets = [(BASE + 10 * SEC, ["go"], 0.5), (BASE + 30 * SEC, ["go", "ai"], None),
              (BASE + 20 * MIN + 5 * SEC, ["ai"], -1.0)]
    panes = to_panes(tweets, MIN)
    wms = [BASE + m * MIN for m in (1, 3, 6, 16, 20, 21)]
    out = run(PaneStore(tmp_path, MIN, 15 * MIN), split(panes, MIN, wms), TRENDS)
    ends = [sorted({r["window_end"] for r in t}) for t, _ in out]
    assert ends == [[iso(BASE + MIN)], [], [], [], [],
                    [iso(BASE + m * MIN) for m in (2, 3, 4, 5, 21)]]
    assert [[r["window_end"] for r in s] for _, s in out] == [[]] * 5 + [[iso(BASE + 15 * MIN)]]
    assert out[0][0] == [{"window_start": iso(BASE - 4 * MIN), "window_end": iso(BASE + MIN),
                          "hashtag": "go", "count": 2, "rank": 1, "sentiment": 0.5},
                         {"window_start": iso(BASE - 4 * MIN), "window_end": iso(BASE + MIN),
                          "hashtag": "ai", "count": 1, "rank": 2, "sentiment": None}]
    flatten(out)


def test_old_batch_files_are_pruned(tmp_path: Path) -> None:
    """Files older than the last RETAIN batches and the horizon go; results stay exact."""
    tweets = make_tweets(11, n=3000, span_ms=240 * MIN)
    p, horizon = MIN, 15 * MIN
    batches = split(to_panes(tweets, p), p, [BASE + k * MIN for k in range(1, 243)])
    store = PaneStore(tmp_path, p, horizon)
    outputs = []
    for b, panes in enumerate(batches):
        outputs.append(emit(store, b, panes, TRENDS))
        files = sorted(int(f.stem) for f in tmp_path.glob("*.json"))
        assert len(files) <= RETAIN + horizon // MIN + 2, files
    assert min(files) > 242 - RETAIN - horizon // MIN - 2
    through = max(x[0] + p for x in to_panes(tweets, p))
    assert flatten(outputs) == reference(tweets, TRENDS, min(through, BASE + 242 * MIN))


def test_batch_without_panes_writes_nothing(tmp_path: Path) -> None:
    store = PaneStore(tmp_path, MIN, 15 * MIN)
    assert emit(store, 0, [], TRENDS) == ([], [])
    assert list(tmp_path.iterdir()) == []
    trends, _ = emit(store, 1, [(BASE, "go", 2, 1.0, 2), (BASE, None, 2, 1.0, 2)], TRENDS)
    assert [r["window_end"] for r in trends] == [iso(BASE + MIN)]
    assert emit(store, 2, [], TRENDS) == ([], [])
    assert sorted(f.name for f in tmp_path.iterdir()) == ["1.json"]
    assert emit(PaneStore(tmp_path, MIN, 15 * MIN), 3, [], TRENDS) == ([], [])


def test_equal_counts_rank_by_tag_not_by_arrival(tmp_path: Path) -> None:
    panes = [(BASE, "zig", 2, 0.0, 0), (BASE + MIN, "go", 1, 1.0, 1), (BASE + MIN, "ai", 1, 0, 0),
             (BASE + 2 * MIN, "go", 1, 0.0, 1), (BASE + 2 * MIN, "ai", 1, 0, 0),
             (BASE + 4 * MIN, None, 1, 0.0, 0)]  # makes the window [0, 5) due
    trends, _ = emit(PaneStore(tmp_path, MIN, 15 * MIN), 0, panes, (5 * MIN, 5 * MIN, 2, 5 * MIN))
    assert [(r["hashtag"], r["count"], r["rank"], r["sentiment"]) for r in trends] == [
        ("ai", 2, 1, None), ("go", 2, 2, 0.5)]
