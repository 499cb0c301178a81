"""Property-based API tests: schemathesis drives every service's /openapi.json live.

One test per OpenAPI document (alerting, metrics-exporter, and the feed API the
tweet ingester and the transaction simulator both serve). Positive and negative
data: no 5xx, status codes, content types and bodies as documented, data that
breaks the schema refused with a 4xx (``negative_data_rejection``), and routes
that declare a token refusing requests without it (``ignored_auth``). Bounded to
a few examples per operation with a fixed seed. Webhook URLs are limited to
127.0.0.1 so generated subscriptions never make the service call anything beyond
this machine.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.procs import INGEST_TOKEN, ServiceProcess, free_port

ADMIN_TOKEN = "schemathesis-admin-token-0123456789"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,negative_data_rejection,ignored_auth")
EXAMPLES = "10"


def schemathesis(base: str, cwd: Path, *extra: str) -> None:
    st = Path(sys.executable).parent / "st"
    if not st.exists():
        pytest.skip("schemathesis CLI not installed (pip install -e '.[dev]')")
    run = subprocess.run(
        # the documents are OpenAPI 3.1 (pydantic writes JSON Schema 2020-12)
        [str(st), "run", f"{base}/openapi.json", "--checks", CHECKS,
         "--experimental", "openapi-3.1",
         "--data-generation-method", "all",
         "--hypothesis-max-examples", EXAMPLES, "--hypothesis-seed", "1",
         "--hypothesis-database", ":memory:", *extra],
        capture_output=True, text=True, timeout=240, cwd=cwd)
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    assert "not_a_server_error" in run.stdout and "FAILED" not in run.stdout


def run_service(tmp_path: Path, args: Sequence[str], env: dict[str, str] | None,
                *runs: Sequence[str]) -> None:
    port = free_port()
    proc = ServiceProcess([*args, str(port)], tmp_path / "svc.log", env=env).start()
    base = f"http://127.0.0.1:{port}"
    try:
        proc.wait_http(base + "/readyz")
        for extra in runs:
            schemathesis(base, tmp_path, *extra)
    finally:
        assert proc.stop() == 0, proc.log()
    # no unhandled exception hidden behind a 4xx either, and no traceback for bad input
    log = (tmp_path / "svc.log").read_text()
    assert '"level":"error"' not in log and "Traceback" not in log, log[-4000:]


@pytest.mark.slow
def test_alerting_contract(tmp_path: Path) -> None:
    # each token for its own routes, so ignored_auth sees both refuse the other's token
    run_service(
        tmp_path, ["alerting", "--data-dir", str(tmp_path), "--port"],
        {"STREAMWATCH_ADMIN_TOKEN": ADMIN_TOKEN, "STREAMWATCH_INGEST_TOKEN": INGEST_TOKEN,
         "STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE": "1",
         "STREAMWATCH_ALERTING_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost"},
        ["--include-path-regex", "^/v1/subscriptions",
         "-H", f"Authorization: Bearer {ADMIN_TOKEN}"],
        ["--exclude-path-regex", "^/v1/subscriptions",
         "-H", f"Authorization: Bearer {INGEST_TOKEN}"])


@pytest.mark.slow
def test_exporter_contract(tmp_path: Path) -> None:
    # The dashboard's event stream never ends, so a request/response tester can only
    # time out on it; tests/unit/exporter/test_exporter_dashboard.py covers it.
    run_service(tmp_path, ["exporter", "--port"], {"STREAMWATCH_INGEST_TOKEN": INGEST_TOKEN},
                ["--exclude-path", "/v1/dashboard/stream",
                 "-H", f"Authorization: Bearer {INGEST_TOKEN}"])


@pytest.mark.slow
def test_feed_contract(tmp_path: Path) -> None:
    # the tweet ingester serves the same feed document (streamwatch.feed.server)
    run_service(tmp_path, ["txns", "--seed", "1", "--rate", "200", "--max-events", "500",
                           "--data-dir", str(tmp_path / "data"),
                           "--socket-port", str(free_port()), "--http-port"], None, [])
