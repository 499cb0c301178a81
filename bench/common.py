"""Helpers shared by the benchmarks and the fault runs.

Every benchmark writes one JSON document per run with :func:`write_result`::

    {"name": "fraud", "command": "python -m bench.bench_fraud --quick",
     "quick": false, "started_at": "2026-11-23T09:30:00Z", "seconds": 81.2,
     "machine": {"cpus": 2, "memory": 8342183936, "python": "3.11.9",
                 "java": "25.0.1", "pyspark": "4.3.0", "os": "Linux-6.8..."},
     "figures": {"tx_per_s": 61234.0, ...},          # what was measured
     "baseline": {"orjson_tx_per_s": 390000.0, ...}, # measured next to it, same run
     "ratios": {"vs_orjson": 0.16, ...},             # figure / baseline, reported first
     "goals": {"tx_per_s": {"min": 50000}},          # optional: min or max per figure
     "series": [{"name": "throughput", "unit": "rows/s", "x": "t_s",
                 "points": [[0.0, 1234.0], ...]}],   # optional: plotted by bench/report.py
     "notes": ["..."]}

It lands in ``bench/results/<name>.json`` (``<name>-quick.json`` for
``--quick`` runs, so a test never overwrites the figures of a full run). The
directory can be moved with ``STREAMWATCH_BENCH_RESULTS`` (tests point it at a
temporary directory). ``python -m bench.report`` renders ``docs/benchmarks.md``
from these files.

Also here: machine/version facts, percentiles, a stopwatch, RSS of a process
tree from ``/proc``, and :class:`Service`, a ``streamwatch <command>`` child
process on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from streamwatch.launcher import supervisor

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS_ENV = "STREAMWATCH_BENCH_RESULTS"


# -- where results go ---------------------------------------------------------


def results_dir() -> Path:
    """``$STREAMWATCH_BENCH_RESULTS`` or ``bench/results``."""
    return Path(os.environ.get(RESULTS_ENV) or HERE / "results")


def result_path(name: str, quick: bool = False, directory: Path | None = None) -> Path:
    return (directory or results_dir()) / f"{name}{'-quick' if quick else ''}.json"


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def command_line(module: str | None = None, argv: Sequence[str] | None = None) -> str:
    """The command that reproduces this run, e.g. ``python -m bench.bench_feed --quick``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if module is None:
        main = sys.modules.get("__main__")
        spec = getattr(main, "__spec__", None)
        module = spec.name if spec is not None else Path(sys.argv[0]).stem
    module = module.removesuffix(".__main__")
    return shlex.join(["python", "-m", module, *args])


# -- machine and versions -----------------------------------------------------


def memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def java_version() -> str | None:
    """Version of the JDK Spark would use (``streamwatch.core.java``'s choice), or None."""
    try:
        from streamwatch.core.java import find_java_home

        jdk = find_java_home(17)
        home = Path(getattr(jdk, "home", jdk))
    except Exception:  # no JDK: the machine block just says so
        return None
    release = home / "release"
    with contextlib.suppress(OSError):
        m = re.search(r'^JAVA_VERSION="([^"]+)"', release.read_text(), re.M)
        if m:
            return m.group(1)
    try:
        out = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True,
                             text=True, timeout=20).stderr
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r'version "([^"]+)"', out)
    return m.group(1) if m else None


def package_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


_MACHINE: dict[str, Any] | None = None


def machine_info() -> dict[str, Any]:
    """cpus, memory (bytes), python, java, pyspark, os (cached per process) and load_avg."""
    global _MACHINE
    if _MACHINE is None:
        _MACHINE = {
            "cpus": os.cpu_count(),
            "memory": memory_bytes(),
            "python": platform.python_version(),
            "java": java_version(),
            "pyspark": package_version("pyspark"),
            "os": platform.platform(),
        }
    # the load is of this moment, not cached: the 5 and 15 min averages at the end of a
    # run say how busy the machine was while it ran
    return {**_MACHINE, "load_avg": [round(x, 2) for x in os.getloadavg()]}


# -- machine load during a run ------------------------------------------------


