"""The world record (``streamwatch.feed.world``) and a simulator resumed from it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from streamwatch.feed import world as worlds
from streamwatch.producers.txns.config import SimConfig
from streamwatch.producers.txns.simulator import TxnGenerator, TxnSource

ASKED = {"--seed": None, "--rate": 100.0, "--start-time": None, "--weights": {"a": 1.0}}
DEFAULTS = {"--seed": 42, "--start-time": "2026-11-20T10:00:00.000Z"}
EMPTY = {"transactions": 0, "labels": 0}


def test_the_first_start_records_the_defaults_it_drew(tmp_path: Path) -> None:
    world, resumed = worlds.resume_or_create(tmp_path, "txns", ASKED, defaults=DEFAULTS,
                                             latest=EMPTY)
    assert not resumed and world.epoch == 1
    assert world.params["--seed"] == 42 and world.params["--rate"] == 100.0
    assert worlds.read(tmp_path, "txns") == world
    assert worlds.id_tag("c", world.epoch) == "c-"


def test_a_restart_takes_unset_flags_from_the_record(tmp_path: Path) -> None:
    worlds.resume_or_create(tmp_path, "txns", ASKED, defaults=DEFAULTS, latest=EMPTY)
    again, resumed = worlds.resume_or_create(
        tmp_path, "txns", ASKED, defaults={"--seed": 7, "--start-time": "2030-01-01T00:00:00Z"},
        latest={"transactions": 30, "labels": 31})
    assert resumed
    assert again.params["--seed"] == 42
    assert again.params["--start-time"] == DEFAULTS["--start-time"]
    assert again.held("transactions", 30) == 30 and again.held("labels", 31) == 31


def test_different_flags_are_refused_naming_each(tmp_path: Path) -> None:
    worlds.resume_or_create(tmp_path, "txns", ASKED, defaults=DEFAULTS, latest=EMPTY)
    before = worlds.record_path(tmp_path, "txns").read_bytes()
    with pytest.raises(worlds.WorldError) as err:
        worlds.resume_or_create(tmp_path, "txns",
                                {**ASKED, "--seed": 5, "--weights": {"a": 2.0}},
                                defaults=DEFAULTS, latest=EMPTY)
    text = str(err.value)
    assert "--seed 42 (this run: 5)" in text and "--weights a=1 (this run: a=2)" in text
    assert "--new-world" in text
    assert worlds.record_path(tmp_path, "txns").read_bytes() == before


def test_a_new_world_takes_the_next_epoch_and_numbers_after_every_feed(tmp_path: Path) -> None:
    worlds.resume_or_create(tmp_path, "txns", ASKED, defaults=DEFAULTS, latest=EMPTY)
    new, resumed = worlds.resume_or_create(
        tmp_path, "txns", {**ASKED, "--seed": 5}, defaults=DEFAULTS,
        latest={"transactions": 10, "labels": 12}, new_world=True)
    assert not resumed and new.epoch == 2 and new.params["--seed"] == 5
    assert new.first_offsets == {"transactions": 10, "labels": 12}
    assert new.first_number == 13
    assert worlds.id_tag("c", new.epoch) == "c-e2-"


def test_feeds_without_a_record_were_another_world(tmp_path: Path) -> None:
    world, resumed = worlds.resume_or_create(tmp_path, "txns", ASKED, defaults=DEFAULTS,
                                             latest={"transactions": 99, "labels": 99})
    assert not resumed and world.epoch == 2


def test_a_truncated_feed_or_a_broken_record_is_refused(tmp_path: Path) -> None:
    worlds.resume_or_create(tmp_path, "txns", ASKED, defaults=DEFAULTS,
                            latest={"transactions": 50, "labels": 50})
    with pytest.raises(worlds.WorldError, match="replaced or truncated"):
        worlds.resume_or_create(tmp_path, "txns", ASKED, defaults=DEFAULTS, latest=EMPTY)
    worlds.record_path(tmp_path, "txns").write_text("{not json")
    with pytest.raises(worlds.WorldError, match="--new-world"):
        worlds.resume_or_create(tmp_path, "txns", ASKED, defaults=DEFAULTS, latest=EMPTY)


CONFIG = SimConfig(seed=3, rate=500.0, fraud_rate=0.05)


class FakeClock:
    """Advances by one step per reading: pacing without waiting."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def _run(source: TxnSource) -> dict[str, list[bytes]]:
    """What ``source`` emits until its --max-events."""
    out: dict[str, list[bytes]] = {"transactions": [], "labels": []}

    def emit(feed: str, payloads: list[bytes]) -> None:
        out[feed] += payloads

    source.run(emit, threading.Event())
    return out


@pytest.mark.parametrize("held", [
    {"transactions": 700, "labels": 700},
    {"transactions": 700, "labels": 900},   # crashed after the labels, before the txns
    {"transactions": 700, "labels": 650},   # the labels' last writes were lost
])
def test_a_resumed_source_emits_what_an_uninterrupted_one_would(held: dict[str, int]) -> None:
    txns, labels = TxnGenerator(CONFIG).take(1500)
    source = TxnSource(CONFIG.with_(max_events=1500), held=held, tick_s=0.0,
                       clock=FakeClock(1.0))
    resumed = _run(source)
    assert resumed["transactions"] == txns[held["transactions"]:]
    assert resumed["labels"] == labels[held["labels"]:]


def test_the_epoch_tags_card_and_customer_ids() -> None:
    import orjson

    txns, _ = TxnGenerator(CONFIG.with_(epoch=3)).take(50)
    docs = [orjson.loads(t) for t in txns]
    assert all(d["card_id"].startswith("c-e3-") for d in docs)
    assert all(d["customer_id"].startswith("u-e3-") for d in docs)
    plain, _ = TxnGenerator(CONFIG).take(50)
    assert [orjson.loads(t)["card_id"].replace("c-", "c-e3-", 1) for t in plain] == [
        d["card_id"] for d in docs]
