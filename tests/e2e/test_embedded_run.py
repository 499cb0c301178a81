"""``streamwatch run`` end to end: every service, both Spark jobs, a real webhook receiver.

Runs the real command headless for a bounded time with all ports free-picked,
then checks what a new user would: trends appear on ``GET /v1/trends``, fraud
alerts reach the receiver with valid Standard Webhooks signatures and no
duplicate ``webhook-id``, every service's ``/metrics`` passes promtool, and
no child process outlives the launcher.
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
from pathlib import Path

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from alerting_service.receiver import Receiver
from streamwatch_launcher.supervisor import alive, descendants
from tests.procs import free_port

pytestmark = [pytest.mark.slow, pytest.mark.spark]

# A cap: the test stops the run with SIGTERM (as Ctrl-C would) as soon as trends, alerts
# and metrics have been seen; --duration only bounds a run that never gets there.
DURATION = 300


def _promtool_ok(text: str) -> tuple[bool, str]:
    promtool = shutil.which("promtool")
    assert promtool is not None
    proc = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                          capture_output=True, timeout=30)
    out = (proc.stdout + proc.stderr).decode()
    # promtool exits 1 for lint warnings too; only errors in the exposition format fail us
    return proc.returncode == 0 or "error" not in out.lower(), out


def test_streamwatch_run_end_to_end(tmp_path: Path) -> None:
    ports = {name: free_port() for name in (
        "tweets", "tweets-socket", "txns", "txns-socket", "alerting", "exporter")}
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in
            ("tweets", "txns", "alerting", "exporter")}
    with Receiver() as receiver:
        cmd = [sys.executable, "-m", "streamwatch.cli", "run", "--headless",
               "--duration", str(DURATION), "--data-dir", str(tmp_path / "data"),
               "--seed", "11", "--txn-rate", "300", "--webhook", receiver.url,
               "--tweets-port", str(ports["tweets"]),
               "--tweets-socket-port", str(ports["tweets-socket"]),
               "--txns-port", str(ports["txns"]), "--txns-socket-port", str(ports["txns-socket"]),
               "--alerting-port", str(ports["alerting"]),
               "--exporter-port", str(ports["exporter"])]
        env = {**os.environ, "STREAMWATCH_ADMIN_TOKEN": "e2e-admin-token-0123456789"}
        stdout_path, stderr_path = tmp_path / "run.out", tmp_path / "run.err"
        with open(stdout_path, "wb") as out, open(stderr_path, "wb") as err:
            launcher = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        family: set[int] = set()
        trends: dict = {}
        metrics: dict[str, str] = {}
        try:
            deadline = time.monotonic() + DURATION + 60
            while launcher.poll() is None and time.monotonic() < deadline:
                family |= descendants(launcher.pid)
                if not trends.get("windows"):
                    with contextlib.suppress(requests.RequestException, ValueError):
                        trends = requests.get(f"{urls['exporter']}/v1/trends", timeout=2).json()
                if len(metrics) < len(urls) and trends.get("windows"):
                    for name, url in urls.items():
                        with contextlib.suppress(requests.RequestException):
                            metrics[name] = requests.get(f"{url}/metrics", timeout=2).text
                if trends.get("windows") and len(metrics) == len(urls) and receiver.snapshot():
                    time.sleep(5)  # let in-flight deliveries land before stopping
                    family |= descendants(launcher.pid)
                    launcher.send_signal(signal.SIGTERM)
                    break
                time.sleep(2)
            code = launcher.wait(timeout=90)
        finally:
            if launcher.poll() is None:
                launcher.kill()
                launcher.wait(timeout=30)
        log = stderr_path.read_text(errors="replace")
        printed = stdout_path.read_text(errors="replace")
        assert code == 0, f"streamwatch run exited {code}\n{printed[-3000:]}\n{log[-5000:]}"

        # Trends: at least one closed window with ranked hashtags.
        assert trends.get("windows"), f"no trends appeared\n{log[-3000:]}"
        top = trends["windows"][0]["top"]
        assert top and [r["rank"] for r in top] == sorted(r["rank"] for r in top)

        # Alerts: signed per Standard Webhooks, each webhook-id once.
        secret = re.search(r"webhook secret[^:]*: (whsec_\S+)", printed)
        assert secret, f"the webhook secret was not printed\n{printed}"
        assert secret.group(1) not in log, "the webhook secret leaked into the log stream"
        deliveries = receiver.snapshot()
        assert deliveries, f"no alert reached the receiver\n{log[-3000:]}"
        verifier = Webhook(secret.group(1))
        ids = []
        for d in deliveries:
            event = verifier.verify(d.body, d.headers)
            assert event["type"] == "fraud.alert.created"
            ids.append(d.webhook_id)
        assert len(ids) == len(set(ids)), "a webhook-id was delivered twice"

        # Metrics of every service pass promtool.
        assert set(metrics) == set(urls), f"missing /metrics from {set(urls) - set(metrics)}"
        if shutil.which("promtool"):
            for name, text in metrics.items():
                ok, out = _promtool_ok(text)
                assert ok, f"promtool rejects /metrics of {name}: {out}"

        # No orphan: every process the launcher started is gone.
        survivors = {pid for pid in family if alive(pid)}
        assert not survivors, f"processes outlived streamwatch run: {survivors}"
    if not shutil.which("promtool"):
        pytest.skip("promtool not installed (Debian package prometheus): metrics not linted; "
                    "everything else passed")
