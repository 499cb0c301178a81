"""The fault scenarios: what is broken, when, and how recovery is timed.

Each ``inject`` function runs while the pipeline processes its bounded input
and returns one record per fault with the seconds recovery took. Moments are
drawn from a seeded ``random.Random`` so a run can be repeated exactly.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.faults.harness import Pipeline, scaled_schedule

Fault = dict[str, Any]


def _last_commit(pipe: Pipeline) -> int:
    ids = pipe.commits()
    return ids[-1] if ids else -1


def driver_kill(pipe: Pipeline, rng: random.Random, kills: int) -> list[Fault]:
    """``kill -9`` of the driver (Python, JVM, workers), restarted at once."""
    faults: list[Fault] = []
    pipe.wait_commit_after(-1, timeout=240)
    for n in range(kills):
        time.sleep(rng.uniform(0.5, 4.0))
        pipe.supervise()
        t0 = time.monotonic()
        pipe.kill_processor()
        at_offset, before = pipe.committed_offset(), _last_commit(pipe)
        pipe.start_processor()
        pipe.wait_commit_after(before, timeout=240)
        recovery = time.monotonic() - t0  # kill -> restart -> first micro-batch committed
        faults.append({"fault": "driver kill -9", "n": n + 1, "committed_offset": at_offset,
                       "last_batch": before, "recovery_s": round(recovery, 2)})
        print(f"  driver kill {n + 1}/{kills} at offset {at_offset}: next batch committed "
              f"{recovery:.1f} s later", flush=True)
    return faults


def executor_kill(pipe: Pipeline, rng: random.Random, kills: int) -> list[Fault]:
    """``kill -9`` of one executor JVM of ``local-cluster[2,1,1024]``."""
    faults: list[Fault] = []
    pipe.wait_commit_after(-1, timeout=240)
    for n in range(kills):
        executors = _wait_executors(pipe, 2, timeout=180)
        time.sleep(rng.uniform(0.5, 4.0))
        executors = pipe.executor_pids() or executors
        victim = rng.choice(sorted(executors))
        at_offset, before = pipe.committed_offset(), _last_commit(pipe)
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        recovery = pipe.wait_commit_after(before, timeout=240)
        replaced = _wait_executors(pipe, 2, timeout=180, exclude=victim)
        replaced_s = time.monotonic() - t0
        faults.append({"fault": "executor kill -9", "n": n + 1, "pid": victim,
                       "committed_offset": at_offset, "last_batch": before,
                       "recovery_s": round(recovery, 2),
                       "executor_replaced_s": round(replaced_s, 2),
                       "executors_after": len(replaced)})
        print(f"  executor kill {n + 1}/{kills} (pid {victim}) at offset {at_offset}: "
              f"next batch {recovery:.1f} s, executor replaced {replaced_s:.1f} s", flush=True)
    return faults


def _wait_executors(pipe: Pipeline, count: int, timeout: float,
                    exclude: int | None = None) -> list[int]:
    deadline = time.monotonic() + timeout
    pids: list[int] = []
    while time.monotonic() < deadline:
        pids = [p for p in pipe.executor_pids() if p != exclude]
        if len(pids) >= count:
            return pids
        pipe.supervise()
        time.sleep(0.2)
    raise TimeoutError(f"expected {count} executors, found {len(pids)}; is the master "
                       "local-cluster?")


def alerting_kill(pipe: Pipeline, rng: random.Random, kills: int) -> list[Fault]:
    """``kill -9`` of alerting right after a webhook went out, restarted on its database."""
    faults: list[Fault] = []
    for n in range(kills):
        seen = len(pipe.receiver.snapshot())
        deadline = time.monotonic() + 240
        while len(pipe.receiver.snapshot()) <= seen and time.monotonic() < deadline:
            pipe.supervise()
            time.sleep(0.02)  # kill within ~20 ms of a delivery: others are in flight
        time.sleep(rng.uniform(0.0, 0.2))
        assert pipe.alerting is not None
        at_offset = pipe.committed_offset()
        t0 = time.time()
        pipe.alerting.kill9()
        time.sleep(rng.uniform(0.5, 2.0))
        pipe.start_alerting()
        ready = time.time() - t0
        resumed_at = None
        deadline = time.monotonic() + 120
        while resumed_at is None and time.monotonic() < deadline:
            resumed_at = pipe.receiver.first_after(t0 + ready)
            if resumed_at is None:
                pipe.supervise()
                time.sleep(0.05)
        faults.append({"fault": "alerting kill -9", "n": n + 1, "committed_offset": at_offset,
                       "deliveries_before": seen, "ready_s": round(ready, 2),
                       "recovery_s": round((resumed_at or time.time()) - t0, 2),
                       "deliveries_resumed": resumed_at is not None})
        print(f"  alerting kill {n + 1}/{kills}: ready again {ready:.1f} s, deliveries resumed "
              f"{(resumed_at or time.time()) - t0:.1f} s after the kill", flush=True)
    return faults


def receiver_down(pipe: Pipeline, rng: random.Random, kills: int, *, compress: float,
                  outage_s: float = 600.0) -> list[Fault]:
    """The subscriber refuses connections for ``outage_s`` (divided by ``compress``)."""
    faults: list[Fault] = []
    for n in range(kills):
        deadline = time.monotonic() + 240
        while not pipe.receiver.snapshot() and time.monotonic() < deadline:
            pipe.supervise()
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.0))
        down_for = outage_s / compress
        pipe.receiver.down()
        t_down = time.time()
        end = time.monotonic() + down_for
        while time.monotonic() < end:
            pipe.supervise()
            time.sleep(0.2)
        pipe.receiver.up()
        t_up = time.time()
        # catch-up: every alert stored so far reaches the receiver
        pipe.wait_offset(pipe.bound, timeout=600)
        limit = time.monotonic() + sum(scaled_schedule(compress)[:4]) * 1.3 + 120
        caught_up = None
        while time.monotonic() < limit:
            if {a["alert_id"] for a in pipe.stored_alerts()} <= pipe.receiver.delivered_ids():
                caught_up = time.time()
                break
            time.sleep(0.5)
        catch_up = (caught_up or time.time()) - t_up
        faults.append({"fault": f"receiver down {outage_s:g} s (compressed x{compress:g})",
                       "n": n + 1, "down_s": round(t_up - t_down, 2),
                       "recovery_s": round(catch_up, 2),
                       "recovery_uncompressed_s": round(catch_up * compress, 1),
                       "caught_up": caught_up is not None,
                       "retry_schedule_s": list(scaled_schedule(compress))})
        print(f"  receiver down {t_up - t_down:.1f} s: all stored alerts delivered "
              f"{catch_up:.1f} s after it came back (x{compress:g} = "
              f"{catch_up * compress / 60:.1f} min uncompressed)", flush=True)
    return faults


def producer_restart(pipe: Pipeline, rng: random.Random, kills: int) -> list[Fault]:
    """``kill -9`` of the feed producer while the processor reads it, then a restart
    serving the same durable log (``bench.faults.serve_feed``)."""
    faults: list[Fault] = []
    pipe.wait_generated(timeout=300)
    pipe.wait_commit_after(-1, timeout=240)  # the processor is reading when the kill lands
    for n in range(kills):
        time.sleep(rng.uniform(0.2, 2.0))
        assert pipe.sim is not None
        at_offset, before = pipe.committed_offset(), _last_commit(pipe)
        t0 = time.monotonic()
        pipe.sim.kill9()
        time.sleep(rng.uniform(2.0, 5.0))
        pipe.restart_feed_serve_only()
        t_up = time.monotonic()
        target = min(at_offset + 1, pipe.bound)
        pipe.wait_commit_after(before, timeout=240, min_offset=target)
        recovery = time.monotonic() - t_up
        faults.append({"fault": "feed producer kill -9 + restart", "n": n + 1,
                       "committed_offset": at_offset, "down_s": round(t_up - t0, 2),
                       "recovery_s": round(recovery, 2)})
        print(f"  producer killed at offset {at_offset}, back after {t_up - t0:.1f} s; "
              f"processing advanced {recovery:.1f} s after it came back", flush=True)
    return faults


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    inject: Callable[..., list[Fault]]
    kills_full: int
    master: str = "local[2]"
    compressed: bool = False
    recovery_goal_s: float | None = None


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("driver_kill", "driver kill -9 at random moments", driver_kill, 5,
             recovery_goal_s=30.0),
    Scenario("executor_kill", "executor kill -9 in local-cluster[2,1,1024]", executor_kill, 5,
             master="local-cluster[2,1,1024]"),
    Scenario("alerting_kill", "alerting kill -9 mid-delivery", alerting_kill, 3),
    Scenario("receiver_down", "webhook receiver down for 10 minutes (time-compressed)",
             receiver_down, 1, compressed=True),
    Scenario("producer_restart", "feed producer kill -9 and restart", producer_restart, 1),
)}


def summary(faults: list[Fault]) -> dict[str, Any]:
    values = [f["recovery_s"] for f in faults if isinstance(f.get("recovery_s"), int | float)]
    if not values:
        return {"recovery_s_max": None, "recovery_s_median": None}
    return {"recovery_s_max": max(values), "recovery_s_median": statistics.median(values)}
