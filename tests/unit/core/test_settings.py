"""The settings base: one declaration gives the flag, the env twins and the help."""

from __future__ import annotations

import argparse
import socket
from dataclasses import dataclass

import pytest

from streamwatch.core.flags import duration_seconds, port
from streamwatch.core.http import PortBusy, Server, binding
from streamwatch.core.settings import Settings, SettingsError, setting, switch


@dataclass(frozen=True)
class DemoSettings(Settings):
    service = "DEMO"
    command = "streamwatch demo"

    port: int = setting(7000, parser=port, help="HTTP port")
    pause: float = setting(2.0, parser=duration_seconds, help="pause between polls")
    mode: str = setting("fast", choices=("fast", "slow"), help="how to run")
    token: str = setting("", secret=True, env="STREAMWATCH_DEMO_SHARED_TOKEN",
                         help="bearer token")
    verbose: bool = switch(help="say more")
    limit: int = setting(0, parser=int, flag="--max-events", aliases=("--limit",),
                         help="stop after this many")

    def validate(self) -> None:
        if self.mode == "slow" and self.pause < 1:
            raise self.problem("pause", "--mode slow needs a pause of at least 1 s")


def parse(argv: list[str], environ: dict[str, str] | None = None,
          warnings: list[str] | None = None) -> DemoSettings:
    parser = argparse.ArgumentParser()
    DemoSettings.add_arguments(parser)
    sink = warnings if warnings is not None else []
    return DemoSettings.from_args(parser.parse_args(argv), environ or {}, sink.append)


def test_defaults_without_flags_or_env() -> None:
    s = parse([])
    assert (s.port, s.pause, s.mode, s.verbose, s.limit) == (7000, 2.0, "fast", False, 0)


def test_precedence_flag_then_service_env_then_flat_env_then_default() -> None:
    both = {"STREAMWATCH_DEMO_PORT": "7001", "STREAMWATCH_PORT": "7002"}
    assert parse(["--port", "7003"], both).port == 7003
    assert parse([], both).port == 7001
    assert parse([], {"STREAMWATCH_PORT": "7002"}).port == 7002
    assert parse([], {"STREAMWATCH_OTHER_PORT": "7004"}).port == 7000


def test_flat_env_name_warns_once_naming_the_new_variable() -> None:
    warnings: list[str] = []
    assert parse([], {"STREAMWATCH_PAUSE": "5m"}, warnings).pause == 300.0
    assert len(warnings) == 1
    assert "STREAMWATCH_PAUSE is deprecated" in warnings[0]
    assert "STREAMWATCH_DEMO_PAUSE" in warnings[0] and "\n" not in warnings[0]


def test_new_env_wins_and_the_ignored_flat_one_is_named() -> None:
    warnings: list[str] = []
    s = parse([], {"STREAMWATCH_DEMO_PAUSE": "1s", "STREAMWATCH_PAUSE": "5m"}, warnings)
    assert s.pause == 1.0
    assert warnings == ["streamwatch demo: STREAMWATCH_PAUSE is ignored because "
                        "STREAMWATCH_DEMO_PAUSE is set; unset STREAMWATCH_PAUSE"]


def test_no_warning_for_the_new_names() -> None:
    warnings: list[str] = []
    parse([], {"STREAMWATCH_DEMO_PORT": "7001"}, warnings)
    assert warnings == []


def test_bad_env_value_names_variable_flag_and_fix() -> None:
    with pytest.raises(SettingsError) as err:
        parse([], {"STREAMWATCH_DEMO_PORT": "seventy"})
    message = str(err.value)
    assert "STREAMWATCH_DEMO_PORT='seventy'" in message
    assert "--port" in message and "Fix or unset STREAMWATCH_DEMO_PORT" in message


def test_env_value_outside_choices_is_refused() -> None:
    with pytest.raises(SettingsError, match="must be one of fast, slow"):
        parse([], {"STREAMWATCH_DEMO_MODE": "medium"})


