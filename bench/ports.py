"""Free loopback ports for child processes started by benchmarks and tests.

Asking the kernel for port 0 and closing the socket is not enough: the kernel
hands the same number out again to the next caller, so two ``free_port()``
calls in a row can return one port (a service then finds its second listener's
port taken by its first). Such a port also lies in the ephemeral range, where
any outgoing connection may take it before the child binds it. Ports here come
from outside that range (below it on a default kernel) and are never handed out
twice by one process.
"""

from __future__ import annotations

import errno
import os
import random
import socket
import threading
from pathlib import Path

_LOWEST = 20000
_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = (int(v) for v in _RANGE_FILE.read_text().split()[:2])
    except (OSError, ValueError):
        return 32768, 60999  # Linux defaults
    return low, high


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


class PortPool:
    """Hands out distinct loopback ports that nothing is bound to when asked."""

    def __init__(self, low: int, high: int, seed: int | None = None) -> None:
        if high <= low:
            raise ValueError(f"empty port range [{low}, {high})")
        self.low, self.high = low, high
        # Seeded by pid so that concurrent test and bench processes start apart.
        self._random = random.Random(os.getpid() if seed is None else seed)
        self._issued: set[int] = set()
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            size = self.high - self.low
            start = self._random.randrange(size)
            # A random start, then every port once: random draws could miss the free one.
            for i in range(size):
                port = self.low + (start + i) % size
                if port not in self._issued and _bindable(port):
                    self._issued.add(port)
                    return port
        raise RuntimeError(f"no free port on 127.0.0.1 in [{self.low}, {self.high})")

    def issued(self) -> frozenset[int]:
        with self._lock:
            return frozenset(self._issued)


def default_pool() -> PortPool:
    """The larger of the gaps below and above the ephemeral range."""
    low, high = _ephemeral_range()
    below, above = (min(_LOWEST, low), low), (high + 1, 65536)
    lo, hi = max(below, above, key=lambda r: r[1] - r[0])
    if hi - lo < 100:
        raise RuntimeError(f"the ephemeral port range {low}-{high} ({_RANGE_FILE}) leaves "
                           "no ports for test services; narrow it")
    return PortPool(lo, hi)


_POOL = default_pool()


def free_port() -> int:
    """A loopback port nothing is bound to, never returned before by this process."""
    return _POOL.take()
