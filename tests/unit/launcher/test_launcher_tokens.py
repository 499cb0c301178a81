"""``streamwatch run`` hands one ingest token to every service that needs it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from streamwatch.launcher import cli
from streamwatch.launcher.launcher import Launcher
from streamwatch.launcher.supervisor import Child


def test_the_ingest_token_reaches_alerting_exporter_and_spark(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    launcher = Launcher(parser.parse_args(["--data-dir", str(tmp_path), "--headless"]))
    started: list[Child] = []
    monkeypatch.setattr(launcher.supervisor, "start", started.append)
    launcher._start_services("admin-token-" + "a" * 20, "ingest-token-" + "i" * 20)
    env = {child.name: child.env for child in started}
    for name in ("alerting", "metrics-exporter", "spark"):
        assert env[name].get("STREAMWATCH_INGEST_TOKEN") == "ingest-token-" + "i" * 20, name
    assert env["alerting"]["STREAMWATCH_ADMIN_TOKEN"] == "admin-token-" + "a" * 20
    # only the alerting service holds the admin token
    assert all("STREAMWATCH_ADMIN_TOKEN" not in e for n, e in env.items() if n != "alerting")
