"""Publish a producer's feeds to Kafka topics, each record exactly once.

Key concepts:
- The feed log stays the producer's durable buffer: a record is appended there
  first, then copied to its topic (``<prefix><feed>``) by this publisher's thread.
  A broker that is down delays the copy; it never blocks or loses what the
  producer makes.
- Exactly once: each copy of a chunk of records is one Kafka transaction that
  also writes the feeds' next offsets to the producer's offsets topic
  (``<prefix>_streamwatch-offsets-<producer>``, one partition, compacted). A
  restarted producer reads the last committed offsets and continues there; a
  chunk whose transaction did not commit is aborted and invisible to consumers
  that read ``read_committed`` (the jobs' Kafka source does by default). The
  transactional id is fixed per producer, so a second instance fences the first.
- Each record is keyed by its natural key (a card's transactions stay in order
  in one partition) and carries its feed offset in the header ``sw-offset``.

Usage (what ``run_producer`` does with ``--kafka``)::

    publisher = KafkaPublisher("txn-simulator", logs, bootstrap="127.0.0.1:9092")
    threading.Thread(target=publisher.run, args=(stop,)).start()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

    from streamwatch.feed.log import FeedLog

log = logging.getLogger(__name__)

# The natural key of each feed's records: what must stay in order (one card, one order).
KEYS: dict[str, str] = {"transactions": "card_id", "labels": "txn_id", "orders": "order_id",
                        "tweets": "id"}
OFFSET_HEADER = "sw-offset"


def offsets_topic(prefix: str, producer: str) -> str:
    return f"{prefix}_streamwatch-offsets-{producer}"


def key_of(feed: str) -> Callable[[bytes], bytes | None]:
    field = KEYS.get(feed)

    def key(record: bytes) -> bytes | None:
        if field is None:
            return None
        try:
            value = orjson.loads(record).get(field)
        except (orjson.JSONDecodeError, AttributeError):
            return None  # a malformed record still goes out: the job counts and skips it
        return None if value is None else str(value).encode()

    return key


class KafkaPublisher:
    """Copies every record of ``logs`` to Kafka in transactions; see the module docstring."""

    def __init__(self, producer: str, logs: Mapping[str, FeedLog], *, bootstrap: str,
                 topic_prefix: str = "", client_config: Mapping[str, str] | None = None,
                 chunk_records: int = 5000, poll_interval: float = 0.05,
                 registry: CollectorRegistry | None = None) -> None:
        self.producer_name = producer
        self.logs = dict(logs)
        self.bootstrap = bootstrap
        self.prefix = topic_prefix
        self.client_config = dict(client_config or {})
        self.chunk_records = chunk_records
        self.poll_interval = poll_interval
        self.next_offsets: dict[str, int] = {}
        self.ready = threading.Event()
        self._metrics = _Metrics(registry) if registry is not None else None

    # ------------------------------------------------------------------ setup
    def _config(self, **extra: Any) -> dict[str, Any]:
        return {**self.client_config, "bootstrap.servers": self.bootstrap, **extra}

    def _ensure_topics(self) -> None:
        from confluent_kafka import KafkaError, KafkaException
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient(self._config(), logger=log)
        wanted = [NewTopic(offsets_topic(self.prefix, self.producer_name), num_partitions=1,
                           replication_factor=-1, config={"cleanup.policy": "compact"})]
        wanted += [NewTopic(self.prefix + feed, num_partitions=-1, replication_factor=-1)
                   for feed in self.logs]
        for future in admin.create_topics(wanted, request_timeout=30).values():
            try:
                future.result(timeout=60)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise

    def _committed_offsets(self) -> dict[str, int]:
        """The feeds' next offsets of the last committed transaction (0 for none)."""
        from confluent_kafka import Consumer, TopicPartition

        topic = offsets_topic(self.prefix, self.producer_name)
        consumer = Consumer(self._config(**{
            "group.id": f"_streamwatch-offsets-reader-{self.producer_name}",
            "isolation.level": "read_committed", "enable.auto.commit": False}), logger=log)
        try:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
            # the last data record sits before at most one commit or abort marker; a
            # few more cover markers of aborted attempts
            start = max(low, high - 20)
            consumer.assign([TopicPartition(topic, 0, start)])
            last: dict[str, int] = {}
            position = start
            while position < high:
                # the first record may take a fetch round trip; after it only markers remain
                msg = consumer.poll(10.0 if position == start else 1.0)
                if msg is None:
                    # read_committed stops at the last stable offset, before any open
                    # transaction's records; nothing more will arrive
                    break
                if msg.error():
                    raise RuntimeError(f"reading {topic}: {msg.error()}")
                offset, value = msg.offset(), msg.value()
                if offset is None or value is None:
                    raise RuntimeError(f"reading {topic}: a record without offset or value")
                position = offset + 1
                last = {str(k): int(v) for k, v in orjson.loads(value).items()}
            return {feed: last.get(feed, 0) for feed in self.logs}
        finally:
            consumer.close()

    # ------------------------------------------------------------------- run
    def run(self, stop: threading.Event) -> None:
        """Copy records until ``stop`` is set; a broker that is down is waited for."""
        from confluent_kafka import KafkaException, Producer

        backoff = 0.5
        while not stop.is_set():
            try:
                self._ensure_topics()
                producer = Producer(self._config(**{
                    "transactional.id": f"streamwatch-{self.producer_name}",
                    "enable.idempotence": True, "acks": "all", "linger.ms": 10,
                    "compression.type": "lz4"}), logger=log)
                producer.init_transactions(60)  # aborts a transaction a crash left open
                self.next_offsets = self._committed_offsets()
                log.info("publishing to Kafka", extra={
                    "bootstrap": self.bootstrap, "from_offsets": self.next_offsets})
                self.ready.set()
                self._copy_until(stop, producer)
                producer.flush(10)
                return
            except (KafkaException, RuntimeError) as exc:
                if self._metrics is not None:
                    self._metrics.errors.inc()
                log.warning("Kafka unavailable; retrying", extra={
                    "bootstrap": self.bootstrap, "error": str(exc)[:500], "in_s": backoff})
                stop.wait(backoff)
                backoff = min(30.0, backoff * 2)

    def _copy_until(self, stop: threading.Event, producer: Any) -> None:
        keys = {feed: key_of(feed) for feed in self.logs}
        while not stop.is_set():
            chunk = self._next_chunk()
            if not chunk:
                stop.wait(self.poll_interval)
                continue
            producer.begin_transaction()
            after = dict(self.next_offsets)
            for feed, (start, records) in chunk.items():
                topic, key = self.prefix + feed, keys[feed]
                for i, record in enumerate(records):
                    self._produce(producer, topic, record, key(record),
                                  [(OFFSET_HEADER, str(start + i).encode())])
                after[feed] = start + len(records)
            self._produce(producer, offsets_topic(self.prefix, self.producer_name),
                          orjson.dumps(after), self.producer_name.encode(), None)
            producer.commit_transaction(60)  # raises; run() aborts by re-initialising
            self.next_offsets = after
            if self._metrics is not None:
                for feed, (_start, records) in chunk.items():
                    self._metrics.published.labels(feed).inc(len(records))

    def _next_chunk(self) -> dict[str, tuple[int, list[bytes]]]:
        chunk: dict[str, tuple[int, list[bytes]]] = {}
        for feed, feed_log in self.logs.items():
            start = self.next_offsets.get(feed, 0)
            if start < feed_log.earliest:
                # retention deleted records before they were copied (Kafka was down longer
                # than the log keeps them): say so loudly and go on from what is left
                log.error("feed records lost before reaching Kafka", extra={
                    "feed": feed, "from": start, "to": feed_log.earliest})
                if self._metrics is not None:
                    self._metrics.lost.labels(feed).inc(feed_log.earliest - start)
                start = feed_log.earliest
                self.next_offsets[feed] = start
            if self._metrics is not None:
                self._metrics.lag.labels(feed).set(feed_log.latest - start)
            records = feed_log.read(start, max_records=self.chunk_records)
            if records:
                chunk[feed] = (start, records)
        return chunk

    @staticmethod
    def _produce(producer: Any, topic: str, value: bytes, key: bytes | None,
                 headers: list[tuple[str, bytes]] | None) -> None:
        while True:
            try:
                producer.produce(topic, value=value, key=key, headers=headers)
                return
            except BufferError:  # the local queue is full: let deliveries drain it
                producer.poll(0.1)


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        from prometheus_client import Counter, Gauge

        self.published = Counter("streamwatch_kafka_published_records",
                                 "Feed records committed to their Kafka topic", ["feed"],
                                 registry=registry)
        self.lag = Gauge("streamwatch_kafka_publish_lag_records",
                         "Feed records not yet committed to Kafka", ["feed"],
                         registry=registry)
        self.lost = Counter("streamwatch_kafka_lost_records",
                            "Feed records deleted by retention before reaching Kafka",
                            ["feed"], registry=registry)
        self.errors = Counter("streamwatch_kafka_publish_errors",
                              "Failed attempts to reach Kafka or commit a transaction",
                              registry=registry)
