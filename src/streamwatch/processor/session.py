"""Build the SparkSession every job and test uses.

Sets what PySpark needs on this kind of machine before the JVM starts:
``JAVA_HOME`` (newest JDK >= 17, or >= 25 for ``local-cluster``/standalone,
whose executors of PySpark 4.2 need it), ``PYSPARK_PYTHON`` so that Python
workers run this interpreter (with pandas and pyarrow), and the streaming
metrics settings Prometheus users expect.
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

from streamwatch.core.java import ensure_java_env

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def java_minimum(master: str) -> int:
    return 25 if master.startswith(("local-cluster", "spark://")) else 17


CLUSTER_SHUFFLE_PARTITIONS = 4
_LOCAL = re.compile(r"local(?:\[(\*|\d+)(?:,\d+)?\])?")
_LOCAL_CLUSTER = re.compile(r"local-cluster\[(\d+),\s*(\d+),\s*\d+\]")


def default_shuffle_partitions(master: str) -> int:
    """One shuffle partition per core for a local master; 4 for a cluster.

    Every stateful stage runs one task per partition, and each task pays a
    fixed cost per micro-batch (a state store instance to load and commit, and
    for the fraud job a Python worker round trip). With more partitions than
    cores those costs are paid again on the same cores for no parallelism:
    two partitions instead of four on ``local[2]`` gave the hashtags job
    ~10 % and the fraud job ~12 % more events/s (docs/benchmarks.md). A
    cluster keeps 4; a checkpoint keeps the value it was created with.
    """
    if m := _LOCAL.fullmatch(master):
        cores = m.group(1)
        if cores is None:
            return 1
        if cores == "*":
            return os.cpu_count() or 1
        return max(1, int(cores))
    if m := _LOCAL_CLUSTER.fullmatch(master):
        return max(1, int(m.group(1)) * int(m.group(2)))
    return CLUSTER_SHUFFLE_PARTITIONS


def build_session(
    master: str = "local[*]",
    app_name: str = "streamwatch",
    conf: dict[str, str] | None = None,
) -> SparkSession:
    ensure_java_env(java_minimum(master))
    if master.startswith("local"):
        # Everything of a local run stays on loopback; otherwise Spark binds the driver,
        # executors and UI to the first non-loopback interface it finds.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions",
                os.environ.get("STREAMWATCH_SHUFFLE_PARTITIONS")
                or str(default_shuffle_partitions(master)))
        .config("spark.sql.streaming.metricsEnabled", "true")
        .config("spark.ui.prometheus.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.streaming.stateStore.providerClass",
                "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider")
        # Commit a state changelog per batch instead of uploading a snapshot each time:
        # the commit was ~half of the fraud job's fixed per-batch cost (docs/benchmarks.md).
        .config("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled", "true")
        .config("spark.python.worker.reuse", "true")
        # A Python worker imports pandas, pyarrow and VADER before it connects back; on a
        # loaded 2-core machine that can exceed the 15 s default and fail the query.
        .config("spark.python.authenticate.socketTimeout", "120s")
        .config("spark.driver.extraJavaOptions", "-Dio.netty.tryReflectionSetAccessible=true")
    )
    for key, value in (conf or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel(os.environ.get("STREAMWATCH_SPARK_LOG_LEVEL", "WARN"))
    return spark
