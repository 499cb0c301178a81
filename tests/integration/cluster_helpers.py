"""Helpers for recovery tests in ``local-cluster``: process trees, checkpoints, feeds, alerts.

Process lookups read ``/proc`` (Linux only) and only ever consider the
descendants of a process the test started, so JVMs of other jobs running on
the same machine are never touched.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import requests

from streamwatch.feed.client import FeedClient

EXECUTOR_MAIN = "org.apache.spark.executor.CoarseGrainedExecutorBackend"

# (pid, start time in clock ticks): a pid that was reused by an unrelated process
# has another start time, so it is never signalled by mistake.
ProcKey = tuple[int, int]


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, start time) of ``pid`` from ``/proc/<pid>/stat``, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[19])


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> list[ProcKey]:
    """Every live process below ``root`` (children, grandchildren, ...), with start times."""
    children: dict[int, list[ProcKey]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _stat(int(entry))
        if st is not None:
            children.setdefault(st[0], []).append((int(entry), st[1]))
    out: list[ProcKey] = []
    todo = [root]
    while todo:
        for key in children.get(todo.pop(), []):
            out.append(key)
            todo.append(key[0])
    return out


def executor_pids(root: int) -> list[int]:
    """Executor JVMs (CoarseGrainedExecutorBackend) that descend from the driver ``root``."""
    return sorted(pid for pid, _ in descendants(root)
                  if EXECUTOR_MAIN in cmdline(pid) and "java" in cmdline(pid))


def alive(key: ProcKey) -> bool:
    st = _stat(key[0])
    return st is not None and st[1] == key[1]


def kill_leftovers(keys: set[ProcKey]) -> list[int]:
    """SIGKILL each process of ``keys`` that still runs (same pid and start time)."""
    killed = []
    for key in sorted(keys):
        if alive(key):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(key[0], signal.SIGKILL)
                killed.append(key[0])
    return killed


# -- checkpoint of one query (``<--checkpoint>/<query>``) ---------------------------------

def batch_ids(folder: Path) -> list[int]:
    try:
        return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())
    except OSError:
        return []


def commits(query_ck: Path) -> list[int]:
    """Ids of the micro-batches the query has committed."""
    return batch_ids(query_ck / "commits")


def planned(query_ck: Path) -> list[int]:
    """Ids of the micro-batches whose offsets were written (started, maybe not committed)."""
    return batch_ids(query_ck / "offsets")


def batch_end_offset(query_ck: Path, batch_id: int) -> int:
    """End offset (exclusive) of a feed micro-batch, from ``offsets/<id>`` (last line)."""
    try:
        lines = (query_ck / "offsets" / str(batch_id)).read_text().splitlines()
        return int(json.loads(lines[-1])["offset"])
    except (OSError, ValueError, KeyError, IndexError):
        return -1


def committed_offset(query_ck: Path) -> int:
    """Feed offset up to which (exclusive) the query has committed its output; 0 if none."""
    done = commits(query_ck)
    return batch_end_offset(query_ck, done[-1]) if done else 0


# -- feeds and the reference result ---------------------------------------------------------

def feed_latest(base: str, feed: str) -> int:
    with FeedClient(base, feed, timeout=5) as client:
        return client.end_offset()


def feed_records(base: str, feed: str, end: int) -> list[dict[str, Any]]:
    """Records ``[0, end)`` of a feed, read through its HTTP API."""
    with FeedClient(base, feed, timeout=30) as client:
        return [doc for _, doc in client.objects(0, end)]


def reference_alert_ids(txns: list[dict[str, Any]], ttl_ms: int = 7_200_000) -> set[str]:
    """Alert ids of the fraud detector over ``txns`` in one pass, packaged rules.

    Detection does not depend on micro-batch boundaries
    (tests/unit/processor/fraud/test_fraud_detector.py), so this is the output of any
    uninterrupted run of the fraud job over the same records.
    """
    from streamwatch.processor.fraud.detector import detect
    from streamwatch.processor.fraud.rules import default_rules_path, load_rules
    from streamwatch.processor.fraud.state import BucketState, with_keys

    df = pd.DataFrame(txns)
    df["ts"] = pd.to_datetime(df["event_time"]).astype("int64") // 1_000_000
    df["amount"] = df["amount"].astype(float)
    alerts, _ = detect(BucketState.new(), with_keys(df), load_rules(default_rules_path()),
                       ttl_ms=ttl_ms, detected_at_ms=0)
    return {a["alert_id"] for a in alerts}


def jsonl_alert_ids(outdir: Path) -> list[str]:
    """alert_id of every line of the JSONL sink's ``batch-*.jsonl`` files (duplicates kept)."""
    ids: list[str] = []
    for path in sorted(outdir.glob("batch-*.jsonl")):
        ids += [orjson.loads(line)["alert_id"]
                for line in path.read_bytes().splitlines() if line.strip()]
    return ids


# -- the driver's monitoring REST API (``spark.ui.port``) -----------------------------------

def spark_executors(ui: str) -> list[dict[str, Any]]:
    """Active executors of the (only) application of the driver UI at ``ui``; [] if not up.

    Each has ``id`` (the executor id, as in the executor's ``--executor-id``),
    ``activeTasks``, ``failedTasks``, ``completedTasks``; the driver is left out.
    """
    try:
        apps = requests.get(f"{ui}/api/v1/applications", timeout=10).json()
        r = requests.get(f"{ui}/api/v1/applications/{apps[0]['id']}/executors", timeout=10)
        r.raise_for_status()
        return [e for e in r.json() if e.get("id") != "driver"]
    except (requests.RequestException, ValueError, IndexError, KeyError):
        return []


def executor_id_of(pid: int) -> str | None:
    """``--executor-id`` of an executor JVM's command line."""
    args = cmdline(pid).split()
    for flag, value in itertools.pairwise(args):
        if flag == "--executor-id":
            return value
    return None
