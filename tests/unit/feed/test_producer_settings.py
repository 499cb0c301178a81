"""The settings every producer shares: defaults, per-producer env twins, help text."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from streamwatch.core.settings import SettingsError
from streamwatch.feed.settings import ProducerSettings
from streamwatch.producers.orders.settings import OrdersSettings
from streamwatch.producers.tweets.settings import TweetsSettings
from streamwatch.producers.txns.settings import TxnsSettings

PRODUCERS: list[type[ProducerSettings]] = [TweetsSettings, TxnsSettings, OrdersSettings]
SHARED = ("host", "http-port", "socket-port", "data-dir", "fsync", "fsync-interval",
          "segment-bytes", "retention-bytes", "retention-age", "max-records-per-request",
          "socket-buffer", "log-level", "new-world", "kafka", "kafka-topic-prefix",
          "kafka-properties")


def parse(cls: type[ProducerSettings], argv: list[str], environ: dict[str, str] | None = None,
          warnings: list[str] | None = None) -> ProducerSettings:
    parser = argparse.ArgumentParser()
    cls.add_arguments(parser)
    sink = warnings if warnings is not None else []
    return cls.from_args(parser.parse_args(argv), environ or {}, sink.append)


@pytest.mark.parametrize(("cls", "ports"), [(TweetsSettings, (7101, 7201)),
                                            (TxnsSettings, (7102, 7202)),
                                            (OrdersSettings, (7105, 7205))])
def test_defaults_match_the_documented_ones(cls: type[ProducerSettings],
                                            ports: tuple[int, int]) -> None:
    s = parse(cls, [])
    assert (s.host, s.http_port, s.socket_port) == ("127.0.0.1", *ports)
    assert s.data_dir == Path("./.streamwatch")
    assert (s.fsync, s.fsync_interval) == ("interval", 0.1)
    assert s.segment_bytes == 64 << 20
    assert (s.max_records_per_request, s.socket_buffer) == (10_000, 10_000)
    assert (s.kafka, s.kafka_properties, s.new_world) == (None, None, False)


def test_each_producer_reads_its_own_variables_and_flags_win() -> None:
    environ = {"STREAMWATCH_TXNS_FSYNC": "always", "STREAMWATCH_TXNS_SEGMENT_BYTES": "1MiB",
               "STREAMWATCH_TXNS_RETENTION_AGE": "2h", "STREAMWATCH_TWEETS_HTTP_PORT": "9101",
               "STREAMWATCH_ORDERS_KAFKA": "kafka:9092"}
    txns = parse(TxnsSettings, ["--segment-bytes", "4096"], environ)
    assert (txns.fsync, txns.segment_bytes, txns.retention_age) == ("always", 4096, 7200.0)
    assert (txns.http_port, txns.kafka) == (7102, None)
    assert parse(TweetsSettings, [], environ).http_port == 9101
    assert parse(OrdersSettings, [], environ).kafka == "kafka:9092"


def test_the_flat_names_still_apply_with_a_warning_naming_the_new_one() -> None:
    warnings: list[str] = []
    s = parse(OrdersSettings, [], {"STREAMWATCH_KAFKA": "kafka:9092",
                                   "STREAMWATCH_DUPLICATE_RATE": "0.01"}, warnings)
    assert s.kafka == "kafka:9092"
    assert len(warnings) == 2
    assert any("rename it to STREAMWATCH_ORDERS_KAFKA" in w for w in warnings)
    assert any("rename it to STREAMWATCH_ORDERS_DUPLICATE_RATE" in w for w in warnings)


def test_an_empty_kafka_variable_means_no_kafka() -> None:
    assert parse(TxnsSettings, [], {"STREAMWATCH_TXNS_KAFKA": ""}).kafka is None


def test_a_bad_env_value_names_the_variable_and_the_flag() -> None:
    with pytest.raises(SettingsError, match=r"STREAMWATCH_TXNS_FSYNC='sometimes' .* --fsync"):
        parse(TxnsSettings, [], {"STREAMWATCH_TXNS_FSYNC": "sometimes"})


@pytest.mark.parametrize("cls", PRODUCERS)
def test_every_shared_flag_names_its_producers_twin_in_help(cls: type[ProducerSettings]
                                                            ) -> None:
    parser = argparse.ArgumentParser()
    cls.add_arguments(parser)
    text = " ".join(parser.format_help().split())
    for flag in SHARED:
        assert f"--{flag}" in text
        assert f"STREAMWATCH_{cls.service}_" + flag.replace("-", "_").upper() in text
