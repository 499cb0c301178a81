"""The exporter as a real process on 127.0.0.1: HTTP API, promtool on live /metrics,
and a real Prometheus scraping it.

The exporter is started with ``python -m streamwatch.exporter`` (the same flags as
``streamwatch exporter``) so this test depends on no other service's code.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from streamwatch.exporter.openapi import example
from tests.procs import ServiceProcess, free_port, ingest_headers

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
#: a progress event of the fraud job captured from Spark (observedMetrics.fraud)
FRAUD_PROGRESS = (Path(__file__).resolve().parents[1] / "unit" / "data"
                  / "progress_fraud_alerts.json")


class ExporterProcess(ServiceProcess):
    """``python -m streamwatch.exporter <args>``; everything else as ServiceProcess."""

    def __init__(self, args: list[str], log_path: Path) -> None:
        super().__init__(args, log_path, module="streamwatch.exporter")


def start_exporter(tmp_path: Path, *args: str) -> tuple[ExporterProcess, str]:
    port = free_port()
    proc = ExporterProcess(["--port", str(port), *args], tmp_path / f"exporter-{port}.log")
    proc.start()
    base = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(base + "/healthz")
    except Exception:
        proc.stop()
        raise
    return proc, base


@pytest.fixture
def exporter(tmp_path: Path) -> Iterator[str]:
    proc, base = start_exporter(tmp_path)
    yield base
    assert proc.stop() == 0, proc.log()


def post_realistic_traffic(base: str) -> None:
    """Progress of two queries over several batches, one of the fraud job (with its
    observed metrics), one trend post, one bad post."""
    for query in ("hashtags", "fraud"):
        for batch in range(1, 6):
            doc: dict[str, Any] = copy.deepcopy(example("progress"))
            doc.update(name=query, batchId=batch, numInputRows=100 * batch,
                       timestamp=f"2026-11-23T09:15:{batch * 2:02d}.000Z")
            doc["durationMs"]["triggerExecution"] = 400 * batch
            resp = requests.post(base + "/v1/progress", json=doc, timeout=5,
                                 headers=ingest_headers())
            assert resp.status_code == 202, resp.text
    resp = requests.post(base + "/v1/progress", json=json.loads(FRAUD_PROGRESS.read_text()),
                         timeout=5, headers=ingest_headers())
    assert resp.status_code == 202, resp.text
    resp = requests.post(base + "/v1/trends", json=example("trends"), timeout=5,
                         headers=ingest_headers())
    assert resp.status_code == 202, resp.text
    bad = requests.post(base + "/v1/trends", json={"trends": [{"hashtag": "x"}]}, timeout=5,
                        headers=ingest_headers())
    assert bad.status_code == 400 and bad.json()["field"] == "trends[0].window_start"


def test_api_round_trip(exporter: str) -> None:
    post_realistic_traffic(exporter)
    trends = requests.get(exporter + "/v1/trends", params={"limit": 1}, timeout=5).json()
    assert trends["windows"][0]["top"][0]["hashtag"] == "spark"
    queries = requests.get(exporter + "/v1/progress", timeout=5).json()["queries"]
    assert {q["query"]: q["input_rows_total"] for q in queries} == {
        "fraud": 1500, "hashtags": 1500, "fraud-alerts": 10000}
    assert requests.get(exporter + "/readyz", timeout=5).status_code == 200


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package "
                    "'prometheus')")
def test_live_metrics_pass_promtool(exporter: str) -> None:
    post_realistic_traffic(exporter)
    text = requests.get(exporter + "/metrics", timeout=5).text
    assert 'streamwatch_trend_hashtag_tweets{hashtag="spark",rank="1"}' in text
    for name in ("rules_version", "rules_reload_errors_total", "cards_in_state"):
        assert f'streamwatch_fraud_{name}{{query="fraud-alerts"}}' in text, name
    assert PROMTOOL is not None
    result = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                            text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_busy_port_is_a_clear_error(exporter: str, tmp_path: Path) -> None:
    port = exporter.rsplit(":", 1)[1]
    result = subprocess.run([sys.executable, "-m", "streamwatch.exporter", "--port", port],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert "already in use" in result.stderr
    assert "--port (env STREAMWATCH_EXPORTER_PORT)" in result.stderr


@pytest.mark.slow
@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus not installed (Debian package "
                    "'prometheus')")
def test_prometheus_scrapes_the_exporter(exporter: str, tmp_path: Path) -> None:
    post_realistic_traffic(exporter)
    target = exporter.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n"
        "scrape_configs:\n"
        f"  - job_name: exporter\n    static_configs:\n      - targets: ['{target}']\n")
    port = free_port()
    assert PROMETHEUS is not None
    log = (tmp_path / "prometheus.log").open("wb")
    prom = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        api = f"http://127.0.0.1:{port}/api/v1/query"
        query = 'streamwatch_query_input_rows_total{query="fraud"}'
        deadline = time.monotonic() + 60
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not result:
            assert prom.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
            try:
                doc = requests.get(api, params={"query": query}, timeout=2).json()
                result = doc["data"]["result"] if doc.get("status") == "success" else []
            except requests.RequestException:
                pass
            if not result:
                time.sleep(0.5)
        assert result, "Prometheus did not scrape a streamwatch_ series:\n" + \
            (tmp_path / "prometheus.log").read_text()[-3000:]
        assert float(result[0]["value"][1]) == 1500
        assert result[0]["metric"]["job"] == "exporter"
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=15)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait(timeout=5)
        log.close()