class LoadSampler:
    """The 1-minute load average and the machine's busy CPU share, sampled every
    ``period`` s in a daemon thread, so a figure can carry the load *while* it was
    measured (the load average at the end of a run lags by a minute and hides a
    quiet start or a busy middle).

    ``window(t0, t1)`` summarises the samples between two ``time.monotonic()``
    instants: ``{"load1_mean", "load1_max", "cpu_busy_mean", "samples"}``; ``cpu_busy``
    is the share of all cores not idle (from ``/proc/stat``), which counts the
    benchmark's own processes too: a figure at ``cpu_busy`` 1.0 used every core.
    """

    def __init__(self, period: float = 2.0) -> None:
        self.period = period
        self.samples: list[tuple[float, float, float | None]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True, name="load-sampler")
        self._started = False

    def start(self) -> LoadSampler:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    @staticmethod
    def _cpu_times() -> tuple[int, int] | None:
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        except OSError:
            return None
        values = [int(x) for x in fields]
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), idle

    def _run(self) -> None:
        last = self._cpu_times()
        while True:
            time.sleep(self.period)
            now = self._cpu_times()
            busy = None
            if last and now and now[0] > last[0]:
                busy = 1.0 - (now[1] - last[1]) / (now[0] - last[0])
            last = now
            with self._lock:
                self.samples.append((time.monotonic(), os.getloadavg()[0], busy))

    def window(self, t0: float | None = None, t1: float | None = None) -> dict[str, Any]:
        with self._lock:
            picked = [s for s in self.samples if (t0 is None or s[0] >= t0)
                      and (t1 is None or s[0] <= t1)]
        if not picked:  # a window shorter than one period: the load right now
            return {"load1_mean": round(os.getloadavg()[0], 2),
                    "load1_max": round(os.getloadavg()[0], 2), "cpu_busy_mean": None,
                    "samples": 0}
        loads = [s[1] for s in picked]
        busy = [s[2] for s in picked if s[2] is not None]
        return {"load1_mean": round(sum(loads) / len(loads), 2), "load1_max": round(max(loads), 2),
                "cpu_busy_mean": round(sum(busy) / len(busy), 3) if busy else None,
                "samples": len(picked)}


#: One sampler per benchmark process, running from the moment bench.common is imported:
#: result() puts its whole-run summary in the machine block, and a benchmark with several
#: phases stores ``LOAD.window(t0, t1)`` next to each phase's figures.
LOAD = LoadSampler().start()


def load_text(window: Mapping[str, Any] | None) -> str:
    """``load 1.9 (max 2.4), CPU 97 % busy`` for a printed line or a note."""
    if not window:
        return "load unknown"
    busy = window.get("cpu_busy_mean")
    return (f"load {window['load1_mean']:g} (max {window['load1_max']:g})"
            + (f", CPU {busy * 100:.0f} % busy" if busy is not None else ""))


# -- statistics ---------------------------------------------------------------


def percentile(values: Sequence[float], p: float) -> float | None:
    """``p`` in 0..100, linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * p / 100.0
    lo, hi = math.floor(rank), math.ceil(rank)
    return float(ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo))


def percentiles(values: Sequence[float], ps: Iterable[float] = (50, 95, 99)) -> dict[str, Any]:
    """``{"p50": .., "p95": .., "p99": .., "min": .., "max": .., "mean": .., "count": n}``."""
    out: dict[str, Any] = {f"p{p:g}": percentile(values, p) for p in ps}
    out["min"] = float(min(values)) if values else None
    out["max"] = float(max(values)) if values else None
    out["mean"] = float(sum(values) / len(values)) if values else None
    out["count"] = len(values)
    return out


def ratio(figure: float | None, baseline: float | None) -> float | None:
    if figure is None or not baseline:
        return None
    return figure / baseline


class Stopwatch:
    """``with Stopwatch() as sw: ...; sw.seconds`` (perf_counter based)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.seconds = 0.0

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started

    def elapsed(self) -> float:
        return time.perf_counter() - self.started


