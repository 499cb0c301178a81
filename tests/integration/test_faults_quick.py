"""The fault runs' quick variant: driver ``kill -9`` and alerting ``kill -9`` lose and
duplicate nothing, counted exactly against an uninterrupted run over the same input.

To stay within a few minutes this runs the reference plus two scenarios with one
fault each; the full set (driver x5, executor x5 in local-cluster, alerting x3,
receiver down 10 min compressed, producer restart) runs with ``make bench``
(``python -m bench.faults``). No timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import RESULTS_ENV

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.spark
@pytest.mark.faults
@pytest.mark.recovery
@pytest.mark.timeout(900)
def test_quick_faults_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    results = tmp_path / "results"
    env = {**os.environ, RESULTS_ENV: str(results), "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.faults", "--quick", "--only", "driver_kill",
         "--only", "alerting_kill", "--work", str(tmp_path / "work")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=840)
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    reference = json.loads((results / "faults_reference-quick.json").read_text())
    assert reference["figures"]["expected"] > 0, "the input should produce alerts"
    for scenario in ("driver_kill", "alerting_kill"):
        doc = json.loads((results / f"faults_{scenario}-quick.json").read_text())
        f = doc["figures"]
        assert doc["input_identical"], "same seed and bound must give the same feed"
        assert f["faults"] == 1
        assert f["expected"] == reference["figures"]["expected"]
        assert f["lost"] == 0 and f["lost_in_store"] == 0, f
        assert f["duplicated"] == 0, f
        assert f["delivered"] == f["expected"] and f["stored"] == f["expected"], f
        assert f["invalid_signatures"] == 0
        assert f["recovery_s_max"] is not None
