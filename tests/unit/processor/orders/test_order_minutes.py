"""The orders job's minute store, without Spark: final rows, late events, resends, restarts."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pytest

from streamwatch.contracts.events import ORDER_STATUSES, parse_ts
from streamwatch.processor.orders.minutes import MINUTE_MS, MinuteStore
from streamwatch.producers.orders.simulator import OrderConfig, OrderGenerator

ITEM = pa.struct([("sku", pa.string()), ("category", pa.string()),
                  ("quantity", pa.int32()), ("unit_price", pa.string())])
ANCHOR_MS = int(parse_ts("2026-11-20T10:00:00Z").timestamp() * 1000)
DELAY = 60_000


def ts_of(event: dict[str, Any]) -> int | None:
    try:
        return int(parse_ts(event["event_time"]).timestamp() * 1000)
    except (ValueError, TypeError):
        return None


def table(events: list[dict[str, Any]]) -> pa.Table:
    """A micro-batch as the Spark job hands it over (``INPUT_COLUMNS``)."""
    return pa.table({
        "event_id": pa.array([e["event_id"] for e in events], pa.string()),
        "order_id": pa.array([e.get("order_id") for e in events], pa.string()),
        "status": pa.array([e.get("status") for e in events], pa.string()),
        "event_time": pa.array([e.get("event_time") for e in events], pa.string()),
        "region": pa.array([e.get("region") for e in events], pa.string()),
        "ts": pa.array([ts_of(e) for e in events], pa.int64()),
        "items": pa.array([e.get("items") for e in events], pa.list_(ITEM)),
    })


def stream(n: int, rate: float = 40, **changes: Any) -> list[dict[str, Any]]:
    config = OrderConfig(seed=11, rate=rate, anchor_ms=ANCHOR_MS, time_scale=14_400,
                         **changes)
    return [orjson.loads(e) for e in OrderGenerator(config).take(n)]


def batches(events: list[dict[str, Any]], sizes: tuple[int, ...]) -> list[list[dict]]:
    out, i, k = [], 0, 0
    while i < len(events):
        size = sizes[k % len(sizes)]
        out.append(events[i:i + size])
        i, k = i + size, k + 1
    return out


def reference(parts: list[list[dict[str, Any]]]) -> tuple[dict, int]:
    """The contract written out plainly: per batch, an event is late when its minute
    ended at or before the watermark the batch began with; the others count once per id.
    Returns {(minute, status): (orders, units)} of the minutes final after the last
    batch, and the late count."""
    watermark = None
    seen: dict[str, tuple[int, str, int]] = {}
    late = 0
    for part in parts:
        final = None if watermark is None else watermark - watermark % MINUTE_MS
        newest = None
        for e in part:
            t = ts_of(e)
            if final is not None and t < final:
                late += 1
                continue
            newest = t if newest is None else max(newest, t)
            units = sum(i["quantity"] for i in e["items"])
            seen.setdefault(e["event_id"], (t - t % MINUTE_MS, e["status"], units))
        if newest is not None:
            watermark = newest - DELAY if watermark is None else max(watermark, newest - DELAY)
    final = watermark - watermark % MINUTE_MS
    counts: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for minute, status, units in seen.values():
        if minute + MINUTE_MS <= final:
            counts[(minute, status)][0] += 1
            counts[(minute, status)][1] += units
    return {k: tuple(v) for k, v in counts.items()}, late


def run(store: MinuteStore, parts: list[list[dict[str, Any]]], first: int = 0
        ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rows, late = [], []
    for i, part in enumerate(parts, start=first):
        out = store.commit(i, table(part))
        rows += out.rows
        late += out.late
    return rows, late


def totals(rows: list[dict[str, Any]]) -> dict[tuple[int, str], tuple[int, int]]:
    out = {}
    for r in rows:
        if r["category"] is None and r["region"] is None and r["orders"]:
            key = (int(parse_ts(r["minute_start"]).timestamp() * 1000), r["status"])
            assert key not in out, f"minute {key} written twice"
            out[key] = (r["orders"], r["units"])
    return out


@pytest.fixture(scope="module")
def messy() -> list[dict[str, Any]]:
    # ~60 events a second of event time: 12k events span ~3.5 minutes
    return stream(12_000, rate=20, duplicate_rate=0.05, duplicate_delay_s=20, disorder_s=5,
                  late_fraction=0.02, late_by_s=130)


def test_counts_match_the_contract_with_resends_disorder_and_late_events(
        tmp_path: Path, messy: list[dict[str, Any]]) -> None:
    parts = batches(messy, (350, 90, 1200, 7))
    store = MinuteStore(tmp_path / "m", delay_ms=DELAY, horizon_ms=3_600_000)
    rows, late = run(store, parts)
    expected, expected_late = reference(parts)
    assert totals(rows) == expected
    assert len(late) == store.late_total == expected_late > 0
    assert all(r["reason"].startswith("late") for r in late)
    # late events come back whole, for the dead-letter file
    assert {orjson.dumps(x["event"]) for x in late} <= {orjson.dumps(e) for e in messy}
    # resends were really there, and counted once
    ids = [e["event_id"] for e in messy]
    assert len(set(ids)) < len(ids)


def test_every_final_minute_has_all_statuses_and_consistent_breakdowns(
        tmp_path: Path, messy: list[dict[str, Any]]) -> None:
    store = MinuteStore(tmp_path / "m", delay_ms=DELAY, horizon_ms=3_600_000)
    rows, _ = run(store, batches(messy, (500,)))
    by_minute: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_minute[r["minute_start"]].append(r)
    assert len(by_minute) >= 2
    for minute_rows in by_minute.values():
        status_rows = {r["status"]: r for r in minute_rows
                       if r["category"] is None and r["region"] is None}
        assert list(status_rows) == list(ORDER_STATUSES)
        for status, total in status_rows.items():
            regions = [r for r in minute_rows if r["status"] == status and r["region"]]
            cats = [r for r in minute_rows if r["status"] == status and r["category"]]
            assert sum(r["orders"] for r in regions) == total["orders"]
            assert sum(r["units"] for r in regions) == total["units"]
            # an event with items of two categories is in both category rows
            assert sum(r["units"] for r in cats) == total["units"]
            assert sum(r["orders"] for r in cats) >= total["orders"]
            assert all(r["orders"] <= total["orders"] for r in cats)


def test_time_since_purchase_is_exact(tmp_path: Path) -> None:
    def event(order: str, status: str, second: int) -> dict[str, Any]:
        ms = ANCHOR_MS + second * 1000
        return {"event_id": f"{order}/{status}", "order_id": order, "status": status,
                "event_time": f"2026-11-20T10:{second // 60:02d}:{second % 60:02d}.000Z",
                "region": "eu-west", "ts": ms,
                "items": [{"sku": "boo-1", "category": "books", "quantity": 1,
                           "unit_price": "1.00"}]}

    evs = [event("o-1", "purchased", 0), event("o-2", "purchased", 10),
           event("o-3", "purchased", 20), event("o-1", "shipped", 70),
           event("o-2", "shipped", 100), event("o-3", "shipped", 110),
           event("o-4", "shipped", 115)]  # o-4's purchase was never seen: not timed
    store = MinuteStore(tmp_path / "m", delay_ms=0, horizon_ms=3_600_000)
    rows = store.commit(0, table(evs)).rows + store.commit(
        1, table([event("o-9", "purchased", 200)])).rows
    shipped = next(r for r in rows if r["status"] == "shipped" and r["category"] is None
                   and r["region"] is None and r["minute_start"].endswith("10:01:00Z"))
    assert shipped["orders"] == 4
    timed = shipped["since_purchase_s"]
    assert timed["n"] == 3 and timed["p50"] == 90.0  # 70, 90, 90 seconds
    assert 90.0 <= timed["p90"] <= timed["p99"] <= 90.0
    purchased = next(r for r in rows if r["status"] == "purchased" and r["category"] is None
                     and r["region"] is None and r["minute_start"].endswith("10:00:00Z"))
    assert purchased["since_purchase_s"] is None


def test_a_restart_and_a_replayed_batch_give_the_rows_of_one_run(
        tmp_path: Path, messy: list[dict[str, Any]]) -> None:
    parts = batches(messy, (400, 130))
    whole, whole_late = run(MinuteStore(tmp_path / "a", delay_ms=DELAY,
                                        horizon_ms=3_600_000), parts)
    cut = len(parts) // 2
    first = MinuteStore(tmp_path / "b", delay_ms=DELAY, horizon_ms=3_600_000)
    rows, late = run(first, parts[:cut + 1])
    # the driver died after batch `cut` wrote its files but before Spark committed it:
    # a new store (a new driver) runs batch `cut` again, then the rest
    rows = rows[:len(rows) - len(first.commit(cut, table(parts[cut])).rows)]
    late = late[:len(late) - len(first.commit(cut, table(parts[cut])).late)]
    second = MinuteStore(tmp_path / "b", delay_ms=DELAY, horizon_ms=3_600_000)
    more, more_late = run(second, parts[cut:], first=cut)
    assert rows + more == whole
    assert late + more_late == whole_late
    assert second.late_total == len(whole_late)


def test_invalid_events_are_returned_with_the_reason_not_counted(tmp_path: Path) -> None:
    good = stream(50)
    bad = [{**good[0], "event_id": "x1", "status": "lost"},
           {**good[1], "event_id": "x2", "event_time": "yesterday"},
           {**good[2], "event_id": "x3", "items": [{**good[2]["items"][0], "quantity": 0}]},
           {**good[3], "event_id": "x4", "items": []}]
    store = MinuteStore(tmp_path / "m", delay_ms=DELAY, horizon_ms=3_600_000)
    out = store.commit(0, table(good + bad))
    assert [x["event"]["event_id"] for x in out.invalid] == ["x1", "x2", "x3", "x4"]
    assert [x["reason"].split(":")[0] for x in out.invalid] == [
        "status", "event_time", "items", "items"]
    assert store.invalid_total == 4


def test_files_of_final_minutes_are_pruned(tmp_path: Path) -> None:
    evs = stream(9000, rate=10)
    assert ts_of(evs[-1]) - ts_of(evs[0]) > 5 * MINUTE_MS
    store = MinuteStore(tmp_path / "m", delay_ms=DELAY, horizon_ms=120_000)
    run(store, batches(evs, (100,)))
    # 90 batches over 5+ minutes of event time: only those of the open minutes and the
    # purchase horizon stay
    kept = len(list((tmp_path / "m").glob("*.json")))
    assert kept < 60
    assert len(list((tmp_path / "m").glob("*.arrow"))) <= kept