def batch_rate_points(progress: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    """Rows/s of each micro-batch against the summed batch seconds at its end (for a plot)."""
    points, elapsed = [], 0.0
    for p in progress:
        took = p["durationMs"]["triggerExecution"] / 1000
        elapsed += took
        if took > 0:
            points.append((round(elapsed, 3), p["numInputRows"] / took))
    return points


def series(name: str, points: Sequence[Sequence[float]], *, unit: str, x: str = "t_s",
           kind: str = "line", plot: str | None = None) -> dict[str, Any]:
    """One plotted line; series with the same ``plot`` share one PNG (default: their name)."""
    return {"name": name, "unit": unit, "x": x, "kind": kind, "plot": plot or name,
            "points": [[float(a), float(b)] for a, b in points]}


# -- results ------------------------------------------------------------------


def result(name: str, *, figures: Mapping[str, Any], baseline: Mapping[str, Any] | None = None,
           ratios: Mapping[str, Any] | None = None, series: Sequence[Mapping[str, Any]] = (),
           goals: Mapping[str, Mapping[str, float]] | None = None, quick: bool = False,
           started_at: str | None = None, seconds: float | None = None,
           command: str | None = None, notes: Sequence[str] = (),
           extra: Mapping[str, Any] | None = None,
           load: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A result document; ``load`` is the machine load of the run (default: since this
    process imported bench.common; a process that records several runs passes each one's
    ``LOAD.window(t0, t1)``)."""
    doc: dict[str, Any] = {
        "name": name,
        "command": command or command_line(),
        "quick": quick,
        "machine": {**machine_info(),
                    "load_during_run": dict(load) if load is not None else LOAD.window()},
        "started_at": started_at or utc_now(),
        "seconds": seconds,
        "figures": dict(figures),
        "baseline": dict(baseline or {}),
        "ratios": dict(ratios or {}),
        "goals": {k: dict(v) for k, v in (goals or {}).items()},
        "series": list(series),
        "notes": list(notes),
    }
    if extra:
        doc.update(extra)
    return doc


def goal_verdicts(doc: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per goal: value, target, met, and by how much it is missed (as a factor)."""
    out: dict[str, dict[str, Any]] = {}
    values = {**doc.get("figures", {}), **doc.get("ratios", {})}
    for key, goal in (doc.get("goals") or {}).items():
        value = values.get(key)
        if not isinstance(value, int | float):
            out[key] = {"value": value, "goal": goal, "met": None}
            continue
        met = True
        missed_by = None
        if "min" in goal and value < goal["min"]:
            met, missed_by = False, (goal["min"] / value if value else math.inf)
        if "max" in goal and value > goal["max"]:
            met, missed_by = False, (value / goal["max"] if goal["max"] else math.inf)
        out[key] = {"value": value, "goal": goal, "met": met, "missed_by_factor": missed_by}
    return out


def write_result(doc: Mapping[str, Any], directory: Path | None = None) -> Path:
    """Write ``doc`` atomically to ``<results>/<name>[-quick].json`` and return the path."""
    path = result_path(doc["name"], bool(doc.get("quick")), directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=_json_default) + "\n")
    tmp.replace(path)
    return path


def record(doc: Mapping[str, Any], directory: Path | None = None) -> Path:
    """Write ``doc`` (:func:`write_result`), print its summary and where it went."""
    path = write_result(doc, directory)
    print_figures(doc)
    print(f"wrote {path}")
    return path


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def last_json_object(text: str) -> dict[str, Any] | None:
    """The last JSON object printed in ``text`` (for benchmarks that print their result)."""
    decoder = json.JSONDecoder()
    starts = [i for i in range(len(text)) if text[i] == "{" and (i == 0 or text[i - 1] == "\n")]
    for i in reversed(starts[-200:]):
        try:
            obj, end = decoder.raw_decode(text, i)
        except ValueError:
            continue
        if isinstance(obj, dict) and not text[end:].strip():
            return obj
    return None


def flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}`` (scalars only)."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, int | float | str | bool) or value is None:
            out[name] = value
    return out


