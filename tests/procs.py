"""Start real service processes on 127.0.0.1 for integration tests.

The process wrapper is the benchmarks' own ``Service``; tests differ only in
leaving the environment as it is (some read Spark's WARN lines, which the
benchmarks silence).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from bench.common import INGEST_TOKEN, Service, ingest_headers
from bench.ports import free_port

__all__ = ["INGEST_TOKEN", "ServiceProcess", "free_port", "ingest_headers"]


class ServiceProcess(Service):
    """``streamwatch <args>`` as a child process in its own session, output in a file."""

    def child_env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return {**os.environ, **(extra or {})}

    def log(self) -> str:
        return self.tail(5000)
