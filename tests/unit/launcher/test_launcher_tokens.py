"""``streamwatch run`` hands one ingest token to every service that needs it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from streamwatch.launcher import cli
from streamwatch.launcher.launcher import Launcher
from streamwatch.launcher.settings import RunSettings
from streamwatch.launcher.supervisor import Child


def test_the_ingest_token_reaches_alerting_exporter_and_spark(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    launcher = Launcher(RunSettings.from_args(
        parser.parse_args(["--data-dir", str(tmp_path), "--headless"]), {}))
    started: list[Child] = []
    monkeypatch.setattr(launcher.supervisor, "start", started.append)
    launcher._start_services("admin-token-" + "a" * 20, "ingest-token-" + "i" * 20)
    env = {child.name: child.env for child in started}
    for name in ("alerting", "metrics-exporter", "spark"):
        assert env[name].get("STREAMWATCH_INGEST_TOKEN") == "ingest-token-" + "i" * 20, name
    assert env["alerting"]["STREAMWATCH_ADMIN_TOKEN"] == "admin-token-" + "a" * 20
    # only the alerting service holds the admin token
    assert all("STREAMWATCH_ADMIN_TOKEN" not in e for n, e in env.items() if n != "alerting")


def test_each_producer_gets_its_ports_and_data_dir_as_flags(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Flags, not variables: the children's twins are their own (STREAMWATCH_TXNS_...), and
    a flag wins over whatever the launcher's environment holds for them."""
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    launcher = Launcher(RunSettings.from_args(parser.parse_args(
        ["--data-dir", str(tmp_path), "--txns-port", "9102", "--seed", "4"]), {}))
    started: list[Child] = []
    monkeypatch.setattr(launcher.supervisor, "start", started.append)
    launcher._start_services("admin-token-" + "a" * 20, "ingest-token-" + "i" * 20)
    argv = {child.name: child.argv for child in started}
    txns = argv["txn-simulator"]
    assert txns[txns.index("--http-port") + 1] == "9102"
    assert txns[txns.index("--seed") + 1] == "4"
    for name in ("tweet-ingester", "txn-simulator", "order-simulator", "alerting"):
        assert argv[name][argv[name].index("--data-dir") + 1] == str(tmp_path.resolve()), name
    alerting = argv["alerting"]
    assert alerting[alerting.index("--port") + 1] == "7103"


def test_the_launchers_twins_carry_run_and_the_flat_ones_warn() -> None:
    """--alerting-port is STREAMWATCH_RUN_ALERTING_PORT: the flat name it had is now the
    alerting service's own --port twin."""
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args([])
    warnings: list[str] = []
    moved = RunSettings.from_args(args, {"STREAMWATCH_RUN_ALERTING_PORT": "9103"},
                                  warnings.append)
    assert moved.alerting_port == 9103 and warnings == []
    old = RunSettings.from_args(args, {"STREAMWATCH_DURATION": "5m"}, warnings.append)
    assert old.duration == 300.0
    assert warnings == ["streamwatch run: STREAMWATCH_DURATION is deprecated and will stop "
                        "working in the next release; rename it to STREAMWATCH_RUN_DURATION"]
