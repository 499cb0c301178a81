"""Every benchmark's ``--quick`` variant runs and writes a result the report can render.

This proves the benchmark code works; it asserts nothing about speed (figures
from ``--quick`` runs are not measurements). Results go to a temporary
directory (``STREAMWATCH_BENCH_RESULTS``), never over ``bench/results``.
Benchmarks are run through ``python -m bench --only NAME --quick --no-report``,
exactly as ``make bench`` runs them. Every benchmark must have ``--quick``.
``make test-bench`` (marker ``bench``; CI runs it after ``make test``); the fault
runs' quick form is ``make test-faults``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import RESULTS_ENV, goal_verdicts, percentiles

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"name", "command", "machine", "started_at", "figures", "baseline", "ratios",
            "series"}
# flags that keep a quick run short enough for make test
SHORTER = {
    "bench_e2e_latency": ["--seconds", "8", "--warmup", "4"],
    "bench_soak": ["--minutes", "0.3", "--sample", "2"],
}


def quick_benchmarks() -> list[str]:
    return sorted(p.stem for p in (ROOT / "bench").glob("bench_*.py"))


def _env(results: Path) -> dict[str, str]:
    return {**os.environ, RESULTS_ENV: str(results), "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-results")


def test_percentiles_and_goals() -> None:
    p = percentiles([1.0, 2.0, 3.0, 4.0])
    assert p["p50"] == 2.5 and p["min"] == 1.0 and p["max"] == 4.0 and p["count"] == 4
    assert percentiles([])["p99"] is None
    doc = {"figures": {"rate": 40.0, "lat": 3.0}, "ratios": {},
           "goals": {"rate": {"min": 50}, "lat": {"max": 2}}}
    v = goal_verdicts(doc)
    assert v["rate"]["met"] is False and v["rate"]["missed_by_factor"] == pytest.approx(1.25)
    assert v["lat"]["missed_by_factor"] == pytest.approx(1.5)


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.bench
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", quick_benchmarks())
def test_quick_benchmark_runs(name: str, results: Path) -> None:
    helptext = subprocess.run([sys.executable, "-m", f"bench.{name}", "--help"], cwd=ROOT,
                              capture_output=True, text=True, timeout=120).stdout
    assert "--quick" in helptext, f"{name} needs a --quick variant"
    if name in SHORTER:  # the runner passes only --quick: call the module with more flags
        cmd = [sys.executable, "-m", f"bench.{name}", "--quick", *SHORTER[name]]
    else:
        cmd = [sys.executable, "-m", "bench", "--only", name, "--quick", "--no-report"]
    proc = subprocess.run(cmd, cwd=ROOT, env=_env(results), capture_output=True, text=True,
                          timeout=540)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    short = name.removeprefix("bench_")
    path = results / f"{short}-quick.json"
    assert path.exists(), f"{name} left no result in {results}: {os.listdir(results)}"
    doc = json.loads(path.read_text())
    assert set(doc) >= REQUIRED and doc["quick"] is True
    if name == "bench_feed":
        assert doc["baseline"]["orjson_parse_all_cores_per_s"] > 0
    if name == "bench_e2e_latency":
        # the default path, "produced" = accepted by the producer: the record becomes
        # readable on the feed after that (group commit), never before
        f = doc["figures"]
        assert f["trigger"] == "1s" and f["default_path"] is True and "p99_s" in f
        assert f["produced"] == "accepted by the producer" and f["alerts_measured"] > 0
        assert f["accept_to_visible_min_s"] >= 0 and f["load1_mean"] is not None
    if name == "bench_processor":
        figures, details = doc["figures"], doc["details"]
        assert figures["hashtags_eps"] > 0 and figures["hashtags_counting_only_eps"] > 0
        assert figures["hashtags_sentiment_sample"] == 1.0  # the headline is the default path
        assert doc["baseline"]["parse_only_eps"] > 0 and figures["backlog_drain_rps"] > 0
        assert "feed_capacity_rps" in figures and "socket_capacity_rps" in figures
        assert details["feed_ladder"][0]["processed_rps"] > 0
        assert details["socket_ladder"][0]["processed_rps"] > 0
        assert "load1_mean" in details["hashtags_default"]["load"]
    if name == "bench_fraud":  # every figure says which cards, batch size and source
        figures = doc["figures"]
        assert figures["source"].startswith("feed") and figures["distinct_cards_5k_cards"] > 0
        assert figures["tx_per_s_5k_cards_2k_batch"] > 0
        assert figures["first_batch_rows_5k_cards_2k_batch"] == 2000
    if name == "bench_soak":
        assert doc["figures"]["samples"] >= 2 and doc["series"]


def test_report_renders_results(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "docs" / "benchmarks.md"
    subprocess.run([sys.executable, "-m", "bench.report", "--out", str(out)], cwd=ROOT,
                   env=_env(results), check=True, capture_output=True, timeout=120)
    text = out.read_text()
    assert "shared 2-core machine" in text
    assert "python -m bench.bench_e2e_latency" in text
    names = {json.loads(p.read_text())["name"] for p in results.glob("*.json")}
    pngs = {p.name for p in (tmp_path / "docs" / "img").glob("*.png")}
    if "e2e_latency" in names:
        assert "e2e_latency.png" in pngs, pngs
    if "soak" in names:
        assert "soak_rss.png" in pngs, pngs
