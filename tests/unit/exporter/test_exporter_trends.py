"""Trend rows: validation, superseding, bounds and ordering."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamwatch.exporter.openapi import example
from streamwatch.exporter.trends import TrendStore, parse_trends
from streamwatch.exporter.validation import ValidationError


def row(minute: int, hashtag: str, count: int, rank: int, sentiment: float | None = 0.1
        ) -> dict[str, Any]:
    return {"window_start": f"2026-11-20T10:{minute:02d}:00Z",
            "window_end": f"2026-11-20T10:{minute + 5:02d}:00Z",
            "hashtag": hashtag, "count": count, "rank": rank, "sentiment": sentiment}


def store_with(*rows: dict[str, Any], max_windows: int = 3, max_rows: int = 50) -> TrendStore:
    store = TrendStore(max_windows, max_rows)
    store.apply(*parse_trends({"trends": list(rows)}))
    return store


def test_example_body_parses() -> None:
    trends, sentiment = parse_trends(example("trends"))
    assert [t.hashtag for t in trends] == [r["hashtag"] for r in example("trends")["trends"]]
    assert sentiment[0].tweets == example("trends")["sentiment"][0]["tweets"]


def test_later_row_supersedes_same_window_and_hashtag() -> None:
    store = store_with(row(10, "spark", 3, 1), row(10, "spark", 9, 1))
    [window] = store.windows()
    assert [(r["hashtag"], r["count"]) for r in window["top"]] == [("spark", 9)]


def test_windows_newest_first_rows_by_rank_and_bounded() -> None:
    store = store_with(row(0, "a", 1, 1), row(1, "b", 5, 2), row(1, "c", 7, 1),
                       row(2, "d", 1, 1), row(3, "e", 1, 1))
    windows = store.windows()
    assert [w["window_start"] for w in windows] == [
        "2026-11-20T10:03:00Z", "2026-11-20T10:02:00Z", "2026-11-20T10:01:00Z"]
    assert [r["hashtag"] for r in windows[2]["top"]] == ["c", "b"]
    assert len(store.windows(limit=1)) == 1
    assert [r.hashtag for r in store.current_top(5)] == ["e"]


def test_rows_per_window_keep_the_best_ranked() -> None:
    store = store_with(*(row(0, f"t{i}", 100 - i, i + 1) for i in range(10)), max_rows=4)
    assert [r.hashtag for r in store.current_top(10)] == ["t0", "t1", "t2", "t3"]


@pytest.mark.parametrize(("body", "field"), [
    ({}, "trends"),
    ({"trends": {}}, "trends"),
    ({"trends": [1]}, "trends[0]"),
    ({"trends": [row(0, "", 1, 1)]}, "trends[0].hashtag"),
    ({"trends": [row(0, "a", -1, 1)]}, "trends[0].count"),
    ({"trends": [row(0, "a", 1, 0)]}, "trends[0].rank"),
    ({"trends": [row(0, "a", 1, 1, sentiment=1.5)]}, "trends[0].sentiment"),
    ({"trends": [{**row(0, "a", 1, 1), "window_end": "2026-11-20T09:00:00Z"}]},
     "trends[0].window_end"),
    ({"trends": [row(0, "a", 1, 1), {**row(0, "b", 1, 2), "window_start": "noon"}]},
     "trends[1].window_start"),
    ({"sentiment": [{"window_start": "2026-11-20T10:00:00Z",
                     "window_end": "2026-11-20T10:05:00Z", "tweets": "many"}]},
     "sentiment[0].tweets"),
])
def test_malformed_bodies_name_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_trends(copy.deepcopy(body))
    assert info.value.field == field


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.sampled_from("abcdef"),
                          st.integers(0, 1000), st.integers(1, 6)), max_size=40))
def test_store_matches_a_last_write_wins_model(rows: list[tuple[int, str, int, int]]) -> None:
    store = store_with(*(row(m, h, c, r) for m, h, c, r in rows), max_windows=4)
    model: dict[int, dict[str, tuple[int, int]]] = {}
    for minute, hashtag, count, rank in rows:
        model.setdefault(minute, {})[hashtag] = (count, rank)
    kept = sorted(model, reverse=True)[:4]
    windows = store.windows()
    assert [w["window_start"] for w in windows] == [f"2026-11-20T10:{m:02d}:00Z" for m in kept]
    for window, minute in zip(windows, kept, strict=True):
        got = {r["hashtag"]: (r["count"], r["rank"]) for r in window["top"]}
        assert got == model[minute]
        ranks = [r["rank"] for r in window["top"]]
        assert ranks == sorted(ranks)
