"""The fraud job in Spark: F1 per scenario on simulator data (and the same alerts as the
detector `streamwatch eval` runs), hot reload of the rules, and the bucket count a
restarted checkpoint keeps.

The tests share the session ``spark`` fixture and read ``file:`` sources.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from streamwatch.contracts.events import parse_ts
from streamwatch.processor.cli import job_args
from streamwatch.processor.fraud.rules import default_rules_path
from streamwatch.quality.eval_cli import evaluate

pytestmark = [pytest.mark.spark, pytest.mark.slow]

def simulate(out: Path, n: int, rate: float, seed: int) -> tuple[Path, Path, set[str]]:
    """Transactions + labels; incidents that the end of the run cut off (rows still
    scheduled; an impossible-travel incident lasts up to 2.5 h) cannot be judged, so
    their labels (and alerts naming them) are left out."""
    from streamwatch.producers.txns.config import SimConfig
    from streamwatch.producers.txns.simulator import TxnGenerator

    gen = TxnGenerator(SimConfig(seed=seed, rate=rate))
    txns, labels = gen.take(n)
    cut = gen.incident_names_pending()
    out.mkdir(parents=True, exist_ok=True)
    (out / "txns").mkdir()
    (out / "txns" / "part-0.jsonl").write_bytes(b"\n".join(txns) + b"\n")
    docs = [orjson.loads(x) for x in labels]
    kept = [d for d in docs if d.get("incident_id") not in cut]
    labels_path = out / "labels.jsonl"
    labels_path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in kept))
    unsettled = {d["txn_id"] for d in docs if d.get("incident_id") in cut}
    return out / "txns", labels_path, unsettled


def settled_alerts(alerts_dir: Path, unsettled: set[str], out: Path) -> Path:
    """The alerts that name no transaction of an incident left out of the labels."""
    rows = [x for f in sorted(alerts_dir.glob("*.jsonl")) for x in f.read_bytes().splitlines()]
    keep = [x for x in rows if not set(orjson.loads(x)["txn_ids"]) & unsettled]
    out.write_bytes(b"".join(x + b"\n" for x in keep))
    return out


def run_available_now(spark: Any, argv: list[str]) -> list[Any]:
    from streamwatch.processor.fraud import job as fraud

    queries = fraud.start(spark, job_args("fraud", argv))
    try:
        for q in queries:
            q.awaitTermination(240)
            assert q.exception() is None, q.exception()
    finally:
        for q in queries:
            q.stop()
    return queries


def test_f1_per_scenario_on_simulator_data(spark: Any, tmp_path: Path) -> None:
    txns, labels, unsettled = simulate(tmp_path / "data", n=60_000, rate=8.0, seed=11)
    out = tmp_path / "alerts"
    started = datetime.now(UTC)
    run_available_now(spark, [
        "--source", f"file:{txns}", "--sink", f"jsonl:{out}", "--trigger", "available-now",
        "--checkpoint", str(tmp_path / "ck"), "--buckets", "4"])
    ended = datetime.now(UTC)
    # every alert was detected during this run (the wall clock, not Spark's -1), after its
    # event; the millisecond truncation of detected_at may put it just before `started`
    alerts = [orjson.loads(x) for f in out.glob("*.jsonl") for x in f.read_bytes().splitlines()]
    assert alerts
    for alert in alerts:
        detected = parse_ts(alert["detected_at"])
        assert started - timedelta(milliseconds=1) <= detected <= ended, alert
        assert parse_ts(alert["event_time"]) <= detected, alert
    # `streamwatch eval fraud --sweep` runs the same detector outside Spark (other card
    # hashes, other buckets, 5,000-row batches): over the same records it must raise the
    # same alerts, or the sweep's figures would not be the job's
    from streamwatch.quality.sweep import SweepSettings, detect_alerts

    records = [orjson.loads(x) for x in (txns / "part-0.jsonl").read_bytes().splitlines()]
    by_eval = detect_alerts(records, SweepSettings(buckets=3))
    assert {a["alert_id"] for a in by_eval} == {a["alert_id"] for a in alerts}
    report = evaluate(str(settled_alerts(out, unsettled, tmp_path / "settled.jsonl")),
                      str(labels))
    for scenario, figures in report["by_scenario"].items():
        assert figures["incidents"] > 0, scenario
        assert figures["f1"] >= 0.9, (scenario, figures)
    # ids are deterministic: the same input through a fresh checkpoint gives the same set
    again = tmp_path / "again"
    run_available_now(spark, [
        "--source", f"file:{txns}", "--sink", f"jsonl:{again}", "--trigger", "available-now",
        "--checkpoint", str(tmp_path / "ck2"), "--buckets", "4"])

    def ids(d: Path) -> set[str]:
        return {orjson.loads(x)["alert_id"] for f in d.glob("*.jsonl")
                for x in f.read_bytes().splitlines()}

    assert ids(again) == ids(out)


def _wait(cond: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _burst(card: str, first_no: int, t0: str, amount: str, n: int) -> bytes:
    rows = []
    for i in range(n):
        rows.append({"txn_id": f"t-{first_no + i:09d}", "event_time": f"{t0}:{10 + 5 * i:02d}.000Z",
                     "card_id": card, "customer_id": "u-1", "amount": amount,
                     "currency": "USD", "merchant_id": "m-1", "merchant_category": "online_retail",
                     "channel": "online", "lat": 40.7, "lon": -74.0, "country": "US",
                     "device_id": "d-1"})
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def test_hot_reload_valid_then_invalid(spark: Any, tmp_path: Path) -> None:
    from streamwatch.processor.fraud import job as fraud

    src, out = tmp_path / "in", tmp_path / "alerts"
    src.mkdir()
    rules_path = tmp_path / "rules.yaml"
    doc = yaml.safe_load(default_rules_path().read_text())
    rules_path.write_text(yaml.safe_dump(doc))
    args = job_args("fraud", [
        "--source", f"file:{src}", "--sink", f"jsonl:{out}", "--trigger", "200ms",
        "--checkpoint", str(tmp_path / "ck"), "--buckets", "2", "--rules", str(rules_path),
        "--rules-poll", "200ms"])
    (query,) = fraud.start(spark, args)

    def read_alerts() -> list[dict[str, Any]]:
        return [orjson.loads(x) for f in sorted(out.glob("*.jsonl"))
                for x in f.read_bytes().splitlines()]

    def metrics() -> dict[str, Any]:
        p = query.lastProgress or {}
        row = (p.get("observedMetrics") or {}).get("fraud")
        return row.asDict() if row is not None else {}

    try:
        (src / "1.jsonl").write_bytes(_burst("c-a", 1, "2026-11-20T10:00", "1.00", 4))
        _wait(lambda: len(read_alerts()) == 1, "the card_testing alert")
        assert read_alerts()[0]["rule"] == "card_testing"

        doc["rules"]["card_testing"]["enabled"] = False
        rules_path.write_text(yaml.safe_dump(doc))
        published = Path(args.checkpoint) / "rules" / "active-rules.json"
        _wait(lambda: orjson.loads(published.read_bytes())["rules"]["version"] == 2,
              "the reload")
        (src / "2.jsonl").write_bytes(_burst("c-b", 100, "2026-11-20T10:00", "1.00", 4))
        _wait(lambda: metrics().get("rules_version") == 2, "a batch with rules version 2")
        assert len(read_alerts()) == 1  # card_testing is off now

        rules_path.write_text("version: 1\nrules:\n  velocity: {severity: extreme}\n")
        _wait(lambda: orjson.loads(published.read_bytes())["status"]["reload_errors_total"] == 1,
              "the reload error")
        (src / "3.jsonl").write_bytes(_burst("c-c", 200, "2026-11-20T10:00", "30.00", 6))
        _wait(lambda: len(read_alerts()) == 2, "the velocity alert under the kept rules")
        assert read_alerts()[1]["rule"] == "velocity"
        _wait(lambda: metrics().get("rules_reload_errors_total") == 1, "the error metric")
        assert metrics()["rules_version"] == 2
    finally:
        query.stop()


def test_a_restart_without_buckets_uses_the_checkpoints_count(spark: Any, tmp_path: Path
                                                               ) -> None:
    """The bucket count is recorded in the checkpoint after its first batch: a restart
    without ``--buckets`` keeps it (the default, 8, would be refused by the state), and
    another explicit count is refused with the count to use."""
    from pyspark.errors import StreamingQueryException

    from streamwatch.processor.fraud import job as fraud
    from streamwatch.processor.fraud.buckets import RECORD

    txns, _, _ = simulate(tmp_path / "data", n=4_000, rate=8.0, seed=23)
    lines = (txns / "part-0.jsonl").read_bytes().splitlines(keepends=True)
    source, checkpoint = tmp_path / "in", tmp_path / "ck"
    source.mkdir()
    (source / "part-0.jsonl").write_bytes(b"".join(lines[:2_000]))
    common = ["--source", f"file:{source}", "--sink", f"jsonl:{tmp_path / 'out'}",
              "--trigger", "available-now", "--checkpoint", str(checkpoint),
              "--max-files-per-trigger", "1"]
    run_available_now(spark, [*common, "--buckets", "3"])
    assert orjson.loads((checkpoint / RECORD).read_bytes()) == {"buckets": 3}

    (source / "part-1.jsonl").write_bytes(b"".join(lines[2_000:]))
    (query,) = run_available_now(spark, common)
    assert query.lastProgress["numInputRows"] > 0
    assert orjson.loads((checkpoint / RECORD).read_bytes()) == {"buckets": 3}

    (source / "part-2.jsonl").write_bytes(b"".join(lines[:100]))
    (query,) = fraud.start(spark, job_args("fraud", [*common, "--buckets", "5"]))
    try:
        with pytest.raises(StreamingQueryException, match=r"--buckets 3"):
            query.awaitTermination(240)
    finally:
        query.stop()
    assert orjson.loads((checkpoint / RECORD).read_bytes()) == {"buckets": 3}
