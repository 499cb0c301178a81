"""The rules file: schema errors name the bad path; hot reload keeps the last good rules."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from streamwatch.contracts.events import SCENARIOS
from streamwatch.processor.fraud.rules import (
    RulesError,
    RulesWatcher,
    default_rules_path,
    load_rules,
    parse_rules,
    read_published,
)


def _default_doc() -> dict:
    return yaml.safe_load(default_rules_path().read_text())


def _errors(doc: object) -> list[str]:
    with pytest.raises(RulesError) as info:
        parse_rules(yaml.safe_dump(doc) if not isinstance(doc, str) else doc, "test.yaml")
    return info.value.errors


def test_packaged_rules_cover_every_scenario() -> None:
    rules = load_rules(default_rules_path())
    assert sorted(rules.enabled()) == sorted(SCENARIOS)
    assert all(r.severity in ("low", "medium", "high") for r in rules.rules)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["rules"]["card_testing"]["params"].update(min_count=1),
     "rules.card_testing.params.min_count: must be >= 2"),
    (lambda d: d["rules"]["velocity"]["params"].update(window_s="fast"),
     "rules.velocity.params.window_s: must be a number"),
    (lambda d: d["rules"]["velocity"]["params"].update(windw_s=10),
     "rules.velocity.params.windw_s: unknown parameter"),
    (lambda d: d["rules"]["amount_spike"].update(severity="urgent"),
     "rules.amount_spike.severity: must be one of low, medium, high"),
    (lambda d: d["rules"]["account_takeover"].update(enabled="yes"),
     "rules.account_takeover.enabled: must be true or false"),
    (lambda d: d["rules"].update(money_laundering={"severity": "high"}),
     "rules.money_laundering: unknown rule"),
    (lambda d: d.update(version=2), "version: must be 1"),
    (lambda d: d["rules"]["impossible_travel"].update(colour="red"),
     "rules.impossible_travel.colour: unknown key"),
    (lambda d: d["rules"]["amount_spike"]["params"]["category_typical_usd"].update(atm=-1),
     "rules.amount_spike.params.category_typical_usd: atm: must be a number > 0"),
])
def test_schema_errors_name_the_path(mutate, expected: str) -> None:
    doc = _default_doc()
    mutate(doc)
    errors = _errors(doc)
    assert any(e.startswith(expected) for e in errors), errors


def test_every_problem_is_reported_at_once() -> None:
    doc = _default_doc()
    doc["rules"]["card_testing"]["params"]["min_count"] = 0
    doc["rules"]["velocity"]["severity"] = "meh"
    assert len(_errors(doc)) == 2


def test_yaml_syntax_error_names_line() -> None:
    errors = _errors("version: 1\nrules:\n  card_testing: [unclosed\n")
    assert errors[0].startswith("(yaml) line")


def test_missing_params_take_documented_defaults() -> None:
    rules = parse_rules("version: 1\nrules:\n  velocity: {severity: low}\n")
    assert rules.enabled()["velocity"].p("min_count") >= 2
    assert list(rules.enabled()) == ["velocity"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _settled_check(watcher: RulesWatcher, clock: FakeClock) -> bool:
    """The first check sees the change, the next one after ``settle_s`` acts on it."""
    assert watcher.check() is False
    clock.now += watcher.settle_s
    return watcher.check()


def test_watcher_applies_valid_change_and_keeps_rules_on_invalid(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    doc = _default_doc()
    path.write_text(yaml.safe_dump(doc))
    clock = FakeClock()
    watcher = RulesWatcher(path=path, publish_dir=tmp_path / "pub", clock=clock)
    assert watcher.check() is False  # unchanged
    published, status = read_published(str(tmp_path / "pub"))
    assert published.version == 1 and status["reload_errors_total"] == 0

    doc["rules"]["velocity"]["params"]["min_count"] = 7
    path.write_text(yaml.safe_dump(doc))
    assert _settled_check(watcher, clock) is True
    published, _ = read_published(str(tmp_path / "pub"))
    assert published.version == 2
    assert published.enabled()["velocity"].p("min_count") == 7

    path.write_text("version: 1\nrules: {velocity: {severity: nope}}\n")
    assert _settled_check(watcher, clock) is False
    published, status = read_published(str(tmp_path / "pub"))
    assert published.version == 2  # previous rules stay in force
    assert published.enabled()["velocity"].p("min_count") == 7
    assert status["reload_errors_total"] == 1
    assert "rules.velocity.severity" in status["last_error"]
    clock.now += 10
    assert watcher.check() is False  # the same bad file is not counted twice
    assert watcher.status["reload_errors_total"] == 1


def test_watcher_ignores_a_file_caught_mid_write(tmp_path: Path) -> None:
    """An in-place rewrite passes through empty and partial content; none of it is an error."""
    path = tmp_path / "rules.yaml"
    doc = _default_doc()
    full = yaml.safe_dump(doc)
    path.write_text(full)
    clock = FakeClock()
    watcher = RulesWatcher(path=path, publish_dir=tmp_path / "pub", clock=clock)

    doc["rules"]["velocity"]["params"]["min_count"] = 9
    edited = yaml.safe_dump(doc)
    for partial in ("", edited[: len(edited) // 3], edited[: len(edited) // 2]):
        path.write_text(partial)
        assert watcher.check() is False
        clock.now += watcher.settle_s / 3  # the writer is quicker than the settle time
    path.write_text(edited)
    assert watcher.check() is False  # new content: the settle time starts again
    clock.now += watcher.settle_s / 2
    assert watcher.check() is False
    clock.now += watcher.settle_s / 2
    assert watcher.check() is True
    assert watcher.status == {**watcher.status, "version": 2, "reload_errors_total": 0}
    assert watcher.rules.enabled()["velocity"].p("min_count") == 9

    path.write_text("")  # a change that is reverted before it settles is no change at all
    assert watcher.check() is False
    path.write_text(edited)
    clock.now += 10
    assert watcher.check() is False
    assert watcher.status["version"] == 2 and watcher.status["reload_errors_total"] == 0


def test_watcher_reports_bad_utf8_and_a_vanished_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(_default_doc()))
    clock = FakeClock()
    watcher = RulesWatcher(path=path, publish_dir=tmp_path / "pub", clock=clock)
    path.write_bytes(b"version: 1\nrules: {velocity: {severity: \xff}}\n")
    assert _settled_check(watcher, clock) is False
    assert "not UTF-8" in watcher.status["last_error"]
    path.unlink()
    assert _settled_check(watcher, clock) is False
    assert "cannot read" in watcher.status["last_error"]
    assert watcher.status["reload_errors_total"] == 2 and watcher.rules.version == 1


def test_watcher_refuses_to_start_with_invalid_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(json.dumps({"version": 1, "rules": {"velocity": {"severity": 3}}}))
    with pytest.raises(RulesError, match=r"rules\.velocity\.severity"):
        RulesWatcher(path=path, publish_dir=tmp_path / "pub")
