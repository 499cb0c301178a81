"""``streamwatch run`` end to end: every service, the Spark jobs, a real webhook receiver.

Runs the real command headless for a bounded time with all ports free-picked,
then checks what a new user would: trends appear on ``GET /v1/trends``, orders
per minute on ``GET /v1/orders`` (equal to a count of the order feed, resends and
disorder included), fraud alerts reach the receiver with valid Standard Webhooks signatures and no
duplicate ``webhook-id``, every service's ``/metrics`` passes promtool, and
no child process outlives the launcher. Then runs it again on the same data
directory, as a second ``make run`` would: the resumed run must behave like
the first one continued (no storm of false alerts, no alert delivered twice).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
from standardwebhooks.webhooks import Webhook

from streamwatch.contracts.events import parse_ts
from streamwatch.launcher.supervisor import alive, descendants
from tests.procs import free_port
from tests.receiver import Received, Receiver

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# A cap: the test stops the run with SIGTERM (as Ctrl-C would) as soon as trends, alerts
# and metrics have been seen; --duration only bounds a run that never gets there.
DURATION = 360


def _promtool_ok(text: str) -> tuple[bool, str]:
    promtool = shutil.which("promtool")
    assert promtool is not None
    proc = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                          capture_output=True, timeout=30)
    out = (proc.stdout + proc.stderr).decode()
    # promtool exits 1 for lint warnings too; only errors in the exposition format fail us
    return proc.returncode == 0 or "error" not in out.lower(), out


#: transactions the fraud job must have processed in each run before it is stopped, so
#: that each run's alert rate is measured over enough data (~20 s at --txn-rate 300)
PROCESSED = 6000
TXN_RATE = 300


@dataclass
class RunResult:
    code: int
    printed: str
    log: str
    family: set[int]
    trends: dict[str, Any] = field(default_factory=dict)
    orders: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, str] = field(default_factory=dict)
    processed: int = 0  # rows the fraud query read in this run (exporter's progress)
    deliveries: list[Received] = field(default_factory=list)  # received during the run


def _fraud_rows(exporter: str) -> int:
    with contextlib.suppress(requests.RequestException, ValueError, KeyError):
        queries = requests.get(f"{exporter}/v1/progress", timeout=2).json()["queries"]
        return sum(q["input_rows_total"] for q in queries if q["query"] == "fraud-alerts")
    return 0


def _run(cmd: list[str], env: dict[str, str], urls: dict[str, str], receiver: Receiver,
         out_dir: Path, *, first: bool) -> RunResult:
    """``streamwatch run`` until the fraud job processed PROCESSED rows and an alert arrived
    (and, on the first run, trends and every service's metrics were seen); then SIGTERM."""
    before = len(receiver.snapshot())
    stdout_path, stderr_path = out_dir / "run.out", out_dir / "run.err"
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
        launcher = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
    result = RunResult(code=-1, printed="", log="", family=set())
    try:
        deadline = time.monotonic() + DURATION + 60
        while launcher.poll() is None and time.monotonic() < deadline:
            result.family |= descendants(launcher.pid)
            if first and not result.trends.get("windows"):
                with contextlib.suppress(requests.RequestException, ValueError):
                    result.trends = requests.get(f"{urls['exporter']}/v1/trends",
                                                 timeout=2).json()
            if first and not result.orders:
                with contextlib.suppress(requests.RequestException, ValueError):
                    result.orders = requests.get(f"{urls['exporter']}/v1/orders",
                                                 timeout=2).json()["orders"]
            if first and len(result.metrics) < len(urls) and result.trends.get("windows"):
                for name, url in urls.items():
                    with contextlib.suppress(requests.RequestException):
                        result.metrics[name] = requests.get(f"{url}/metrics", timeout=2).text
            seen_all = not first or (result.trends.get("windows") and result.orders
                                     and len(result.metrics) == len(urls))
            processed = _fraud_rows(urls["exporter"])
            if seen_all and processed >= PROCESSED and len(receiver.snapshot()) > before:
                time.sleep(5)  # let in-flight deliveries land before stopping
                result.processed = max(processed, _fraud_rows(urls["exporter"]))
                result.family |= descendants(launcher.pid)
                launcher.send_signal(signal.SIGTERM)
                break
            time.sleep(2)
        result.code = launcher.wait(timeout=90)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait(timeout=30)
    result.log = stderr_path.read_text(errors="replace")
    result.printed = stdout_path.read_text(errors="replace")
    result.deliveries = receiver.snapshot()[before:]
    return result


def _fraud_txn_ids(data: Path) -> set[str]:
    from streamwatch.feed.log import FeedLog

    labels = FeedLog.open(data / "feeds", "labels", fsync="never")
    try:
        docs = [orjson.loads(x) for x in labels.read(0, labels.latest)]
    finally:
        labels.close()
    return {d["txn_id"] for d in docs if d["is_fraud"]}


@pytest.mark.timeout(1000)  # two runs, each starting Spark (1.5-3 min apiece on 2 cores)
def test_streamwatch_run_end_to_end_and_resumed(tmp_path: Path) -> None:
    """Run, stop as Ctrl-C would, run again on the same data directory: the second run
    continues the first (same simulated world, same checkpoints), so its alert rate and
    precision are those of the first and no alert is delivered twice."""
    ports = {name: free_port() for name in (
        "tweets", "tweets-socket", "txns", "txns-socket", "orders", "orders-socket",
        "alerting", "exporter")}
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in
            ("tweets", "txns", "orders", "alerting", "exporter")}
    with Receiver() as receiver:
        # no --seed: the simulator draws one, and the restart must continue it
        cmd = [sys.executable, "-m", "streamwatch.cli", "run", "--headless",
               "--duration", str(DURATION), "--data-dir", str(tmp_path / "data"),
               "--txn-rate", str(TXN_RATE), "--webhook", receiver.url,
               "--tweets-port", str(ports["tweets"]),
               "--tweets-socket-port", str(ports["tweets-socket"]),
               "--txns-port", str(ports["txns"]), "--txns-socket-port", str(ports["txns-socket"]),
               "--orders-port", str(ports["orders"]),
               "--orders-socket-port", str(ports["orders-socket"]),
               "--alerting-port", str(ports["alerting"]),
               "--exporter-port", str(ports["exporter"])]
        env = {**os.environ, "STREAMWATCH_ADMIN_TOKEN": "e2e-admin-token-0123456789"}
        first = _run(cmd, env, urls, receiver, tmp_path / "run1", first=True)
        assert first.code == 0, (f"streamwatch run exited {first.code}\n"
                                 f"{first.printed[-3000:]}\n{first.log[-5000:]}")
        _check_first_run(first, urls)
        _check_orders(tmp_path / "data")
        second = _run(cmd, env, urls, receiver, tmp_path / "run2", first=False)
        assert second.code == 0, (f"the resumed run exited {second.code}\n"
                                  f"{second.printed[-3000:]}\n{second.log[-5000:]}")
        # headless, the launcher says what it does in its log stream
        assert "kept from an earlier run" in second.log, second.log[-2000:]

        # Each alert once, over both runs, every one signed with the first run's secret
        # (the resumed run keeps the subscription).
        secret = re.search(r"webhook secret[^:]*: (whsec_\S+)", first.printed)
        assert secret is not None
        verifier = Webhook(secret.group(1))
        alert_ids = [verifier.verify(d.body, d.headers)["data"]["alert_id"]
                     for d in first.deliveries + second.deliveries]
        assert len(alert_ids) == len(set(alert_ids)), "an alert was delivered twice"

        # No storm: alerts per processed transaction and their precision against the
        # simulator's labels stay those of the first run (a new world under the same card
        # ids raised ~100x the alerts at ~1 % precision).
        fraud = _fraud_txn_ids(tmp_path / "data")

        def figures(run: RunResult) -> tuple[float, float, int]:
            alerts = [orjson.loads(d.body)["data"] for d in run.deliveries]
            true = sum(1 for a in alerts if set(a["txn_ids"]) & fraud)
            return len(alerts) / run.processed, true / len(alerts), len(alerts)

        for run in (first, second):
            assert run.processed >= PROCESSED and run.deliveries, (
                f"a run ended before its fraud job processed {PROCESSED} transactions and "
                f"delivered an alert\n{run.log[-3000:]}")
        rate1, precision1, n1 = figures(first)
        rate2, precision2, n2 = figures(second)
        report = (f"run 1: {n1} alerts over {first.processed} txns, precision {precision1:.2f};"
                  f" run 2: {n2} alerts over {second.processed} txns, precision "
                  f"{precision2:.2f}")
        assert rate2 <= 3 * rate1 + 5 / second.processed, report
        assert precision2 >= min(0.8, precision1 - 0.2), report

        survivors = {pid for pid in first.family | second.family if alive(pid)}
        assert not survivors, f"processes outlived streamwatch run: {survivors}"
    if not shutil.which("promtool"):
        pytest.skip("promtool not installed (Debian package prometheus): metrics not linted; "
                    "everything else passed")


