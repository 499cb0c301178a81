"""``streamwatch eval`` reading its labels from the real feed server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streamwatch.core.http import Server
from streamwatch.feed.log import FeedLog
from streamwatch.feed.server import FeedAppConfig, FeedMetrics, create_app
from streamwatch.quality.eval_cli import InputError, read_jsonl
from tests.procs import free_port

LABELS = [{"txn_id": f"t-{i}", "is_fraud": i % 7 == 0} for i in range(95)]


@pytest.fixture
def labels_url(tmp_path: Path) -> Iterator[str]:
    log = FeedLog.open(tmp_path, "labels", fsync="never")
    log.append_many([orjson.dumps(label) for label in LABELS])
    registry = CollectorRegistry()
    metrics = FeedMetrics(registry)
    metrics.watch({"labels": log})
    # a cap below the feed's size: the labels arrive over several pages
    app = create_app(FeedAppConfig(service="txns", logs={"labels": log}, registry=registry,
                                   metrics=metrics, max_records_per_request=30, ready=True))
    server = Server(app, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()
    log.close()


def test_labels_are_read_from_the_feed_by_long_or_short_url(labels_url: str) -> None:
    assert list(read_jsonl(f"{labels_url}/v1/feeds/labels", "labels")) == LABELS
    assert list(read_jsonl(f"{labels_url}/labels", "labels")) == LABELS


def test_an_unknown_feed_or_a_silent_host_is_an_input_error(labels_url: str) -> None:
    with pytest.raises(InputError, match=r"--labels .*/alerts: cannot read the feed .*404"):
        list(read_jsonl(f"{labels_url}/alerts", "labels"))
    with pytest.raises(InputError, match=r"did not answer.*is the simulator running"):
        list(read_jsonl(f"http://127.0.0.1:{free_port()}/labels", "labels"))
