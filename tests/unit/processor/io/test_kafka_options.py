"""The ``kafka:`` source spec, its options and where the connector comes from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from streamwatch.core.kafka import read_properties
from streamwatch.processor.cli import job_args
from streamwatch.processor.io.kafka import (
    KafkaConfigError,
    client_properties,
    connector_jars,
    merge_conf,
    parse_kafka,
    source_options,
)
from streamwatch.processor.io.sources import SourceSpecError, parse_source
from streamwatch.processor.jobs import source_options as job_source_options


@pytest.mark.parametrize(("spec", "bootstrap", "topic"), [
    ("kafka:127.0.0.1:9092/transactions", "127.0.0.1:9092", "transactions"),
    ("kafka:b1:9092, b2.example:9093/orders.v1", "b1:9092,b2.example:9093", "orders.v1"),
    ("kafka:[::1]:9092/t_1", "[::1]:9092", "t_1"),
])
def test_a_kafka_spec_names_servers_and_topic(spec: str, bootstrap: str, topic: str) -> None:
    src = parse_source(spec)
    assert (src.kind, src.bootstrap, src.topic) == ("kafka", bootstrap, topic)
    assert parse_source(str(src)) == src


@pytest.mark.parametrize(("spec", "says"), [
    ("kafka:127.0.0.1/transactions", "HOST:PORT"),
    ("kafka:127.0.0.1:9092", "no /TOPIC"),
    ("kafka:127.0.0.1:9092/", "topic name"),
    ("kafka:127.0.0.1:9092/a b", "topic name"),
    ("kafka:127.0.0.1:99999/t", "outside 1..65535"),
    ("kafka:127.0.0.1:9092/..", "topic name"),
])
def test_a_bad_kafka_spec_says_what_a_good_one_is(spec: str, says: str) -> None:
    with pytest.raises(SourceSpecError) as err:
        parse_source(spec)
    assert says in str(err.value)
    assert "e.g. kafka:" in str(err.value) or "outside" in str(err.value)


def test_properties_file_becomes_client_settings(tmp_path: Path) -> None:
    f = tmp_path / "client.properties"
    f.write_text(
        "# TLS and SASL for the bank's cluster\n"
        "security.protocol=SASL_SSL\n"
        "sasl.mechanism : SCRAM-SHA-512\n"
        "\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \\\n"
        "    username=\"sw\" password=\"p=w\";\n"
        "kafka.ssl.truststore.location=/etc/ssl/ts.jks\n")
    assert client_properties(f) == {
        "kafka.security.protocol": "SASL_SSL",
        "kafka.sasl.mechanism": "SCRAM-SHA-512",
        "kafka.sasl.jaas.config": 'org.apache.kafka.common.security.scram.ScramLoginModule '
                                  'required username="sw" password="p=w";',
        "kafka.ssl.truststore.location": "/etc/ssl/ts.jks",
    }
    # the producers' publisher takes the same file without the Spark prefix
    assert read_properties(f)["security.protocol"] == "SASL_SSL"


def test_a_bad_properties_file_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "bad.properties"
    f.write_text("security.protocol=SSL\njust words\n")
    with pytest.raises(KafkaConfigError, match="line 2 is not key=value"):
        read_properties(f)
    with pytest.raises(KafkaConfigError, match="cannot read it"):
        read_properties(tmp_path / "missing.properties")


def test_flags_win_over_the_file_and_the_spec_wins_over_both(tmp_path: Path) -> None:
    spec = parse_kafka("127.0.0.1:9092/tx")
    f = tmp_path / "c.properties"
    f.write_text("security.protocol=SSL\nclient.id=from-file\n")
    opts = source_options(spec, properties_file=str(f), max_records_per_trigger=500,
                          options=["kafka.client.id=from-flag", "startingOffsets=latest"])
    assert opts == {
        "startingOffsets": "latest", "maxOffsetsPerTrigger": "500",
        "kafka.isolation.level": "read_committed",
        "kafka.security.protocol": "SSL", "kafka.client.id": "from-flag",
        "kafka.bootstrap.servers": "127.0.0.1:9092", "subscribe": "tx",
    }
    with pytest.raises(KafkaConfigError, match="set by the spec"):
        source_options(spec, options=["subscribe=other"])
    f.write_text("bootstrap.servers=elsewhere:9092\n")
    with pytest.raises(KafkaConfigError, match=r"kafka\.bootstrap\.servers is set by the spec"):
        source_options(spec, properties_file=str(f))


@pytest.mark.parametrize(("item", "says"), [
    ("startingOffset=latest", "spelt kafka.startingOffset"),
    ("no-equals", "not KEY=VALUE"),
    ("=x", "not KEY=VALUE"),
])
def test_an_unknown_option_is_refused_with_the_fix(item: str, says: str) -> None:
    with pytest.raises(KafkaConfigError, match=says):
        source_options(parse_kafka("h:1/t"), options=[item])


def test_job_flags_reach_the_kafka_source_and_new_jobs_start_at_the_earliest_offset(
        tmp_path: Path) -> None:
    args = job_args("fraud", ["--source", "kafka:127.0.0.1:9092/tx",
                              "--max-records-per-trigger", "2000",
                              "--kafka-option", "failOnDataLoss=false"])
    assert job_source_options(args) == {
        "startingOffsets": "earliest", "maxOffsetsPerTrigger": "2000",
        "kafka.isolation.level": "read_committed",
        "failOnDataLoss": "false", "kafka.bootstrap.servers": "127.0.0.1:9092",
        "subscribe": "tx"}


def test_connector_jars_from_the_environment(tmp_path: Path) -> None:
    (tmp_path / "a.jar").write_bytes(b"PK")
    (tmp_path / "b.jar").write_bytes(b"PK")
    env = {"STREAMWATCH_KAFKA_JARS": str(tmp_path)}
    assert connector_jars(env) == [str(tmp_path / "a.jar"), str(tmp_path / "b.jar")]
    with pytest.raises(KafkaConfigError, match="make kafka"):
        connector_jars({"STREAMWATCH_KAFKA_JARS": str(tmp_path / "none.jar")})
    assert merge_conf({"spark.jars": "x.jar", "k": "v"}, {"spark.jars": "y.jar"}) == {
        "spark.jars": "x.jar,y.jar", "k": "v"}


def test_the_cli_refuses_a_bad_kafka_option_before_starting_spark(tmp_path: Path) -> None:
    run = subprocess.run(
        [str(Path(sys.executable).parent / "streamwatch"), "process", "fraud",
         "--source", "kafka:127.0.0.1:9092/tx", "--kafka-option", "startingOffset=latest",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "spelt kafka.startingOffset" in run.stderr
    assert "pyspark" not in run.stderr.lower()


def test_help_documents_the_kafka_source() -> None:
    cli = str(Path(sys.executable).parent / "streamwatch")
    run = subprocess.run([cli, "process", "fraud", "--help"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0
    assert "kafka:HOST:PORT" in run.stdout and "--kafka-option" in run.stdout
    assert "--kafka-properties" in run.stdout


# the processor's own variable, and the flat one it read before (still read for a release)
@pytest.mark.parametrize("var", ["STREAMWATCH_PROCESS_KAFKA_OPTION", "STREAMWATCH_KAFKA_OPTION"])
def test_kafka_options_from_the_environment_come_before_the_flags(
        monkeypatch: pytest.MonkeyPatch, var: str) -> None:
    monkeypatch.setenv(var,
                       "startingOffsets=latest\n"
                       'kafka.sasl.jaas.config=x required username="a" password="b;c";\n')
    args = job_args("fraud", ["--source", "kafka:h:9092/tx",
                              "--kafka-option", "startingOffsets=earliest"])
    opts = job_source_options(args)
    assert opts["startingOffsets"] == "earliest"
    assert opts["kafka.sasl.jaas.config"] == 'x required username="a" password="b;c";'
