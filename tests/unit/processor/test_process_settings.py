"""``streamwatch process``'s settings: per-job classes on the typed base, frozen, with
``STREAMWATCH_PROCESS_*`` twins and the flat names still read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from streamwatch import cli as top
from streamwatch.core.settings import SettingsError
from streamwatch.processor.cli import JOBS, job_args
from streamwatch.processor.settings import (
    JOB_SETTINGS,
    STATE_STORE_NAMES,
    FraudSettings,
    HashtagsSettings,
    OrdersSettings,
    WordcountSettings,
)


def test_every_job_has_a_settings_class_of_its_name() -> None:
    assert set(JOB_SETTINGS) == set(JOBS)
    for job in JOBS:
        settings = job_args(job)
        assert isinstance(settings, JOB_SETTINGS[job]) and settings.job == job


def test_the_defaults_are_the_ones_the_flags_always_had() -> None:
    hashtags, fraud = job_args("hashtags"), job_args("fraud")
    orders, words = job_args("orders"), job_args("wordcount")
    assert isinstance(hashtags, HashtagsSettings) and isinstance(fraud, FraudSettings)
    assert isinstance(orders, OrdersSettings) and isinstance(words, WordcountSettings)
    assert (hashtags.source, hashtags.sink) == ("feed:http://127.0.0.1:7101/tweets", "console")
    assert (fraud.source, fraud.sink) == ("feed:http://127.0.0.1:7102/transactions",
                                          "http:http://127.0.0.1:7103/v1/alerts")
    assert orders.source == "feed:http://127.0.0.1:7105/orders"
    assert words.source == "socket:127.0.0.1:7201" and words.output_mode == "complete"
    assert hashtags.trigger == "1000 milliseconds" and hashtags.master == "local[*]"
    assert (hashtags.watermark, orders.watermark) == (120.0, 60.0)
    assert (hashtags.window, hashtags.slide, hashtags.top) == (300.0, 60.0, 10)
    assert (fraud.buckets, fraud.state_ttl, fraud.restarts) == (None, 7200.0, 3)
    assert fraud.kafka_option == () and fraud.exporter_url is None


def test_checkpoint_and_dead_letter_are_derived_not_assigned(tmp_path: Path) -> None:
    settings = job_args("orders", ["--data-dir", str(tmp_path)])
    assert settings.checkpoint is None  # what the user gave stays as given
    assert settings.checkpoint_path == str(tmp_path / "checkpoints" / "orders")
    assert settings.dead_letter_path == str(tmp_path / "checkpoints" / "orders" / "dead-letter")
    given = job_args("orders", ["--checkpoint", "/ck", "--dead-letter", "/dl"])
    assert (given.checkpoint_path, given.dead_letter_path) == ("/ck", "/dl")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.checkpoint = "/elsewhere"  # type: ignore[misc]


def test_new_env_names_and_the_flat_ones_still_read(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STREAMWATCH_PROCESS_WATERMARK", "5m")
    monkeypatch.setenv("STREAMWATCH_SINK", "jsonl:/tmp/out")
    settings = job_args("hashtags")
    assert settings.watermark == 300.0 and settings.sink == "jsonl:/tmp/out"
    err = capsys.readouterr().err
    assert "STREAMWATCH_SINK is deprecated" in err and "STREAMWATCH_PROCESS_SINK" in err
    assert "STREAMWATCH_PROCESS_WATERMARK" not in err
    assert job_args("hashtags", ["--watermark", "10s"]).watermark == 10.0


def test_trigger_from_the_environment_is_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWATCH_PROCESS_TRIGGER", "500ms")
    assert job_args("wordcount").trigger == "500 milliseconds"
    monkeypatch.setenv("STREAMWATCH_PROCESS_TRIGGER", "available-now")
    assert job_args("wordcount").trigger == "available-now"


def test_a_bad_spark_conf_names_flag_and_variable() -> None:
    with pytest.raises(SettingsError) as err:
        job_args("wordcount", ["--spark-conf", "spark.a=1,oops"])
    assert "'oops' is not KEY=VALUE" in str(err.value)
    assert "--spark-conf (env STREAMWATCH_PROCESS_SPARK_CONF)" in str(err.value)
    assert job_args("wordcount", ["--spark-conf", " a = 1 ,b=2"]).spark_conf_items == {
        "a": "1", "b": "2"}


def test_process_refuses_a_bad_variable_before_spark(monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STREAMWATCH_PROCESS_BUCKETS", "9999")
    assert top.main(["process", "fraud"]) == 2
    err = capsys.readouterr().err
    assert "STREAMWATCH_PROCESS_BUCKETS='9999' is not valid for --buckets" in err


def test_the_hashtags_state_stores_are_the_choices() -> None:
    from streamwatch.processor.hashtags.job import STATE_STORES

    assert sorted(STATE_STORES) == sorted(STATE_STORE_NAMES)
