"""Session defaults that need no JVM: shuffle partitions per master."""

from __future__ import annotations

import os

import pytest

from streamwatch.processor.session import (
    CLUSTER_SHUFFLE_PARTITIONS,
    default_shuffle_partitions,
    java_minimum,
)


@pytest.mark.parametrize(("master", "partitions"), [
    ("local", 1),
    ("local[2]", 2),
    ("local[3,4]", 3),  # [cores, max task failures]
    ("local[*]", os.cpu_count() or 1),
    ("local[*,2]", os.cpu_count() or 1),
    ("local-cluster[2,1,1024]", 2),
    ("local-cluster[3, 2, 512]", 6),
    ("spark://127.0.0.1:7077", CLUSTER_SHUFFLE_PARTITIONS),
    ("k8s://https://kubernetes.default.svc", CLUSTER_SHUFFLE_PARTITIONS),
])
def test_one_shuffle_partition_per_local_core(master: str, partitions: int) -> None:
    assert default_shuffle_partitions(master) == partitions


def test_cluster_executors_need_java_25() -> None:
    assert java_minimum("local[2]") == 17
    assert java_minimum("local-cluster[2,1,1024]") == 25
    assert java_minimum("spark://h:7077") == 25
