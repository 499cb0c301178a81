"""The orders job in real Spark equals a plain count of the same input, across restarts.

The input comes from the order simulator with resends, disorder and late
events, split into files read one per micro-batch, plus a malformed line and
an event with an unknown status. The reference counts in plain Python by the
contract: per batch, an event whose minute ended at or before the watermark
the batch began with is late; every other event counts once per event_id in
its minute; a minute is written once its end is at or before the final
watermark.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

from streamwatch.contracts.events import ORDER_STATUSES, parse_ts
from streamwatch.producers.orders.simulator import OrderConfig, OrderGenerator

pytestmark = [pytest.mark.spark, pytest.mark.slow]

MINUTE = 60_000
WATERMARK_S = 30
ANCHOR_MS = int(parse_ts("2026-11-20T10:00:00Z").timestamp() * 1000)


def ms(event: dict[str, Any]) -> int:
    return int(parse_ts(event["event_time"]).timestamp() * 1000)


@pytest.fixture(scope="module")
def parts() -> list[list[dict[str, Any]]]:
    config = OrderConfig(seed=21, rate=15, anchor_ms=ANCHOR_MS, time_scale=14_400,
                         duplicate_rate=0.05, duplicate_delay_s=15, disorder_s=4,
                         late_fraction=0.03, late_by_s=80)
    events = [orjson.loads(e) for e in OrderGenerator(config).take(9000)]
    sizes = (700, 1300, 400, 1000)
    out, i, k = [], 0, 0
    while i < len(events):
        out.append(events[i:i + sizes[k % len(sizes)]])
        i, k = i + sizes[k % len(sizes)], k + 1
    return out


def write_files(directory: Path, parts: list[list[dict[str, Any]]], first: int = 0) -> None:
    """One file per part, modification times in order (the file source reads oldest first)."""
    directory.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(parts, start=first):
        lines = [orjson.dumps(e) for e in part]
        if i == 1:
            lines += [b"{not json", orjson.dumps({**part[0], "event_id": "bad-status",
                                                   "status": "lost"})]
        path = directory / f"part-{i:03d}.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        os.utime(path, (1_700_000_000 + i, 1_700_000_000 + i))


def reference(parts: list[list[dict[str, Any]]]) -> tuple[dict, int]:
    watermark, late = None, 0
    seen: dict[str, tuple[int, str, int]] = {}
    for part in parts:
        final = None if watermark is None else watermark - watermark % MINUTE
        newest = None
        for e in part:
            t = ms(e)
            if final is not None and t < final:
                late += 1
                continue
            newest = t if newest is None else max(newest, t)
            seen.setdefault(e["event_id"], (t - t % MINUTE, e["status"],
                                            sum(i["quantity"] for i in e["items"])))
        if newest is not None:
            w = newest - WATERMARK_S * 1000
            watermark = w if watermark is None else max(watermark, w)
    final = watermark - watermark % MINUTE
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    minutes = set()
    for minute, status, units in seen.values():
        if minute + MINUTE <= final:
            minutes.add(minute)
            counts[(minute, status)][0] += 1
            counts[(minute, status)][1] += units
    out = {}
    for minute in minutes:
        for status in ORDER_STATUSES:
            out[(minute, status)] = tuple(counts.get((minute, status), (0, 0)))
    return out, late


def run_job(spark: Any, source: Path, out: Path, checkpoint: Path) -> None:
    from streamwatch.processor.cli import job_args
    from streamwatch.processor.orders import job as orders

    args = job_args("orders", [
        "--source", f"file:{source}", "--sink", f"jsonl:{out}", "--checkpoint",
        str(checkpoint), "--trigger", "available-now", "--max-files-per-trigger", "1",
        "--watermark", f"{WATERMARK_S}s"])
    queries = orders.start(spark, args)
    try:
        for q in queries:
            q.awaitTermination(300)
            assert q.exception() is None
        # the dead-letter side query of the file source ends with available-now too
        for q in spark.streams.active:
            q.awaitTermination(120)
    finally:
        for q in spark.streams.active:
            q.stop()


def read_rows(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for path in sorted(directory.glob("*.jsonl"))
            for line in path.read_bytes().splitlines()]


def totals(rows: list[dict[str, Any]]) -> dict[tuple[int, str], tuple[int, int]]:
    out = {}
    for r in rows:
        if r["category"] is None and r["region"] is None:
            key = (int(parse_ts(r["minute_start"]).timestamp() * 1000), r["status"])
            assert key not in out, f"{key} written twice"
            out[key] = (r["orders"], r["units"])
    return out


def test_counts_equal_the_reference_and_late_events_are_dead_lettered(
        spark: Any, tmp_path: Path, parts: list[list[dict[str, Any]]]) -> None:
    write_files(tmp_path / "in", parts)
    run_job(spark, tmp_path / "in", tmp_path / "out", tmp_path / "ck")
    expected, late = reference(parts)
    rows = read_rows(tmp_path / "out")
    assert totals(rows) == expected
    assert late > 0 and len(expected) >= 10
    dead = read_rows(tmp_path / "ck" / "dead-letter")
    late_rows = [d for d in dead if d.get("reason", "").startswith("late")]
    assert len(late_rows) == late
    assert [d["event"]["event_id"] for d in dead if d.get("reason", "").startswith(
        "status")] == ["bad-status"]
    # the malformed line went to the source's dead letter, not into any count
    assert any(d.get("value") == "{not json" for d in dead)
    timed = [r for r in rows if r["status"] == "shipped" and r["since_purchase_s"]]
    assert timed and all(0 < r["since_purchase_s"]["p50"] <= r["since_purchase_s"]["p99"]
                         for r in timed)


def test_a_restart_on_the_checkpoint_gives_the_rows_of_an_uninterrupted_run(
        spark: Any, tmp_path: Path, parts: list[list[dict[str, Any]]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    write_files(tmp_path / "whole-in", parts)
    run_job(spark, tmp_path / "whole-in", tmp_path / "whole", tmp_path / "ck-whole")

    from pyspark.errors import StreamingQueryException

    from streamwatch.processor.io.sinks import JsonlSink

    cut = len(parts) // 2
    write_files(tmp_path / "in", parts[:cut])
    # the first run dies writing the rows of a batch, after the store committed it
    original, failed = JsonlSink.write, []

    def failing(self: JsonlSink, batch_id: int, rows: Any) -> None:
        if batch_id == cut - 1 and not failed and "out" in str(self.directory):
            failed.append(batch_id)
            raise RuntimeError("driver lost while writing the rows")
        original(self, batch_id, rows)

    monkeypatch.setattr(JsonlSink, "write", failing)
    with pytest.raises(StreamingQueryException, match="driver lost"):
        run_job(spark, tmp_path / "in", tmp_path / "out", tmp_path / "ck")
    assert failed
    monkeypatch.setattr(JsonlSink, "write", original)
    run_job(spark, tmp_path / "in", tmp_path / "out", tmp_path / "ck")
    write_files(tmp_path / "in", parts[cut:], first=cut)
    run_job(spark, tmp_path / "in", tmp_path / "out", tmp_path / "ck")
    assert sorted(read_rows(tmp_path / "out"), key=orjson.dumps) == sorted(
        read_rows(tmp_path / "whole"), key=orjson.dumps)
    late = [d for d in read_rows(tmp_path / "ck" / "dead-letter") if "event" in d]
    whole_late = [d for d in read_rows(tmp_path / "ck-whole" / "dead-letter") if "event" in d]
    assert sorted(late, key=orjson.dumps) == sorted(whole_late, key=orjson.dumps)
