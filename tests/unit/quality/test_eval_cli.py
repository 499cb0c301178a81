"""``streamwatch eval``: settings on the typed base (flag, STREAMWATCH_EVAL_* twin, the flat
name for one release), refused values as one line and exit 2, and the exit code of --min-f1."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from streamwatch.cli import main


def _write(path: Path, docs: list[dict[str, object]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in docs))
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    labels = _write(tmp_path / "labels.jsonl", [
        {"txn_id": "t-1", "is_fraud": True, "incident_id": "i-1", "scenario": "velocity"},
        {"txn_id": "t-2", "is_fraud": True, "incident_id": "i-2",
         "scenario": "card_testing"}])
    alerts = _write(tmp_path / "alerts.jsonl", [
        {"alert_id": "a-1", "rule": "velocity", "txn_ids": ["t-1"]}])
    return alerts, labels


def test_flags_evaluate_and_min_f1_sets_the_exit_code(
        inputs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    alerts, labels = inputs
    assert main(["eval", "fraud", "--alerts", str(alerts), "--labels", str(labels)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["by_scenario"]["velocity"]["f1"] == 1.0
    assert main(["eval", "fraud", "--alerts", str(alerts), "--labels", str(labels),
                 "--min-f1", "0.9"]) == 1
    assert "F1 below 0.9" in capsys.readouterr().err


def test_the_env_twins_carry_the_service_prefix(
        inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    alerts, labels = inputs
    monkeypatch.setenv("STREAMWATCH_EVAL_ALERTS", str(alerts))
    monkeypatch.setenv("STREAMWATCH_EVAL_LABELS", str(labels))
    assert main(["eval", "fraud"]) == 0
    assert "velocity" in capsys.readouterr().out


def test_the_flat_name_is_read_for_one_release_with_a_warning(
        inputs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    alerts, labels = inputs
    monkeypatch.setenv("STREAMWATCH_MIN_F1", "0.9")
    assert main(["eval", "fraud", "--alerts", str(alerts), "--labels", str(labels)]) == 1
    err = capsys.readouterr().err
    assert "STREAMWATCH_EVAL_MIN_F1" in err and "F1 below 0.9" in err


def test_a_refused_value_is_one_line_naming_the_flag_and_its_variable(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STREAMWATCH_EVAL_MIN_F1", "2")
    assert main(["eval", "fraud", "--sweep", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("streamwatch eval:") and "\n" not in err
    assert "--min-f1" in err and "STREAMWATCH_EVAL_MIN_F1" in err


def test_without_inputs_it_says_what_to_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "fraud", "--alerts", "x.jsonl"]) == 2
    assert "pass --alerts and --labels, or --sweep N" in capsys.readouterr().err
