"""``streamwatch tweets`` flags and the refusals that happen before any port is bound."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from streamwatch.producers.tweets import cli
from streamwatch.producers.tweets.settings import TweetsSettings


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="streamwatch tweets")
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def settings(argv: list[str]) -> TweetsSettings:
    return TweetsSettings.from_args(parse(argv))


def test_defaults_match_the_architecture() -> None:
    s = settings([])
    assert (s.source, s.rate, s.http_port, s.socket_port) == ("synthetic", 200.0, 7101, 7201)
    assert s.speed == 1.0 and s.x_base_url == "https://api.x.com"


def test_every_flag_names_its_env_twin() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            flag = action.option_strings[0]
            twin = "STREAMWATCH_TWEETS_" + flag.lstrip("-").replace("-", "_").upper()
            assert twin in (action.help or ""), flag


def test_env_twins_set_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWATCH_TWEETS_RATE", "750")
    monkeypatch.setenv("STREAMWATCH_TWEETS_SOURCE", "replay:/data/t.jsonl")
    s = settings([])
    assert s.rate == 750.0 and s.source == "replay:/data/t.jsonl"
    assert settings(["--rate", "5"]).rate == 5.0  # the flag wins


def test_the_processors_source_variable_is_not_the_producers() -> None:
    # STREAMWATCH_PROCESS_SOURCE holds feed:URL for the processor; it must not reach here
    s = TweetsSettings.from_args(
        parse([]), {"STREAMWATCH_PROCESS_SOURCE": "feed:http://127.0.0.1:7101/tweets"})
    assert s.source == "synthetic"


def test_max_events_is_spelled_as_for_txns_and_limit_still_works(
        monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings([]).max_events is None
    assert settings(["--max-events", "250"]).max_events == 250
    assert settings(["--limit", "250"]).max_events == 250
    monkeypatch.setenv("STREAMWATCH_TWEETS_MAX_EVENTS", "40")
    assert settings([]).max_events == 40


@pytest.mark.parametrize("argv", [["--rate", "0"], ["--duplicate-rate", "1.5"],
                                  ["--max-events", "0"]])
def test_bad_values_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        parse(argv)


@pytest.mark.parametrize("spec", ["kafka", "replay:", "feed:http://127.0.0.1:7101/tweets"])
@pytest.mark.parametrize("var", ["STREAMWATCH_TWEETS_SOURCE", "STREAMWATCH_SOURCE"])
def test_bad_source_variable_is_refused_in_main_not_at_parse_time(
        spec: str, var: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    # a bad variable must not break building the parser (and so every subcommand's --help)
    monkeypatch.setenv(var, spec)
    args = parse([])
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert "use synthetic, x-api or replay:FILE" in err
    assert f"--source: {spec!r} is not a source" in err and f"Fix or unset {var}" in err


def test_x_api_without_token_explains_the_fix(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("STREAMWATCH_X_BEARER_TOKEN", raising=False)
    assert cli.main(parse(["--source", "x-api"])) == 2
    assert "set STREAMWATCH_X_BEARER_TOKEN" in capsys.readouterr().err


def test_replay_of_missing_file_explains_the_fix(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(parse(["--source", f"replay:{tmp_path / 'none.jsonl'}"])) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "--source replay:" in err


def test_out_of_range_vocabulary_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(parse(["--hashtags", "5"])) == 2
    assert "tags" in capsys.readouterr().err