def _check_orders(data: Path) -> None:
    """Every minute the orders job wrote equals a plain count of the order feed: each
    event_id once per minute and status (the run's resends and 2 s of disorder are well
    within its 15 s watermark, so no event of a written minute was late)."""
    from streamwatch.feed.log import FeedLog

    feed = FeedLog.open(data / "feeds", "orders", fsync="never")
    try:
        events = [orjson.loads(x) for x in feed.read(0, feed.latest)]
    finally:
        feed.close()
    assert len({e["event_id"] for e in events}) < len(events), "no resend in the feed"
    expected: dict[tuple[str, str], set[str]] = {}
    for e in events:
        at = parse_ts(e["event_time"])
        minute = at.replace(second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        expected.setdefault((minute, e["status"]), set()).add(e["event_id"])
    rows = [orjson.loads(line) for path in sorted((data / "output" / "orders").glob("*.jsonl"))
            for line in path.read_bytes().splitlines()]
    totals = [r for r in rows if r["category"] is None and r["region"] is None]
    assert totals, "the orders job wrote no minute"
    assert len({(r["minute_start"], r["status"]) for r in totals}) == len(totals)
    for r in totals:
        assert r["orders"] == len(expected.get((r["minute_start"], r["status"]), ())), r


def _check_first_run(run: RunResult, urls: dict[str, str]) -> None:
    # Orders: final minutes with all five statuses on the exporter.
    assert {r["status"] for r in run.orders} == {
        "purchased", "shipped", "delivered", "cancelled", "returned"}, run.orders[:10]

    # Trends: at least one closed window with ranked hashtags.
    assert run.trends.get("windows"), f"no trends appeared\n{run.log[-3000:]}"
    top = run.trends["windows"][0]["top"]
    assert top and [r["rank"] for r in top] == sorted(r["rank"] for r in top)

    # Alerts: signed per Standard Webhooks, each webhook-id once, detected during the run
    # (the wall clock at detection, after the transaction's event time).
    secret = re.search(r"webhook secret[^:]*: (whsec_\S+)", run.printed)
    assert secret, f"the webhook secret was not printed\n{run.printed}"
    assert secret.group(1) not in run.log, "the webhook secret leaked into the log stream"
    assert run.deliveries, f"no alert reached the receiver\n{run.log[-3000:]}"
    verifier = Webhook(secret.group(1))
    ids = []
    for d in run.deliveries:
        event = verifier.verify(d.body, d.headers)
        assert event["type"] == "fraud.alert.created"
        alert = event["data"]
        detected = parse_ts(alert["detected_at"])
        assert parse_ts(alert["event_time"]) <= detected, alert
        assert detected.timestamp() <= d.at, alert
        ids.append(d.webhook_id)
    assert len(ids) == len(set(ids)), "a webhook-id was delivered twice"

    # Metrics of every service pass promtool.
    assert set(run.metrics) == set(urls), f"missing /metrics from {set(urls) - set(run.metrics)}"
    if shutil.which("promtool"):
        for name, text in run.metrics.items():
            ok, out = _promtool_ok(text)
            assert ok, f"promtool rejects /metrics of {name}: {out}"
