"""Start, watch and stop the child processes of ``streamwatch run``.

Children die with the launcher even when it is killed with SIGKILL: each one
asks the kernel for SIGTERM when its parent goes away (``PR_SET_PDEATHSIG``),
so no orphan keeps a port or a feed log open.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import requests

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass  # not Linux: the launcher's own shutdown path still stops children


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (children, grandchildren, ...), read from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


@dataclass
class Child:
    """One service process; stdout+stderr go to ``log_path``."""

    name: str
    argv: Sequence[str]
    log_path: Path
    health_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        out = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.proc = subprocess.Popen(
                list(self.argv), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env}, preexec_fn=_die_with_parent,
            )
        finally:
            out.close()
        log.info("started", extra={"child": self.name, "pid": self.proc.pid,
                                   "log": str(self.log_path)})

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float) -> None:
        if self.health_url is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode if self.proc else '?'}; "
                    f"last lines of {self.log_path}:\n{self.tail()}")
            try:
                if requests.get(self.health_url, timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become ready within {timeout:.0f}s; "
                           f"see {self.log_path}:\n{self.tail()}")


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []

    def start(self, child: Child, ready_timeout: float = 60.0) -> Child:
        self.children.append(child)
        child.start()
        child.wait_ready(ready_timeout)
        return child

    def dead(self) -> list[Child]:
        return [c for c in self.children if not c.alive]

    def stop_all(self, grace: float = 20.0) -> None:
        """SIGTERM in reverse start order (consumers before producers), then SIGKILL.

        Grandchildren count too: Spark's JVM and Python workers belong to the Spark
        child and may outlive it by a moment; the launcher returns only once they are
        gone, so nothing it started survives it.
        """
        family = set().union(*(descendants(c.proc.pid) for c in self.children
                               if c.proc is not None and c.alive))
        for child in reversed(self.children):
            if child.alive and child.proc is not None:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in reversed(self.children):
            if child.proc is None:
                continue
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("killing child that ignored SIGTERM", extra={"child": child.name})
                child.proc.kill()
                child.proc.wait(timeout=5)
        while (left := {pid for pid in family if alive(pid)}) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in left:
            log.warning("killing a process left behind by a child", extra={"pid": pid})
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.info("all children stopped",
                 extra={"exit_codes": {c.name: c.proc.returncode for c in self.children
                                       if c.proc is not None}})


def streamwatch_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "streamwatch.cli", *args]
