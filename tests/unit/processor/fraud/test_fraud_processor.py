"""The fraud processor's state layout (base + delta log + worker cache), driven by
Spark's own ``TwsTester`` (an in-memory transformWithState harness).

The reference is the detector alone over the same batches: whatever path the
processor takes to a bucket's state (its cache, a stale cache caught up
through the log, a rebuild from base + log), the alerts and the state must be
the ones the detector gives.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from pyspark.sql.streaming.tws_tester import TwsTester

from streamwatch.processor.fraud import processor as proc
from streamwatch.processor.fraud.detector import detect
from streamwatch.processor.fraud.processor import (
    COMPACT_AFTER,
    FraudProcessor,
    WorkerCache,
)
from streamwatch.processor.fraud.rules import RuleSet, default_rules_path, load_rules, publish
from streamwatch.processor.fraud.state import TXN_COLUMNS, BucketState, with_keys

BUCKETS = 4
BUCKET = 1
TTL_MS = 2 * 3600 * 1000
N_BATCHES = 2 * COMPACT_AFTER + 6  # two compactions of bucket 1 (after 17 entries each)


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(default_rules_path())


@pytest.fixture(scope="module")
def batches() -> list[pd.DataFrame]:
    """One bucket's transactions, cut into micro-batches (cards recur across batches)."""
    from streamwatch.producers.txns.config import SimConfig
    from streamwatch.producers.txns.simulator import TxnGenerator

    txns, _ = TxnGenerator(SimConfig(seed=21, rate=1.0, cards=200, fraud_rate=0.05)).take(6000)
    df = pd.DataFrame([orjson.loads(x) for x in txns])
    df["ts"] = pd.to_datetime(df["event_time"]).astype("int64") // 1_000_000
    df["amount"] = df["amount"].astype(float)
    df = with_keys(df)
    mine = df[np.mod(df["card"].to_numpy(), BUCKETS) == BUCKET].reset_index(drop=True)
    return [mine.iloc[idx].reset_index(drop=True)
            for idx in np.array_split(np.arange(len(mine)), N_BATCHES)]


@pytest.fixture()
def worker_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[WorkerCache]:
    """A fresh cache per test, as in a new Python worker process."""
    cache = WorkerCache()
    monkeypatch.setattr(proc, "WORKER_CACHE", cache)
    yield cache


def _processor(rules: RuleSet, tmp_path: Path) -> FraudProcessor:
    publish(tmp_path / "rules", rules, {"reload_errors_total": 0})
    return FraudProcessor(rules_dir=str(tmp_path / "rules"), buckets=BUCKETS, ttl_ms=TTL_MS,
                          initial=rules.to_json(), instance="run-1")


def _alert_ids(out: pd.DataFrame) -> list[str]:
    return sorted(out.loc[out["kind"] == "alert", "alert_id"]) if len(out) else []


def _reference(rules: RuleSet, parts: list[pd.DataFrame],
               state: BucketState | None = None) -> tuple[list[str], BucketState]:
    st = state or BucketState.new()
    ids: list[str] = []
    for part in parts:
        alerts, st = detect(st, part[list(TXN_COLUMNS)], rules, ttl_ms=TTL_MS,
                            detected_at_ms=-1)
        ids += [a["alert_id"] for a in alerts]
    return sorted(ids), st


def _rebuilt(tester: TwsTester, processor: FraudProcessor) -> BucketState:
    """The bucket's state as a worker with an empty cache reads it from the state store."""
    saved, proc.WORKER_CACHE = proc.WORKER_CACHE, WorkerCache()
    try:
        tester.handle.setGroupingKey(BUCKET)
        return processor._load(BUCKET)[1]
    finally:
        proc.WORKER_CACHE = saved


def _same(a: BucketState, b: BucketState) -> None:
    for x, y in zip((a.recent, a.cards, a.seen), (b.recent, b.cards, b.seen), strict=True):
        pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True))


def test_batches_alert_like_the_detector_and_the_log_compacts(
        rules: RuleSet, batches: list[pd.DataFrame], tmp_path: Path,
        worker_cache: WorkerCache) -> None:
    processor = _processor(rules, tmp_path)
    tester = TwsTester(processor)
    ids: list[str] = []
    seqs = []
    for part in batches:
        ids += _alert_ids(tester.testInPandas(BUCKET, part))
        seqs.append(tester.peekValueState("meta", BUCKET)[2])
    want_ids, want_state = _reference(rules, batches)
    assert sorted(ids) == want_ids and len(ids) > 0
    # compaction: the log restarted from a new base at entry COMPACT_AFTER + bucket offset
    limit = COMPACT_AFTER + BUCKET % COMPACT_AFTER
    assert max(seqs) == limit - 1 and seqs.count(0) == 2
    log = tester.peekMapState("log", BUCKET)
    assert set(log) == {(n,) for n in range(seqs[-1] + 1)}
    assert log[(0,)][0] == "" and log[(0,)][1] == tester.peekValueState("meta", BUCKET)[1]
    _same(_rebuilt(tester, processor), want_state)
    _same(worker_cache.get(("run-1", BUCKET)).state, want_state)


