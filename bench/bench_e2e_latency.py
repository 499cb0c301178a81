"""End-to-end alert latency on the product's default path: transaction accepted by the
producer -> signed webhook received.

The real chain on 127.0.0.1, every part its own process:
``streamwatch txns --rate R`` (the real CLI, through ``bench.traced_producer``) ->
``streamwatch process fraud`` (feed source, default flags: ``--trigger 1s``, no
``--max-records-per-trigger``; ``local[2]`` = ``local[*]`` on the 2-core machine) ->
``streamwatch alerting`` -> a receiver that verifies each webhook with ``standardwebhooks``.

What is measured, per alert (its last transaction, ``txn_ids[-1]``, completed it):

- **Headline** (``p50_s``, ``p95_s``, ``p99_s``, ``max_s``): webhook received - the moment the
  producer *accepted* that transaction, i.e. its source handed the batch holding it to the
  runtime's ``emit`` (``bench.traced_producer`` writes ``time.time()`` and the batch's offset
  range for every batch). So the figure includes the feed log append, its group commit
  (up to ``--fsync-interval``, 100 ms), the job polling the feed, the micro-batch, the
  sink, the alerting store and the webhook. It leaves out only the pacer's tick (a batch
  is emitted every 10 ms, so a transaction may have been due up to 10 ms earlier).
- ``visible_*``: received - the first 20 ms sample of ``GET /v1/feeds/transactions/offsets``
  whose ``latest`` passes the record's offset (when the record became readable on the feed).
  ``accept_to_visible_*`` = visible - accepted per alert: group commit + sampling.
- ``event_time_*``: received - the alert's ``event_time`` (the simulator's clock, which runs
  at wall-clock pace); ``detection_delay_*``: ``detected_at - event_time``, what the
  exporter's histogram sees.

Alerts are counted from the moment the start-up backlog is drained (at least ``--warmup`` s
after the first micro-batch, at most 4x that; whether it caught up is recorded), for
``--seconds`` (300) s. Each run records the machine's load over its measured window
(``bench.common.LOAD``) and its trend: mean and p50 latency over the first and the last
fifth of the measured alerts.

A run is *flat* (the job keeps up at that rate) when all three hold:
last-fifth mean <= first-fifth mean x 1.25 + 0.1 s; the lag (feed latest - committed
offset, the smallest over the last 10 s) is under 2 s of input (the committed offset trails
by one micro-batch even when the job keeps up, so 1 s would fail a healthy 1 s trigger);
processed >= 0.97 x the offered rate. A run whose start-up backlog was not drained
before its window (lag under 1 s of input within 4 x the warm-up) is not flat either.

Headroom: after the headline rate (5,000 tx/s), rates step by ``--headroom-step`` (1,000):
up while flat (to ``--headroom-max``, 7,000), down while not flat (to ``--headroom-min``,
3,000), stopping at the first change; headroom = the highest flat rate. Each step measures
``--headroom-seconds`` (default the same ``--seconds``; shorter is labelled). The number of
runs and the longest expected time are printed first. ``--rates`` gives the rates to run
instead, without a search (the first is the headline). ``--extra-triggers`` adds runs at
other triggers, at the headline rate, labelled non-default.

Goal (issue 8): p50 <= 1 s and p99 <= 2 s at 5,000 tx/s, on the default path.

Usage::

    python -m bench.bench_e2e_latency            # 5,000 tx/s 300 s + headroom, <= ~24 min
    python -m bench.bench_e2e_latency --rates 5000 --seconds 60 --warmup 20   # one short run
    python -m bench.bench_e2e_latency --quick    # one run at 5,000 tx/s, ~20 s measured
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import (
    LOAD,
    load_text,
    percentile,
    percentiles,
    record,
    result,
    series,
    utc_now,
)
from bench.faults.harness import Pipeline, Workload
from bench.traced_producer import accepted_at, read_trace
from streamwatch.contracts.events import parse_ts
from streamwatch.core.http_client import RetryPolicy
from streamwatch.feed.client import FeedClient, FeedError

GOALS = {"p50_s": {"max": 1.0}, "p99_s": {"max": 2.0}}

#: ``streamwatch process fraud``'s default ``--trigger`` (a unit test checks it against
#: ``FraudSettings``): the headline runs at it, any other trigger is labelled non-default
DEFAULT_TRIGGER = "1s"
HEADLINE_RATE = 5000.0

#: "flat": last-fifth mean <= first-fifth mean x FLAT_GROWTH + FLAT_SLACK_S, lag at the end
#: under FLAT_LAG_S of input, processed >= FLAT_PROCESSED x offered
FLAT_GROWTH = 1.25
FLAT_SLACK_S = 0.1
FLAT_LAG_S = 2.0
FLAT_PROCESSED = 0.97
#: the lag at the end is the smallest over this many seconds before the run stops
LAG_END_SPAN_S = 10.0
#: seconds a run takes besides its warm-up and measured window: starting the four processes
#: up to the first micro-batch, the window's 5 s tail, stopping and reading the alerts (a
#: 60 s run took 179 s in all at load 3.5 on the shared 2-core machine)
RUN_OVERHEAD_S = 100.0
# the warm-up waits for the start-up backlog at most this many times --warmup
WARMUP_CAP = 4


class OffsetSampler:
    """``(time.time(), latest)`` of the transactions feed every ``period`` seconds."""

    def __init__(self, url: str, period: float = 0.02) -> None:
        self.url = url
        self.period = period
        self.times: list[float] = []
        self.latest: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="offset-sampler")

    def _run(self) -> None:
        # no retries: a sample that fails is skipped, a retried one would be late
        with FeedClient(self.url, "transactions", timeout=2,
                        policy=RetryPolicy(attempts=1)) as feed:
            while not self._stop.wait(self.period):
                try:
                    latest = feed.end_offset()
                except FeedError:
                    continue
                self.times.append(time.time())
                self.latest.append(latest)

    def start(self) -> OffsetSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def visible_at(self, offset: int) -> float | None:
        """When record ``offset`` was first seen readable (latest is exclusive)."""
        i = bisect.bisect_right(self.latest, offset)
        return self.times[i] if i < len(self.times) else None

    def rate_series(self, t0: float, step: float = 1.0) -> list[tuple[float, float]]:
        out: list[tuple[float, float]] = []
        j = 0
        for i in range(1, len(self.times)):
            if self.times[i] - self.times[j] >= step:
                rate = (self.latest[i] - self.latest[j]) / (self.times[i] - self.times[j])
                out.append((self.times[i] - t0, rate))
                j = i
        return out


def profile(pid: int, seconds: float, out: Path) -> dict[str, Any] | None:
    """py-spy over the processor and its Python children (driver, Spark Python workers):
    the functions where non-idle samples end, as shares. None without py-spy."""
    import shutil
    import subprocess
    import sys
    from collections import Counter

    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        return None
    try:
        subprocess.run([spy, "record", "--pid", str(pid), "--subprocesses", "--duration",
                        str(int(seconds)), "--rate", "50", "--format", "raw", "--output",
                        str(out), "--nonblocking"], capture_output=True, timeout=seconds + 60,
                       check=False)
        lines = out.read_text().splitlines()
    except (OSError, subprocess.SubprocessError):
        return None
    leaves: Counter[str] = Counter()
    stacks: Counter[str] = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        leaves[frames[-1]] += n
        for frame in set(frames):
            stacks[frame] += n
    if not total:
        return None
    return {"samples": total, "seconds": seconds,
            "top_self": [(f, round(c / total, 3)) for f, c in leaves.most_common(12)],
            "top_inclusive": [(f, round(c / total, 3)) for f, c in stacks.most_common(25)
                              if "(" in f][:15]}


def latency_trend(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Mean latency over the first and the last fifth of the measured alerts."""
    values = [v for _, v in sorted(points)]
    if not values:
        return float("nan"), float("nan")
    k = max(1, len(values) // 5)
    return sum(values[:k]) / k, sum(values[-k:]) / k


def trend(points: list[tuple[float, float]]) -> dict[str, Any]:
    """Mean and p50 latency over the first and the last fifth of the measured alerts
    (ordered by when they arrived), the ratio of the means and whether it grows (the
    flat rule's latency part)."""
    values = [v for _, v in sorted(points)]
    if not values:
        return {"first_fifth_mean_s": None, "last_fifth_mean_s": None,
                "first_fifth_p50_s": None, "last_fifth_p50_s": None,
                "last_over_first": None, "growing": None}
    k = max(1, len(values) // 5)
    first, last = sum(values[:k]) / k, sum(values[-k:]) / k
    return {"first_fifth_mean_s": first, "last_fifth_mean_s": last,
            "first_fifth_p50_s": percentile(values[:k], 50),
            "last_fifth_p50_s": percentile(values[-k:], 50),
            "last_over_first": (last / first) if first > 0 else None,
            "growing": last > first * FLAT_GROWTH + FLAT_SLACK_S}


def flat_verdict(rate: float, trend_: dict[str, Any], lag_end_records: float | None,
                 processed_per_s: float | None, *, caught_up: bool
                 ) -> tuple[bool, list[str]]:
    """Whether latency stays flat at ``rate`` (see the module doc), and why not. A run
    whose start-up backlog was not drained before measuring cannot show flat latency: the
    backlog draining during the window makes the last fifth look better than the first."""
    why: list[str] = []
    if not caught_up:
        why.append(f"start-up backlog not drained before measuring (lag >= 1 s of input "
                   f"after {WARMUP_CAP:g} x the warm-up)")
    if trend_.get("growing") is None:
        why.append("no alerts measured")
    elif trend_["growing"]:
        why.append(f"latency grows: last-fifth mean {trend_['last_fifth_mean_s']:.2f} s > "
                   f"{FLAT_GROWTH:g} x first-fifth {trend_['first_fifth_mean_s']:.2f} s + "
                   f"{FLAT_SLACK_S:g} s")
    if lag_end_records is None:
        why.append("no lag measured")
    elif lag_end_records >= FLAT_LAG_S * rate:
        why.append(f"lag at the end {lag_end_records / rate:.1f} s of input "
                   f">= {FLAT_LAG_S:g} s")
    if processed_per_s is None:
        why.append("no processed rate measured")
    elif processed_per_s < FLAT_PROCESSED * rate:
        why.append(f"processed {processed_per_s:,.0f} tx/s < {FLAT_PROCESSED:g} x "
                   f"{rate:,.0f}")
    return not why, why


def next_rate(history: list[tuple[float, bool]], start: float, step: float,
              floor: float, cap: float) -> float | None:
    """The next rate of the headroom search given ``(rate, flat)`` so far, or None when it
    is over: up from ``start`` while flat (at most ``cap``), down while not flat (at least
    ``floor``); it stops at the first change of verdict."""
    if not history:
        return start
    going_up = history[0][1]
    rate, flat = history[-1]
    if flat != going_up:
        return None
    nxt = rate + step if going_up else rate - step
    if nxt > cap + 1e-9 or nxt < floor - 1e-9 or nxt <= 0:
        return None
    return nxt


def headroom(history: list[tuple[float, bool]]) -> float | None:
    """The highest rate of the search at which latency stayed flat (None: none was)."""
    flat = [rate for rate, ok in history if ok]
    return max(flat) if flat else None


def planned_runs(start: float, step: float, floor: float, cap: float) -> int:
    """The most runs the search can take: the start and every step to the cap or floor."""
    if step <= 0:
        return 1
    up = int((cap - start) // step + 1e-9) if cap >= start else 0
    down = int((start - floor) // step + 1e-9) if start >= floor else 0
    return 1 + max(up, down)


def txn_offset(txn_id: str) -> int:
    """Offset of ``t-000000123`` in a fresh feed: numbering starts at 1, offsets at 0."""
    return int(txn_id.rsplit("-", 1)[1]) - 1


def measure(work: Path, trigger: str, rate: float, seconds: float, warmup: float,
            profile_s: float = 0.0, kafka: str | None = None,
            processor_env: dict[str, str] | None = None, accept_trace: bool = True) -> dict:
    """One run. ``from_accept`` is the headline latency (producer accepted -> webhook),
    ``from_visible`` the one from the record becoming readable on the producer's feed (both
    with ``kafka``, bootstrap servers that carry the transactions through a topic);
    ``processor_env`` is added to the processor's environment only (another commit's
    ``PYTHONPATH`` runs that commit's job on this input). ``accept_trace=False`` starts the
    plain ``streamwatch txns`` (no ``from_accept``; ``points`` are then from visible)."""
    workload = Workload(events=None, rate=rate, seed=5000, fraud_rate=0.02,
                        start_time="now", trigger=trigger, max_records_per_trigger=0)
    run_dir = work / f"trigger-{trigger}-{rate:g}{'-kafka' if kafka else ''}"
    trace_path = run_dir / "accept-trace.txt" if accept_trace else None
    pipe = Pipeline(run_dir, workload, kafka=kafka, processor_env=dict(processor_env or {}),
                    sim_trace=trace_path)
    sampler: OffsetSampler | None = None
    commits: list[tuple[float, int]] = []
    lags: list[tuple[float, int]] = []
    spy: dict[str, Any] = {}
    spy_thread: threading.Thread | None = None
    try:
        pipe.receiver.up()
        pipe.start_sim()
        sampler = OffsetSampler(pipe.sim_url).start()
        pipe.start_alerting()
        pipe.subscribe()
        pipe.start_processor()
        pipe.wait_commit_after(-1, timeout=300, supervise=False)
        # warm-up: at least `warmup` s, then until the start-up backlog is drained (lag under
        # one second of input), at most WARMUP_CAP x warmup; a run that never catches up
        # is not flat
        t_first = time.time()
        caught_up = False
        while time.time() < t_first + WARMUP_CAP * warmup:
            lag = (sampler.latest[-1] if sampler.latest else 0) - pipe.committed_offset()
            if time.time() >= t_first + warmup and lag <= rate:
                caught_up = True
                break
            time.sleep(0.5)
        window_start = time.time()
        window_end = window_start + seconds
        mono_start = time.monotonic()
        if profile_s > 0 and pipe.processor is not None:
            pid = pipe.processor.pid

            def run_profile() -> None:
                time.sleep(max(0.0, window_start - time.time()))
                spy["profile"] = profile(pid, min(profile_s, seconds), work / f"spy-{trigger}.txt")

            spy_thread = threading.Thread(target=run_profile, daemon=True)
            spy_thread.start()
        while time.time() < window_end + 5:  # +5 s: alerts of the window's last events
            now, committed = time.time(), pipe.committed_offset()
            commits.append((now, committed))
            if sampler.latest:
                lags.append((now, sampler.latest[-1] - committed))
            if pipe.processor is None or not pipe.processor.alive():
                tail = pipe.processor.tail() if pipe.processor else ""
                raise RuntimeError(f"processor exited:\n{tail}")
            time.sleep(0.5)
        mono_end = time.monotonic() - 5
        sampler.stop()
        if spy_thread is not None:
            spy_thread.join(timeout=120)
        deliveries = pipe.receiver.snapshot()
        stored = {a["alert_id"]: a for a in pipe.stored_alerts()}
    finally:
        if sampler is not None:
            sampler.stop()
        pipe.stop_all()
    load = LOAD.window(mono_start, mono_end)
    trace_times, trace_ends = read_trace(trace_path) if trace_path else ([], [])
    first_by_alert: dict[str, float] = {}
    for d in deliveries:
        first_by_alert[d.alert_id] = min(d.at, first_by_alert.get(d.alert_id, d.at))
    mapped = check_mapping_offline(stored)
    lat_accept: list[float] = []
    lat_visible: list[float] = []
    accept_to_visible: list[float] = []
    lat_event: list[float] = []
    lat_detect: list[float] = []  # detected_at - event_time: what the exporter's histogram sees
    points_accept: list[tuple[float, float]] = []
    points_visible: list[tuple[float, float]] = []
    for alert_id, received in first_by_alert.items():
        alert = stored.get(alert_id)
        if alert is None or not (window_start <= received <= window_end):
            continue
        offset = txn_offset(alert["txn_ids"][-1])
        visible = sampler.visible_at(offset) if sampler else None
        accepted = accepted_at(trace_times, trace_ends, offset)
        if visible is not None:
            lat_visible.append(received - visible)
            points_visible.append((received - window_start, received - visible))
        if accepted is not None:
            lat_accept.append(received - accepted)
            points_accept.append((received - window_start, received - accepted))
            if visible is not None:
                accept_to_visible.append(visible - accepted)
        lat_event.append(received - parse_ts(alert["event_time"]).timestamp())
        lat_detect.append((parse_ts(alert["detected_at"])
                           - parse_ts(alert["event_time"])).total_seconds())
    points = points_accept if accept_trace else points_visible
    produced_rate = [p for p in (sampler.rate_series(window_start) if sampler else [])
                     if 0 <= p[0] <= seconds]
    processed = [(t - window_start, (o2 - o1) / (t - t1))
                 for (t1, o1), (t, o2) in itertools.pairwise(commits[::10])  # 5 s steps
                 if window_start <= t <= window_end and t > t1]
    in_window = [o for t, o in commits if window_start <= t <= window_end]
    processed_per_s = ((in_window[-1] - in_window[0]) / seconds) if len(in_window) > 1 else None
    end_lags = [lag for t, lag in lags if t >= window_end + 5 - LAG_END_SPAN_S]
    lag_end = min(end_lags) if end_lags else None
    trend_ = trend(points)
    flat, why = flat_verdict(rate, trend_, lag_end, processed_per_s, caught_up=caught_up)
    return {
        "trigger": trigger, "default_trigger": trigger == DEFAULT_TRIGGER, "rate": rate,
        "seconds": seconds, "warmup_s": warmup,
        "produced": "accepted by the producer" if accept_trace else "visible on the feed",
        "caught_up_before_window": caught_up,
        "lag_at_end": (sampler.latest[-1] if sampler and sampler.latest else 0)
        - (commits[-1][1] if commits else 0),
        "lag_end_records": lag_end,
        "alerts": len(points), "mapping_ok": mapped,
        "from_accept": percentiles(lat_accept), "from_visible": percentiles(lat_visible),
        "accept_to_visible": percentiles(accept_to_visible),
        "from_event_time": percentiles(lat_event),
        "detection_delay": percentiles(lat_detect),
        "processed_per_s": processed_per_s,
        "trend": trend_, "flat": flat, "not_flat_because": why, "load": load,
        "points": points, "produced_rate": produced_rate, "processed_rate": processed,
        "profile": spy.get("profile"),
    }


def check_mapping_offline(stored: dict[str, Any]) -> bool:
    """Every alert's transaction ids have the simulator's ``t-<number>`` form."""
    return all(t.startswith("t-") and t[2:].isdigit()
               for a in stored.values() for t in a["txn_ids"])


def headline(run: dict[str, Any]) -> dict[str, Any]:
    """The latency (from_accept, or from_visible when there was no trace) of one run."""
    return run["from_accept"] if run["from_accept"]["count"] else run["from_visible"]


def run_line(run: dict[str, Any]) -> str:
    v, t = headline(run), run["trend"]
    vis, a2v = run["from_visible"], run["accept_to_visible"]

    def f(x: float | None, spec: str = ".2f") -> str:
        return "-" if x is None else format(x, spec)

    lag = run["lag_end_records"]
    return (f"  {run['alerts']} alerts; from accepted p50 {f(v['p50'])} s, p95 {f(v['p95'])} s, "
            f"p99 {f(v['p99'])} s, max {f(v['max'])} s; from visible p50 {f(vis['p50'])} s, "
            f"p99 {f(vis['p99'])} s (accept->visible p50 {f(a2v['p50'], '.3f')} s, "
            f"p99 {f(a2v['p99'], '.3f')} s); trend mean {f(t['first_fifth_mean_s'])} -> "
            f"{f(t['last_fifth_mean_s'])} s; processed {f(run['processed_per_s'], ',.0f')} tx/s; "
            f"lag at end {f(None if lag is None else lag / run['rate'], '.1f')} s of input; "
            f"{'flat' if run['flat'] else 'NOT flat: ' + '; '.join(run['not_flat_because'])}; "
            f"{load_text(run['load'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_e2e_latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="one run at the headline rate, ~20 s measured, no headroom search")
    parser.add_argument("--rate", type=float, default=HEADLINE_RATE,
                        help="headline rate, transactions per second (5000); the headroom "
                             "search starts there")
    parser.add_argument("--rates", default=None,
                        help="comma separated rates to run instead of the search (the first "
                             "is the headline), e.g. 5000")
    parser.add_argument("--trigger", default=DEFAULT_TRIGGER,
                        help=f"trigger of every run ({DEFAULT_TRIGGER}, the job's default; "
                             "another is labelled non-default)")
    parser.add_argument("--extra-triggers", default="",
                        help="comma separated other triggers, one run each at the headline "
                             "rate, labelled non-default (default none)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="measured seconds of the headline run (default 300; quick 20)")
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds after the first micro-batch not counted (default 20; "
                             "quick 10)")
    parser.add_argument("--headroom-seconds", type=float, default=None,
                        help="measured seconds of each other rate (default --seconds; "
                             "shorter is labelled)")
    parser.add_argument("--headroom-step", type=float, default=1000.0)
    parser.add_argument("--headroom-max", type=float, default=7000.0)
    parser.add_argument("--headroom-min", type=float, default=3000.0)
    parser.add_argument("--profile", type=float, default=0.0,
                        help="seconds of py-spy sampling of the processor in the headline "
                             "window (default 0 = off: it would load the machine it measures)")
    args = parser.parse_args(argv)
    seconds = args.seconds or (20.0 if args.quick else 300.0)
    warmup = args.warmup if args.warmup is not None else (10.0 if args.quick else 20.0)
    step_s = args.headroom_seconds or seconds
    trigger = args.trigger.strip()
    extra_triggers = [t.strip() for t in args.extra_triggers.split(",") if t.strip()]
    if args.rates:
        fixed: list[float] | None = [float(r) for r in args.rates.split(",") if r.strip()]
    else:
        fixed = [args.rate] if args.quick else None
    rate0 = fixed[0] if fixed else args.rate
    if fixed is not None:
        n_rates = len(fixed)
    else:
        n_rates = planned_runs(rate0, args.headroom_step, args.headroom_min, args.headroom_max)
    longest = (seconds + WARMUP_CAP * warmup + RUN_OVERHEAD_S
               + (n_rates - 1) * (step_s + WARMUP_CAP * warmup + RUN_OVERHEAD_S)
               + len(extra_triggers) * (seconds + WARMUP_CAP * warmup + RUN_OVERHEAD_S))
    plan = (f"rates {', '.join(f'{r:g}' for r in fixed)}" if fixed is not None else
            f"headroom search from {rate0:g} tx/s in steps of {args.headroom_step:g} "
            f"({args.headroom_min:g}..{args.headroom_max:g})")
    print(f"plan: at most {n_rates + len(extra_triggers)} runs ({plan}; trigger {trigger}"
          f"{', extra triggers ' + ', '.join(extra_triggers) if extra_triggers else ''}), "
          f"{seconds:g} s measured at the headline rate, {step_s:g} s at the others; "
          f"at most ~{longest / 60:.0f} min", flush=True)
    started_at, t0 = utc_now(), time.monotonic()
    runs: list[dict[str, Any]] = []
    history: list[tuple[float, bool]] = []
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        rate: float | None = rate0
        i = 0
        while rate is not None:
            secs = seconds if i == 0 else step_s
            print(f"run {i + 1}: {rate:g} tx/s, trigger {trigger}, {secs:g} s measured",
                  flush=True)
            run = measure(Path(tmp), trigger, rate, secs, warmup,
                          args.profile if i == 0 else 0.0)
            run["headline"] = i == 0
            print(run_line(run), flush=True)
            runs.append(run)
            history.append((rate, run["flat"]))
            i += 1
            if fixed is not None:
                rate = fixed[i] if i < len(fixed) else None
            else:
                rate = next_rate(history, rate0, args.headroom_step, args.headroom_min,
                                 args.headroom_max)
        others = []
        for t in extra_triggers:
            print(f"non-default trigger {t}: {rate0:g} tx/s, {seconds:g} s measured", flush=True)
            run = measure(Path(tmp), t, rate0, seconds, warmup)
            run["headline"] = False
            print(run_line(run), flush=True)
            others.append(run)
    head = runs[0]
    v = headline(head)
    t = head["trend"]
    default_path = trigger == DEFAULT_TRIGGER and rate0 == HEADLINE_RATE
    figures: dict[str, Any] = {
        "trigger": trigger, "default_path": default_path, "rate_tx_per_s": rate0,
        "produced": head["produced"], "measured_s": seconds,
        "p50_s": v["p50"], "p95_s": v["p95"], "p99_s": v["p99"], "max_s": v["max"],
        "alerts_measured": v["count"],
        "first_fifth_mean_s": t["first_fifth_mean_s"], "last_fifth_mean_s": t["last_fifth_mean_s"],
        "first_fifth_p50_s": t["first_fifth_p50_s"], "last_fifth_p50_s": t["last_fifth_p50_s"],
        "last_over_first_fifth": t["last_over_first"], "latency_growing": t["growing"],
        "flat": head["flat"],
        "lag_at_end_s": (head["lag_end_records"] / rate0
                         if head["lag_end_records"] is not None else None),
        "processed_tx_per_s": head["processed_per_s"],
        "caught_up_before_window": head["caught_up_before_window"],
        "visible_p50_s": head["from_visible"]["p50"], "visible_p95_s": head["from_visible"]["p95"],
        "visible_p99_s": head["from_visible"]["p99"],
        "accept_to_visible_p50_s": head["accept_to_visible"]["p50"],
        "accept_to_visible_p99_s": head["accept_to_visible"]["p99"],
        "accept_to_visible_min_s": head["accept_to_visible"]["min"],
        "event_time_p50_s": head["from_event_time"]["p50"],
        "event_time_p99_s": head["from_event_time"]["p99"],
        "detection_delay_p50_s": head["detection_delay"]["p50"],
        "detection_delay_p99_s": head["detection_delay"]["p99"],
        "load1_mean": head["load"]["load1_mean"], "load1_max": head["load"]["load1_max"],
        "cpu_busy_mean": head["load"]["cpu_busy_mean"],
    }
    if fixed is None:
        figures["headroom_tx_per_s"] = headroom(history)
        figures["headroom_search"] = (f"{args.headroom_min:g}..{args.headroom_max:g} step "
                                      f"{args.headroom_step:g}, {step_s:g} s a step"
                                      + (" (shorter than the headline)" if step_s < seconds
                                         else ""))
    if len(runs) > 1 or others:
        figures["by_run"] = {
            f"{r['rate']:g} tx/s, trigger {r['trigger']}"
            + ("" if r["default_trigger"] else " (non-default)")
            + (f", {r['seconds']:g} s" if r["seconds"] != seconds else ""):
            (f"p50 {headline(r)['p50']}, p99 {headline(r)['p99']} s; "
             f"{'flat' if r['flat'] else 'not flat'}; processed {r['processed_per_s']} tx/s; "
             f"{load_text(r['load'])}")
            for r in runs + others}
    for r in others:
        figures[f"nondefault_trigger_{r['trigger']}_p50_s"] = headline(r)["p50"]
        figures[f"nondefault_trigger_{r['trigger']}_p99_s"] = headline(r)["p99"]
        figures[f"nondefault_trigger_{r['trigger']}_load1_mean"] = r["load"]["load1_mean"]
    ratios = {"p50_vs_goal": (v["p50"] / 1.0) if v["p50"] is not None else None,
              "p99_vs_goal": (v["p99"] / 2.0) if v["p99"] is not None else None}
    plots = []
    for r in runs + others:
        label = f"{r['rate']:g}@{r['trigger']}"
        plots.append(series(f"latency {label}", r["points"], unit="s",
                            kind="scatter", plot="e2e_latency"))
        plots.append(series(f"processed {label}", r["processed_rate"], unit="tx/s",
                            plot="e2e_throughput"))
        plots.append(series(f"produced {label}", r["produced_rate"], unit="tx/s",
                            plot="e2e_throughput"))
    notes = [
        f"Default path: streamwatch process fraud with its default flags (trigger "
        f"{DEFAULT_TRIGGER}, no record limit) on the real feed server"
        + ("" if default_path else
           f"; THIS RUN IS NOT THE DEFAULT PATH: trigger {trigger}, {rate0:g} tx/s") + ".",
        "produced = the moment the producer accepted the transaction (its source handed the "
        "batch to the runtime's emit, before the feed log append and its group commit); "
        "visible_* count from when it became readable on the feed (20 ms sampling), "
        "accept_to_visible_* is the difference. Counted from when the start-up backlog was "
        f"drained (>= {warmup:g} s after the first micro-batch), {seconds:g} s measured.",
        f"flat = last-fifth mean <= first-fifth mean x {FLAT_GROWTH:g} + {FLAT_SLACK_S:g} s, lag "
        f"(smallest over the last {LAG_END_SPAN_S:g} s) < {FLAT_LAG_S:g} s of input, processed "
        f">= {FLAT_PROCESSED:g} x offered; load figures are of the measured window.",
    ]
    for r in runs + others:
        if not r["caught_up_before_window"]:
            notes.append(f"{r['rate']:g} tx/s, trigger {r['trigger']}: the processor had not "
                         "caught up when measuring began")
        if not r["flat"]:
            notes.append(f"{r['rate']:g} tx/s, trigger {r['trigger']}: not flat: "
                         + "; ".join(r["not_flat_because"]))
    if not all(r["mapping_ok"] for r in runs + others):
        notes.append("some alert txn ids did not have the t-<number> form: their latency "
                     "could not be mapped to a feed offset")
    doc = result("e2e_latency", quick=args.quick, started_at=started_at,
                 seconds=round(time.monotonic() - t0, 1), figures=figures,
                 # measured in the same run: the feed's share (accept -> readable) and the
                 # detector's view (event time -> alert raised) of the same alerts
                 baseline={"accept_to_visible_p50_s": figures["accept_to_visible_p50_s"],
                           "detection_delay_p50_s": figures["detection_delay_p50_s"],
                           "offered_tx_per_s": rate0},
                 ratios=ratios, goals=GOALS, series=plots, notes=notes,
                 extra={"goal_labels": {
                     k: f"{rate0:g} tx/s offered, trigger {trigger}"
                        + (" (default)" if default_path else " (NOT the default path)")
                        + f", {seconds:g} s measured from the producer's accept"
                     for k in GOALS},
                        "runs": [{k: x for k, x in r.items()
                                  if k not in ("points", "produced_rate", "processed_rate")}
                                 for r in runs + others]})
    record(doc)
    return 0 if v["p99"] is not None else 1


if __name__ == "__main__":
    raise SystemExit(main())