def test_bad_secret_is_not_echoed() -> None:
    @dataclass(frozen=True)
    class Strict(Settings):
        service = "STRICT"
        command = "strict"
        count: int = setting(1, parser=int, secret=True, help="a secret number")

    with pytest.raises(SettingsError) as err:
        Strict.from_env({"STREAMWATCH_STRICT_COUNT": "hunter2"})
    assert "hunter2" not in str(err.value) and "STREAMWATCH_STRICT_COUNT" in str(err.value)


def test_switch_env_twin_takes_words_and_refuses_others() -> None:
    assert parse([], {"STREAMWATCH_DEMO_VERBOSE": "yes"}).verbose is True
    assert parse([], {"STREAMWATCH_DEMO_VERBOSE": "0"}).verbose is False
    assert parse(["--verbose"]).verbose is True
    with pytest.raises(SettingsError, match="1/0, true/false"):
        parse([], {"STREAMWATCH_DEMO_VERBOSE": "maybe"})


def test_shared_env_name_has_no_flat_twin() -> None:
    assert DemoSettings.env("token") == "STREAMWATCH_DEMO_SHARED_TOKEN"
    assert DemoSettings.legacy_env("token") is None
    assert parse([], {"STREAMWATCH_DEMO_SHARED_TOKEN": "t" * 20}).token == "t" * 20


def test_flag_spelling_and_alias() -> None:
    assert DemoSettings.env("limit") == "STREAMWATCH_DEMO_MAX_EVENTS"
    assert DemoSettings.legacy_env("limit") == "STREAMWATCH_MAX_EVENTS"
    assert parse(["--limit", "5"]).limit == 5
    assert parse(["--max-events", "6"]).limit == 6


def test_help_shows_env_twin_and_default() -> None:
    parser = argparse.ArgumentParser()
    DemoSettings.add_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert "HTTP port [env STREAMWATCH_DEMO_PORT; default: 7000]" in text
    assert "say more [env STREAMWATCH_DEMO_VERBOSE; default: off]" in text
    assert "[env STREAMWATCH_DEMO_SHARED_TOKEN; default: unset]" in text


def test_help_works_with_a_bad_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWATCH_DEMO_PORT", "seventy")
    parser = argparse.ArgumentParser()
    DemoSettings.add_arguments(parser)
    assert "--port" in parser.format_help()


def test_from_env_reads_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWATCH_DEMO_MODE", "slow")
    assert DemoSettings.from_env().mode == "slow"


def test_validation_hook_names_flag_and_env() -> None:
    with pytest.raises(SettingsError) as err:
        parse(["--mode", "slow", "--pause", "100ms"])
    assert "set --pause (env STREAMWATCH_DEMO_PAUSE)" in str(err.value)


def test_secret_stays_out_of_repr() -> None:
    assert "t" * 20 not in repr(parse([], {"STREAMWATCH_DEMO_SHARED_TOKEN": "t" * 20}))


def test_busy_port_names_flag_and_env() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        with pytest.raises(PortBusy) as err, \
                binding("127.0.0.1", taken, DemoSettings.where("port")):
            Server(lambda env, start: [], "127.0.0.1", taken)
    message = str(err.value)
    assert f"port {taken} on 127.0.0.1 is already in use" in message
    assert "--port (env STREAMWATCH_DEMO_PORT)" in message


def test_binding_lets_other_errors_through() -> None:
    with pytest.raises(OSError) as err, binding("127.0.0.1", 1, "--port"):
        raise OSError(13, "permission denied")
    assert not isinstance(err.value, PortBusy)


def _key_value(text: str) -> str:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return text


@dataclass(frozen=True)
class ListSettings(Settings):
    service = "LIST"
    command = "streamwatch list"

    option: tuple[str, ...] = setting((), parser=_key_value, repeated=True,
                                      metavar="KEY=VALUE", help="an option")
    level: tuple[str, ...] = setting(("low",), choices=("low", "high"), repeated=True,
                                     help="levels")


def parse_list(argv: list[str], environ: dict[str, str] | None = None,
               warnings: list[str] | None = None) -> ListSettings:
    parser = argparse.ArgumentParser()
    ListSettings.add_arguments(parser)
    sink = warnings if warnings is not None else []
    return ListSettings.from_args(parser.parse_args(argv), environ or {}, sink.append)