def test_a_rolled_back_batch_seen_by_another_worker_is_not_trusted(
        rules: RuleSet, batches: list[pd.DataFrame], tmp_path: Path,
        worker_cache: WorkerCache) -> None:
    """Worker A runs batch k+1, whose commit is then lost; the retry (other content, as
    after a rules change or a restart) runs on worker B; the next batch lands on A again."""
    processor = _processor(rules, tmp_path)
    tester = TwsTester(processor)
    k = 5
    for part in batches[:k]:
        tester.testInPandas(BUCKET, part)
    meta = tester.peekValueState("meta", BUCKET)
    log = tester.peekMapState("log", BUCKET)

    tester.testInPandas(BUCKET, batches[k])  # worker A: cached, but never committed
    tester.updateValueState("meta", BUCKET, meta)  # the state store rolls back
    tester.updateMapState("log", BUCKET, log)

    worker_a, proc.WORKER_CACHE = proc.WORKER_CACHE, WorkerCache()  # worker B
    retried = _alert_ids(tester.testInPandas(BUCKET, batches[k + 1]))
    proc.WORKER_CACHE = worker_a
    later = _alert_ids(tester.testInPandas(BUCKET, batches[k + 2]))
    assert worker_a.get(("run-1", BUCKET)).token == tester.peekValueState("meta", BUCKET)[3]

    _, before = _reference(rules, batches[:k])
    want_retried, after_retry = _reference(rules, [batches[k + 1]], before)
    want_later, want_state = _reference(rules, [batches[k + 2]], after_retry)
    assert (retried, later) == (want_retried, want_later)
    _same(worker_a.get(("run-1", BUCKET)).state, want_state)
    _same(_rebuilt(tester, processor), want_state)


def test_a_stale_cache_catches_up_through_the_log(
        rules: RuleSet, batches: list[pd.DataFrame], tmp_path: Path,
        worker_cache: WorkerCache, monkeypatch: pytest.MonkeyPatch) -> None:
    processor = _processor(rules, tmp_path)
    tester = TwsTester(processor)
    for part in batches[:3]:
        tester.testInPandas(BUCKET, part)
    worker_a, proc.WORKER_CACHE = proc.WORKER_CACHE, WorkerCache()
    for part in batches[3:6]:  # worker B runs three batches
        tester.testInPandas(BUCKET, part)
    proc.WORKER_CACHE = worker_a
    rebuilds: list[int] = []
    real_get = processor.log.getValue

    def counting_get(key: tuple[Any, ...]) -> Any:
        rebuilds.append(key[0])
        return real_get(key)

    monkeypatch.setattr(processor.log, "getValue", counting_get)
    ids = _alert_ids(tester.testInPandas(BUCKET, batches[6]))
    assert rebuilds == [4, 5, 6]  # only the entries A had not seen; no base read
    want_ids, want_state = _reference(rules, batches[:7])
    assert set(ids) <= set(want_ids)
    _same(worker_a.get(("run-1", BUCKET)).state, want_state)


def test_alerts_carry_the_wall_clock_of_their_detection(
        rules: RuleSet, batches: list[pd.DataFrame], tmp_path: Path,
        worker_cache: WorkerCache) -> None:
    """TwsTester runs without a processing-time mode, as the job does: Spark's processing
    time is then -1, which once stamped every alert 1969-12-31T23:59:59.999Z."""
    from datetime import UTC, datetime, timedelta

    from streamwatch.contracts.events import parse_ts

    tester = TwsTester(_processor(rules, tmp_path))
    started = datetime.now(UTC) - timedelta(milliseconds=1)  # detected_at drops sub-ms
    out = pd.concat([tester.testInPandas(BUCKET, part) for part in batches[:8]])
    ended = datetime.now(UTC)
    alerts = out[out["kind"] == "alert"]
    assert len(alerts) > 0
    for detected in alerts["detected_at"]:
        assert started <= parse_ts(detected) <= ended


def test_alerts_on_transactions_stamped_in_the_future_are_set_apart() -> None:
    from streamwatch.processor.fraud.job import split_future

    def row(event: str) -> dict[str, Any]:
        return {"alert_id": event, "event_time": event, "detected_at": "2026-11-20T10:00:00.000Z"}

    ok, future = split_future([row("2026-11-20T09:59:00.000Z"), row("2026-11-20T10:04:59.000Z"),
                               row("2026-11-20T10:05:01.000Z"), row("2027-01-01T00:00:00.000Z")])
    assert [r["alert_id"] for r in ok] == ["2026-11-20T09:59:00.000Z", "2026-11-20T10:04:59.000Z"]
    assert len(future) == 2