def wrap_printed(name: str, printed: Mapping[str, Any], *, command: str, quick: bool,
                 started_at: str, seconds: float) -> dict[str, Any]:
    """A benchmark's printed JSON as a result document (figures = its flattened values;
    keys with ``ratio``/``_over_``/``_vs_`` in their name are listed as ratios)."""
    flat = flatten(printed)
    ratios = {k: v for k, v in flat.items()
              if any(m in k for m in ("ratio", "_over_", "_vs_")) and isinstance(v, int | float)}
    figures = {k: v for k, v in flat.items() if k not in ratios}
    return result(name, figures=figures, ratios=ratios, quick=quick, started_at=started_at,
                  seconds=round(seconds, 1), command=command,
                  notes=["Recorded from the JSON the benchmark printed (python -m bench)."],
                  extra={"printed": dict(printed)})


def print_figures(doc: Mapping[str, Any]) -> None:
    """A short human summary on stdout: ratios first, then figures and goals."""
    print(f"# {doc['name']}{' (quick)' if doc.get('quick') else ''}")
    for section in ("ratios", "figures", "baseline"):
        for key, value in (doc.get(section) or {}).items():
            if isinstance(value, int | float | str | None):
                shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
                print(f"  {section[:-1] if section != 'baseline' else 'baseline'}"
                      f" {key:<34} {shown}")
    for key, v in goal_verdicts(doc).items():
        state = {True: "met", False: "MISSED", None: "n/a"}[v["met"]]
        print(f"  goal {key:<38} {v['goal']} -> {state}")


# -- processes ----------------------------------------------------------------


#: The token the alerting service and the exporter require on writes, for every
#: service a benchmark or a test starts (all on loopback); the processor reads it
#: from the environment it inherits.
INGEST_TOKEN = os.environ.setdefault("STREAMWATCH_INGEST_TOKEN",
                                     "streamwatch-local-ingest-token")


def ingest_headers() -> dict[str, str]:
    """What a benchmark or test sends with its own POSTs to the services."""
    return {"Authorization": f"Bearer {INGEST_TOKEN}"}


def bench_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for child processes: this interpreter for PySpark workers."""
    env = dict(os.environ)
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    env.setdefault("STREAMWATCH_SPARK_LOG_LEVEL", "ERROR")
    env.update(extra or {})
    return env


class Service:
    """``streamwatch <args>`` (or ``python -m <module> <args>``) as a child process in its
    own session, output in ``log_path``. Tests use it too (``tests/procs.py``)."""

    def __init__(self, args: Sequence[str], log_path: Path,
                 env: Mapping[str, str] | None = None, module: str = "streamwatch.cli") -> None:
        self.args = list(args)
        self.module = module
        self.log_path = Path(log_path)
        self.env = self.child_env(env)
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def child_env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        return bench_env(extra)

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module, *self.args]

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()/kill9()
        self.proc = subprocess.Popen(self.command(),
                                     stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
                                     cwd=ROOT, start_new_session=True)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_http(self, url: str, timeout: float = 60.0) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"`{shlex.join(self.command()[1:])}` exited with "
                                   f"{self.proc.returncode}:\n{self.tail()}")
            try:
                if requests.get(url, timeout=1).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{url} did not answer in {timeout:.0f}s:\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def kill9(self) -> None:
        """SIGKILL the whole process group (the driver's JVM and Python workers too)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._close_log()

    def stop(self, timeout: float = 30.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # children left in the group (e.g. a JVM whose parent was stopped) go too
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._close_log()
        return self.proc.returncode

    def _close_log(self) -> None:
        if self._log is not None and not self._log.closed:
            self._log.close()


# -- /proc: process trees and memory ------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``: the launcher's own walk, so both agree on the tree."""
    return sorted(supervisor.descendants(pid))


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace")
    except OSError:
        return ""


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def tree_rss_bytes(pid: int) -> int:
    """RSS of ``pid`` and every descendant (JVM, Python workers)."""
    return rss_bytes(pid) + sum(rss_bytes(p) for p in descendants(pid))


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / f).stat().st_size
    return total
