"""Every job end to end through a real Kafka broker (KRaft, one node on 127.0.0.1).

The events are written to a topic with a producer that waits for the broker's
acknowledgement; each job reads the topic through Spark's connector with
``--trigger available-now`` and is compared with the reference its own tests use
for the same events (the detector in one pass, exact counts in plain Python).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests

from bench.kafka_broker import KafkaBroker, available

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, spark: Any) -> Iterator[KafkaBroker]:
    reason = available()
    if reason:
        pytest.skip(reason)
    if "spark-sql-kafka" not in str(spark.conf.get("spark.jars", "")):
        pytest.skip("the test SparkSession has no Kafka connector; run `make kafka`")
    b = KafkaBroker(tmp_path_factory.mktemp("kafka"))
    b.start()
    yield b
    b.stop()


def run(spark: Any, job: str, argv: list[str]) -> list[Any]:
    import importlib

    from streamwatch.processor.cli import JOBS, job_args

    module = importlib.import_module(JOBS[job][0])
    before = {q.id for q in spark.streams.active}
    queries = module.start(spark, job_args(job, [*argv, "--trigger", "available-now"]))
    mine = [q for q in spark.streams.active if q.id not in before]
    try:
        for q in {q.id: q for q in [*queries, *mine]}.values():
            q.awaitTermination(300)
            assert q.exception() is None, q.exception()
    finally:
        for q in spark.streams.active:
            q.stop()
    return queries


def rows(directory: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for p in sorted(directory.glob("*.jsonl"))
            for line in p.read_bytes().splitlines()]


def test_fraud_alerts_from_a_topic_equal_the_detector_in_one_pass(
        spark: Any, broker: KafkaBroker, tmp_path: Path) -> None:
    from streamwatch.producers.txns.config import SimConfig
    from streamwatch.producers.txns.simulator import TxnGenerator
    from tests.integration.test_recovery_fraud_driver import reference_ids

    txns, _labels = TxnGenerator(SimConfig(seed=5, rate=200)).take(15_000)
    broker.create_topic("transactions", partitions=3)
    # keyed by card, as a bank's topic would be: one card's transactions stay in order
    broker.produce("transactions", txns, key_of=lambda line: orjson.loads(line)["card_id"])
    out = tmp_path / "alerts"
    run(spark, "fraud", ["--source", f"kafka:{broker.bootstrap}/transactions",
                         "--sink", f"jsonl:{out}", "--checkpoint", str(tmp_path / "ck"),
                         "--max-records-per-trigger", "4000", "--buckets", "4"])
    got = [a["alert_id"] for a in rows(out)]
    expected = reference_ids([orjson.loads(t) for t in txns])
    assert len(expected) > 10
    assert len(got) == len(set(got))
    assert set(got) == expected


def test_fraud_over_a_producers_transactions_reads_each_record_once(
        spark: Any, broker: KafkaBroker, tmp_path: Path) -> None:
    """``streamwatch txns --kafka`` killed mid-publish leaves an aborted transaction in the
    topic; the job reads committed records only: exactly the feed's, alerts as the detector
    gives over them."""
    from bench.common import Service
    from bench.ports import free_port
    from streamwatch.feed.client import FeedClient
    from tests.integration.test_recovery_fraud_driver import reference_ids

    n, port = 12_000, free_port()
    feed = f"http://127.0.0.1:{port}"

    def producer(name: str) -> Service:
        return Service(["txns", "--seed", "9", "--rate", "4000", "--max-events", str(n),
                        "--http-port", str(port), "--socket-port", str(free_port()),
                        "--data-dir", str(tmp_path / "sim"), "--kafka", broker.bootstrap,
                        "--kafka-topic-prefix", "p."], tmp_path / f"{name}.log").start()

    first = producer("first")
    try:
        first.wait_http(f"{feed}/readyz")
        with FeedClient(feed, "transactions") as client:
            while client.end_offset() < n // 3:
                time.sleep(0.1)
        first.kill9()
        second = producer("second")
        try:
            second.wait_http(f"{feed}/readyz")
            deadline = time.monotonic() + 120
            # every record in the feed, none left to copy (a restarted producer's counter of
            # published records starts at 0, its lag does not)
            lag = 'streamwatch_kafka_publish_lag_records{feed="transactions"} 0.0'
            with FeedClient(feed, "transactions") as client:
                while client.end_offset() < n or lag not in \
                        requests.get(f"{feed}/metrics", timeout=5).text:
                    assert time.monotonic() < deadline, second.tail()
                    time.sleep(0.5)
                records = [doc for _, doc in client.objects(0, n)]
        finally:
            second.stop()
    finally:
        first.stop()
    out = tmp_path / "alerts"
    queries = run(spark, "fraud", ["--source", f"kafka:{broker.bootstrap}/p.transactions",
                                   "--sink", f"jsonl:{out}", "--checkpoint", str(tmp_path / "ck"),
                                   "--buckets", "4"])
    read = sum(json.loads(p.json)["numInputRows"] for q in queries for p in q.recentProgress)
    assert read == n, "an aborted or repeated record reached the job"
    got = [a["alert_id"] for a in rows(out)]
    assert len(got) == len(set(got))
    assert set(got) == reference_ids(records)


def test_orders_from_a_topic_equal_the_exact_count(
        spark: Any, broker: KafkaBroker, tmp_path: Path) -> None:
    from streamwatch.producers.orders.simulator import OrderConfig, OrderGenerator
    from tests.integration.test_orders_job import ANCHOR_MS, WATERMARK_S, reference, totals

    config = OrderConfig(seed=21, rate=15, anchor_ms=ANCHOR_MS, time_scale=14_400,
                         duplicate_rate=0.05, duplicate_delay_s=15, disorder_s=4,
                         late_fraction=0.03, late_by_s=80)
    lines = OrderGenerator(config).take(9000)
    # one partition and a fixed batch size give the batches the reference assumes
    broker.create_topic("orders", partitions=1)
    broker.produce("orders", lines)
    out = tmp_path / "out"
    run(spark, "orders", ["--source", f"kafka:{broker.bootstrap}/orders",
                          "--sink", f"jsonl:{out}", "--checkpoint", str(tmp_path / "ck"),
                          "--max-records-per-trigger", "1000", "--watermark", f"{WATERMARK_S}s"])
    events = [orjson.loads(x) for x in lines]
    expected, late = reference([events[i:i + 1000] for i in range(0, len(events), 1000)])
    assert late > 0 and len(expected) >= 10
    assert totals(rows(out)) == expected


def test_hashtags_from_a_topic_equal_the_exact_count(
        spark: Any, broker: KafkaBroker, tmp_path: Path) -> None:
    from tests.integration import test_processor_hashtags as h

    tweets = h.make_input(tmp_path / "tweets.jsonl")
    broker.create_topic("tweets", partitions=2)
    broker.produce("tweets", (tmp_path / "tweets.jsonl").read_bytes().splitlines())
    out = tmp_path / "out"
    run(spark, "hashtags", [
        "--source", f"kafka:{broker.bootstrap}/tweets", "--sink", f"jsonl:{out}",
        "--checkpoint", str(tmp_path / "ck"), "--window", f"{h.WINDOW}s",
        "--slide", f"{h.SLIDE}s", "--watermark", f"{h.WATERMARK}s", "--top", str(h.TOP)])
    got = {(r["window_start"], r["hashtag"]): (r["count"], r["rank"]) for r in rows(out)}
    want = h.reference(tweets)
    assert got == {k: v[:2] for k, v in want.items()}


def test_wordcount_from_a_topic_counts_every_word(
        spark: Any, broker: KafkaBroker, tmp_path: Path) -> None:
    lines = [b"Spark streaming spark", b"streaming  SPARK", b"plain words plain"] * 50
    broker.create_topic("lines", partitions=2)
    broker.produce("lines", lines)
    out = tmp_path / "out"
    run(spark, "wordcount", ["--source", f"kafka:{broker.bootstrap}/lines",
                             "--sink", f"jsonl:{out}", "--checkpoint", str(tmp_path / "ck")])
    latest: dict[str, int] = {}
    for r in rows(out):  # complete mode: each batch rewrites every count
        latest[r["word"]] = r["count"]
    expected = Counter(w.lower() for line in lines for w in line.decode().split())
    assert latest == dict(expected)
