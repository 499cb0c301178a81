"""Fixtures shared by every test layer.

``spark`` is one SparkSession for the whole test session (startup costs ~12 s).
Helpers to start real service processes on 127.0.0.1 live in ``tests/procs.py``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
# Test inputs are small: two shuffle partitions (one per core) halve the tasks per batch,
# in this process and in every job process a test starts.
os.environ.setdefault("STREAMWATCH_SHUFFLE_PARTITIONS", "2")
# Every service a test starts requires the ingest token on writes, and the processor
# sends it from its environment: bench.common puts one there for the whole session.
import bench.common  # noqa: F401


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    from streamwatch.core.java import JavaNotFound
    from streamwatch.processor.io.kafka import connector_jars
    from streamwatch.processor.session import build_session

    # Jars go on the classpath at start-up only: with the connector fetched (make kafka),
    # the one session serves the Kafka tests too.
    jars = connector_jars()
    try:
        session = build_session("local[2]", "streamwatch-tests",
                                {"spark.jars": ",".join(jars)} if jars else None)
    except JavaNotFound as exc:
        pytest.skip(f"no suitable Java: {exc}")
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _stop_leftover_queries(request: pytest.FixtureRequest) -> Iterator[None]:
    """A query a test leaves running would keep using the shared session's cores."""
    yield
    if "spark" in request.fixturenames:
        session = request.getfixturevalue("spark")
        for query in session.streams.active:
            query.stop()
