"""The spark image as the spark-operator uses it: the driver pod's container runs
`entrypoint.sh driver ... <mainApplicationFile> <arguments>`, i.e. spark-submit in client
mode, which runs the primary resource as Python only when its name ends in `.py`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.containers.stack import run

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
IMAGE = "streamwatch/spark:0.1.0"
HELM = ROOT / ".tools" / "helm"


def operator_spec() -> dict:
    if not HELM.exists():
        pytest.fail("helm not fetched: run `make tools`")
    out = subprocess.run(
        [str(HELM), "template", "sw", str(ROOT / "helm" / "streamwatch"), "--namespace", "sw",
         "-f", str(ROOT / "helm" / "streamwatch" / "ci" / "operator-values.yaml")],
        capture_output=True, text=True, check=True, timeout=60).stdout
    apps = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "SparkApplication"]
    assert apps
    return dict(apps[0]["spec"])


def test_operator_main_application_file_runs_as_python_in_the_image(
        container_tools: None) -> None:
    spec = operator_spec()
    main = spec["mainApplicationFile"]
    # Same read-only root and user as the pod's securityContext; no network needed.
    res = run(["podman", "run", "--rm", "--read-only", "--tmpfs", "/tmp:exec,mode=1777",
               "--network", "none", "--user", "10001:10001", IMAGE,
               "driver", "--master", "local[1]", "--conf", "spark.ui.enabled=false",
               main, "process", "--help"], check=False, timeout=300)
    out = res.stdout + res.stderr
    assert "Cannot load main class from JAR" not in out, out[-3000:]
    assert res.returncode == 0, out[-3000:]
    assert "hashtags" in res.stdout and "fraud" in res.stdout, out[-3000:]
    assert spec["arguments"][0] == "process"
