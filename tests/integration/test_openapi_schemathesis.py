"""Property-based API test: schemathesis drives a live alerting process from /openapi.json.

Checks: no 5xx, status codes and content types as documented, bodies matching the
documented schemas. Bounded to 20 examples per operation with a fixed seed.
Webhook URLs are limited to 127.0.0.1 so generated subscriptions never make the
service resolve or call anything beyond this machine.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.procs import ServiceProcess, free_port

TOKEN = "schemathesis-admin-token-0123456789"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")


@pytest.mark.slow
def test_openapi_contract_holds_under_generated_requests(tmp_path: Path) -> None:
    st = Path(sys.executable).parent / "st"
    if not st.exists():
        pytest.skip("schemathesis CLI not installed (pip install -e '.[dev]')")
    port = free_port()
    proc = ServiceProcess(
        ["alerting", "--port", str(port), "--data-dir", str(tmp_path)], tmp_path / "svc.log",
        env={"STREAMWATCH_ADMIN_TOKEN": TOKEN, "STREAMWATCH_WEBHOOK_ALLOW_PRIVATE": "1",
             "STREAMWATCH_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost"}).start()
    base = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(base + "/readyz")
        run = subprocess.run(
            [str(st), "run", f"{base}/openapi.json", "--checks", CHECKS,
             "--hypothesis-max-examples", "20", "--hypothesis-seed", "1",
             "--hypothesis-database", ":memory:", "-H", f"Authorization: Bearer {TOKEN}"],
            capture_output=True, text=True, timeout=240, cwd=tmp_path)
    finally:
        assert proc.stop() == 0, proc.log()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "not_a_server_error" in run.stdout and "FAILED" not in run.stdout
    # no unhandled exception hidden behind a 4xx either
    assert '"level":"error"' not in (tmp_path / "svc.log").read_text()
