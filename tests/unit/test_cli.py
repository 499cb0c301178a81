"""Every subcommand's every flag has --help text naming its STREAMWATCH_ twin."""

import argparse
import re

import pytest

from streamwatch import cli

_TWIN = re.compile(r"\[env (STREAMWATCH_[A-Z0-9_]+); ")


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in _subparsers(sub))


def test_every_flag_has_help_and_env_twin():
    parser = cli.build_parser()
    checked = 0
    for name, sub in _subparsers(parser):
        for action in sub._actions:
            long = [o for o in action.option_strings if o.startswith("--")]
            if not long or long[0] in ("--help", "--version"):
                continue
            assert action.help, f"{name} {long[0]} has no help"
            twin = _TWIN.search(action.help)
            assert twin, f"{name} {long[0]} lacks its env twin"
            assert twin.group(1).endswith(long[0][2:].replace("-", "_").upper()), (
                f"{name} {long[0]}: env twin {twin.group(1)} is not named after the flag")
            checked += 1
    assert checked > 20


def test_env_twin_sets_default_and_flag_wins(monkeypatch):
    from streamwatch.launcher.settings import RunSettings

    monkeypatch.setenv("STREAMWATCH_RUN_DURATION", "5m")
    args = cli.build_parser().parse_args(["run"])
    assert RunSettings.from_args(args).duration == 300.0
    args = cli.build_parser().parse_args(["run", "--duration", "10"])
    assert RunSettings.from_args(args).duration == 10.0


@pytest.mark.parametrize("var", ["STREAMWATCH_RUN_TXNS_PORT", "STREAMWATCH_TXNS_PORT"])
def test_bad_env_value_is_a_clear_error_at_start_not_in_help(monkeypatch, capsys, var):
    monkeypatch.setenv(var, "seventy")
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--help"])
    assert exit_.value.code == 0
    capsys.readouterr()
    assert cli.main(["run"]) == 2  # refused before anything starts
    err = capsys.readouterr().err
    assert f"{var}='seventy' is not valid for --txns-port" in err and "Fix or unset" in err


def test_two_services_on_one_port_name_both_flags(capsys):
    assert cli.main(["run", "--txns-port", "7101"]) == 2
    err = capsys.readouterr().err
    assert "--txns-port and --tweets-port are both 7101" in err
    assert "STREAMWATCH_RUN_TXNS_PORT" in err


def test_service_env_twin_and_bad_value(monkeypatch, capsys):
    monkeypatch.setenv("STREAMWATCH_EXPORTER_PORT", "seventy")
    assert cli.main(["exporter"]) == 2
    err = capsys.readouterr().err
    assert "STREAMWATCH_EXPORTER_PORT='seventy'" in err and "Fix or unset" in err


def test_services_do_not_share_a_flat_name():
    parser = cli.build_parser()
    twins = {}
    for name, sub in _subparsers(parser):
        if name in ("alerting", "exporter", "tweets", "txns", "orders", "run"):
            twins[name] = {m.group(1) for a in sub._actions
                           if a.help and (m := _TWIN.search(a.help))}
    # only the one secret alerting and exporter hold on purpose
    assert twins["alerting"] & twins["exporter"] == {"STREAMWATCH_INGEST_TOKEN"}
    names = list(twins)
    for i, one in enumerate(names):
        for other in names[i + 1:]:
            if {one, other} != {"alerting", "exporter"}:
                assert not twins[one] & twins[other], (one, other)


def _leaf_commands() -> list[list[str]]:
    leaves = []
    for name, sub in _subparsers(cli.build_parser()):
        if not any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
            leaves.append(name.split())
    return leaves


@pytest.mark.parametrize("command", _leaf_commands(), ids=" ".join)
def test_help_of_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([*command, "--help"])
    assert exit_.value.code == 0
    assert "STREAMWATCH_" in capsys.readouterr().out