def test_repeated_flag_collects_a_tuple_in_order() -> None:
    assert parse_list([]).option == ()
    assert parse_list(["--option", "a=1"]).option == ("a=1",)
    assert parse_list(["--option", "a=1", "--option", "b=2;c,d"]).option == ("a=1", "b=2;c,d")
    assert parse_list([]).level == ("low",)
    assert parse_list(["--level", "high", "--level", "low"]).level == ("high", "low")


def test_repeated_env_twin_holds_one_item_per_line() -> None:
    env = {"STREAMWATCH_LIST_OPTION": "a=1\n\n  sasl=x;y,z  \n"}
    assert parse_list([], env).option == ("a=1", "sasl=x;y,z")
    assert parse_list([], {"STREAMWATCH_LIST_OPTION": ""}).option == ()


def test_repeated_flags_come_after_the_environment_items() -> None:
    env = {"STREAMWATCH_LIST_OPTION": "a=1\nb=2"}
    assert parse_list(["--option", "a=3"], env).option == ("a=1", "b=2", "a=3")


def test_repeated_flat_twin_is_read_with_a_warning() -> None:
    warnings: list[str] = []
    assert parse_list([], {"STREAMWATCH_OPTION": "a=1\nb=2"}, warnings).option == ("a=1", "b=2")
    assert len(warnings) == 1 and "STREAMWATCH_LIST_OPTION" in warnings[0]
    both = {"STREAMWATCH_LIST_OPTION": "a=1", "STREAMWATCH_OPTION": "b=2"}
    assert parse_list([], both).option == ("a=1",)


def test_repeated_env_item_is_checked_and_named() -> None:
    with pytest.raises(SettingsError) as err:
        parse_list([], {"STREAMWATCH_LIST_OPTION": "a=1\nnope"})
    assert "STREAMWATCH_LIST_OPTION='nope'" in str(err.value) and "--option" in str(err.value)
    with pytest.raises(SettingsError, match="must be one of low, high"):
        parse_list([], {"STREAMWATCH_LIST_LEVEL": "low\nmedium"})


def test_repeated_flag_item_is_checked_by_argparse() -> None:
    with pytest.raises(SystemExit):
        parse_list(["--option", "nope"])


def test_repeated_help_says_one_per_line() -> None:
    parser = argparse.ArgumentParser()
    ListSettings.add_arguments(parser)
    text = " ".join(parser.format_help().split())
    assert "an option [env STREAMWATCH_LIST_OPTION; one per line; default: none]" in text
    assert "[env STREAMWATCH_LIST_LEVEL; one per line; default: low]" in text


def test_repeated_default_must_be_a_tuple() -> None:
    with pytest.raises(TypeError):
        setting([], repeated=True, help="x")


def test_run_command_turns_a_refused_setting_or_a_listed_refusal_into_exit_2(
        capsys: pytest.CaptureFixture[str]) -> None:
    from streamwatch.core.settings import run_command

    parser = argparse.ArgumentParser()
    DemoSettings.add_arguments(parser)
    bad = parser.parse_args(["--mode", "slow", "--pause", "0.5"])
    assert run_command(DemoSettings, bad, lambda s: 0) == 2
    err = capsys.readouterr().err
    assert err.startswith("streamwatch demo: ") and "--pause" in err
    assert "Traceback" not in err

    def busy(settings: DemoSettings) -> int:
        raise PortBusy(f"port {settings.port} is taken")

    good = parser.parse_args(["--port", "7001"])
    assert run_command(DemoSettings, good, busy, refusals=(PortBusy,)) == 2
    assert capsys.readouterr().err == "streamwatch demo: port 7001 is taken\n"
    assert run_command(DemoSettings, good, lambda s: s.port - 7001) == 0
    with pytest.raises(PortBusy):  # not listed: a bug, not a refusal; it keeps its traceback
        run_command(DemoSettings, good, busy)


def test_or_none_keeps_the_parser_and_its_name() -> None:
    from streamwatch.core.flags import positive_int
    from streamwatch.core.settings import or_none

    parse = or_none(positive_int)
    assert parse("") is None and parse("3") == 3
    assert parse.__name__ == "positive_int"
    with pytest.raises(argparse.ArgumentTypeError):
        parse("0")
