"""The feed data source against a small in-test server speaking the feed HTTP API.

The server serves ``/v1/feeds/{feed}/offsets`` and ``/records`` exactly as
ARCHITECTURE.md says (latest exclusive, at most ``cap`` records per answer,
``X-Streamwatch-End``, 410 below earliest) and can pretend to be down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from werkzeug.wrappers import Request, Response

from streamwatch.core.http import Server
from streamwatch.feed.client import FeedUnavailable, Offsets
from streamwatch.processor.io.feed_source import FeedOptions, split_range
from tests.procs import free_port


class FakeFeed:
    """Feed ``tweets`` in memory; ``down`` answers 503, ``earliest`` emulates retention."""

    def __init__(self, cap: int = 700) -> None:
        self.records: list[bytes] = []
        self.earliest = 0
        self.cap = cap
        self.down = False
        self.range_requests = 0
        self.lock = threading.Lock()

    def append(self, n: int) -> None:
        with self.lock:
            base = len(self.records)
            self.records += [orjson.dumps({"id": str(base + i), "n": base + i}) for i in range(n)]

    def __call__(self, environ: dict, start_response: object) -> Iterator[bytes]:
        req = Request(environ)
        if self.down:
            resp = Response(b'{"error": "down"}', 503)
        elif req.path == "/v1/feeds/tweets/offsets":
            resp = Response(orjson.dumps({"earliest": self.earliest,
                                          "latest": len(self.records)}))
        elif req.path == "/v1/feeds/tweets/records":
            self.range_requests += 1
            start, end = int(req.args["start"]), int(req.args["end"])
            if start < self.earliest:
                resp = Response(orjson.dumps({"error": "gone", "earliest": self.earliest}), 410)
            else:
                stop = max(start, min(end, len(self.records), start + self.cap))
                body = b"".join(r + b"\n" for r in self.records[start:stop])
                resp = Response(body, headers={"X-Streamwatch-End": str(stop)})
        else:
            resp = Response(b"{}", 404)
        return resp(environ, start_response)


@pytest.fixture
def feed() -> Iterator[tuple[FakeFeed, str]]:
    fake = FakeFeed()
    server = Server(fake, "127.0.0.1", 0).start()
    try:
        yield fake, f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()


def _query(spark, url: str, checkpoint: Path, sink: list, trigger: dict, **options: str):
    from streamwatch.processor.io import feed_source

    feed_source.register(spark)
    df = (spark.readStream.format("streamwatch_feed").option("url", url)
          .option("feed", "tweets").options(**options).load())

    def collect(batch, batch_id: int) -> None:
        rows = batch.collect()
        sink.append({"batch_id": batch_id, "partitions": batch.rdd.getNumPartitions(),
                     "rows": [(r["offset"], r["value"]) for r in rows]})

    return (df.writeStream.foreachBatch(collect).trigger(**trigger)
            .option("checkpointLocation", str(checkpoint)).start())


def test_split_range_is_contiguous_and_bounded() -> None:
    parts = split_range(10, 10_010, num_partitions=4, min_records=1000)
    assert [(p.start, p.end) for p in parts] == [
        (10, 2510), (2510, 5010), (5010, 7510), (7510, 10_010)]
    assert [(p.start, p.end) for p in split_range(0, 1500, 4, 1000)] == [(0, 1500)]
    assert split_range(5, 5, 4, 1000) == []


def test_options_reject_bad_values_with_an_example() -> None:
    with pytest.raises(ValueError, match="url"):
        FeedOptions.parse({"feed": "tweets"})
    with pytest.raises(ValueError, match="maxRecordsPerTrigger"):
        FeedOptions.parse({"url": "http://x:1", "feed": "t", "maxRecordsPerTrigger": "many"})


def test_offsets_wait_for_a_feed_that_starts_late() -> None:
    port = free_port()
    fake = FakeFeed()
    fake.append(3)
    holder: dict[str, Server] = {}
    timer = threading.Timer(1.0, lambda: holder.setdefault(
        "s", Server(fake, "127.0.0.1", port).start()))
    timer.start()
    try:
        opts = FeedOptions(url=f"http://127.0.0.1:{port}", feed="tweets", retry_seconds=30)
        assert opts.offsets() == Offsets(0, 3)
    finally:
        timer.join()
        if "s" in holder:
            holder["s"].stop()
    gone = FeedOptions(url=f"http://127.0.0.1:{free_port()}", feed="tweets", retry_seconds=0.5)
    with pytest.raises(FeedUnavailable, match=r"did not answer.*retrySeconds"):
        gone.offsets()


@pytest.mark.spark
@pytest.mark.slow
def test_reads_exactly_with_limits_partitions_and_restart(spark, feed, tmp_path) -> None:
    fake, url = feed
    fake.append(9_000)
    batches: list[dict] = []
    opts = {"maxRecordsPerTrigger": "4000", "numPartitions": "3", "minPartitionRecords": "500"}
    q = _query(spark, url, tmp_path / "ck", batches, {"processingTime": "0 seconds"}, **opts)
    try:
        q.processAllAvailable()
    finally:
        q.stop()
    rows = [r for b in batches for r in b["rows"]]
    assert [o for o, _ in rows] == list(range(9_000))
    assert [v.encode() for _, v in rows] == fake.records
    assert all(len(b["rows"]) <= 4000 for b in batches)
    assert max(b["partitions"] for b in batches) == 3
    # More records arrive; the same checkpoint continues without gap or duplicate.
    fake.append(1_500)
    more: list[dict] = []
    q = _query(spark, url, tmp_path / "ck", more, {"availableNow": True}, **opts)
    try:
        q.awaitTermination(120)
    finally:
        q.stop()
    assert [o for b in more for o, _ in b["rows"]] == list(range(9_000, 10_500))


@pytest.mark.spark
@pytest.mark.slow
def test_feed_down_waits_then_recovers_and_retention_fails_clearly(spark, feed, tmp_path) -> None:
    from pyspark.errors import StreamingQueryException

    fake, url = feed
    fake.append(2_000)
    fake.down = True
    got: list[dict] = []
    q = _query(spark, url, tmp_path / "ck", got, {"availableNow": True}, retrySeconds="60")
    try:
        time.sleep(2.0)
        assert q.isActive and q.exception() is None
        fake.down = False
        q.awaitTermination(120)
        assert q.exception() is None
    finally:
        q.stop()
    assert [o for b in got for o, _ in b["rows"]] == list(range(2_000))
    # Retention drops what the checkpoint has not read yet: fail, saying why.
    fake.append(1_000)
    fake.earliest = 2_500
    q = _query(spark, url, tmp_path / "ck", [], {"availableNow": True})
    try:
        with pytest.raises(StreamingQueryException, match="fell out of retention"):
            q.awaitTermination(120)
    finally:
        q.stop()
