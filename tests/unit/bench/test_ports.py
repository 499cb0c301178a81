"""The port helper never hands out one port twice, nor a port something holds."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bench.ports import PortPool, _bindable, default_pool, free_port


def test_consecutive_calls_return_distinct_ports() -> None:
    # The kernel's port 0 gives the same number to back-to-back callers; a test that
    # asked for an HTTP and a socket port then started a service on one port twice.
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)


def test_ports_lie_outside_the_ephemeral_range() -> None:
    text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
    low, high = (int(v) for v in text.split())
    pool = default_pool()
    assert pool.high <= low or pool.low > high
    port = pool.take()
    assert not low <= port <= high


def test_a_bound_port_is_skipped_and_an_exhausted_pool_says_so() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        held = holder.getsockname()[1]
        if not _bindable(held + 1):
            pytest.skip(f"port {held + 1} is in use; the test needs it free")
        # A pool of two ports, one of them held by someone else.
        pool = PortPool(held, held + 2, seed=1)
        other = pool.take()
        if other == held:
            pytest.fail("handed out a port another socket is bound to")
        with pytest.raises(RuntimeError, match="no free port"):
            pool.take()
    assert pool.issued() == {other}


def test_an_empty_range_is_refused() -> None:
    with pytest.raises(ValueError, match="empty port range"):
        PortPool(30000, 30000)
