"""What the Spark containers of the compose stack are doing, read from outside the queries:
committed micro-batches (the checkpoint volume, read on the host), the id a driver started
its query with (its log), and the executors of a worker with their Python workers and the
memory each process holds (/proc inside the worker container)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tests.containers.stack import Stack, run

# One record per process: its pid, parent, resident, peak resident and proportional (shared
# pages split among their users: forked Python workers share most of theirs) memory, command
# line.
PROCESSES = r"""
for d in /proc/[0-9]*; do
  [ -r "$d/status" ] || continue
  st=$(cat "$d/status" "$d/smaps_rollup" 2>/dev/null | grep -E '^(PPid|VmRSS|VmHWM|Pss):' \
       | tr -s ' \t' ' ' | tr '\n' ' ')
  cmd=$(tr '\0' ' ' < "$d/cmdline" 2>/dev/null | cut -c1-4000)
  echo "${d#/proc/}|$st|$cmd"
done
"""


def committed_batches(stack: Stack, checkpoint: str) -> list[int]:
    """Batch ids with a commit file in ``/checkpoints/<checkpoint>/commits`` (what a
    restarted query resumes after)."""
    commits = stack.volume_path("checkpoints") / checkpoint / "commits"
    if not commits.is_dir():
        return []
    return sorted(int(p.name) for p in commits.iterdir() if p.name.isdigit())


def query_started_ids(stack: Stack, service: str, query: str) -> list[str]:
    """The ids of every "query started" log line of ``query`` in ``service``'s log, oldest
    first (a container restarted by its policy keeps its log)."""
    ids = []
    for line in stack.logs(service).splitlines():
        if line.startswith("{") and '"query started"' in line:
            entry = json.loads(line)
            if entry.get("query") == query:
                ids.append(str(entry["id"]))
    return ids


def app_id(stack: Stack, app_name: str) -> str | None:
    """The running application id of ``app_name`` at the master (None while it has none)."""
    master = stack.get_json("spark-master", 8080, "/json/")
    for app in master.get("activeapps", []):
        if app.get("name") == app_name:
            return str(app["id"])
    return None


@dataclass
class Process:
    pid: int
    ppid: int
    rss_kb: int
    hwm_kb: int
    pss_kb: int
    cmd: str
    children: list[Process] = field(default_factory=list)

    def descendants(self) -> list[Process]:
        out = []
        for c in self.children:
            out += [c, *c.descendants()]
        return out


@dataclass
class Executor:
    worker: str
    app_id: str
    jvm: Process
    python: list[Process]  # the pyspark daemon and its forked workers

    def line(self) -> str:
        py_rss = sum(p.rss_kb for p in self.python)
        py_hwm = sum(p.hwm_kb for p in self.python)
        py_pss = sum(p.pss_kb for p in self.python)
        return (f"{self.worker} {self.app_id}: JVM RSS {self.jvm.rss_kb // 1024} MiB "
                f"(peak {self.jvm.hwm_kb // 1024}); {len(self.python)} Python processes "
                f"RSS {py_rss // 1024} MiB (sum of peaks {py_hwm // 1024}), "
                f"PSS {py_pss // 1024} MiB")


def _kb(status: str, key: str) -> int:
    m = re.search(rf"{key}: (\d+)", status)
    return int(m.group(1)) if m else 0


def executors(stack: Stack, worker: str) -> list[Executor]:
    """Every executor JVM in ``worker`` with the Python processes below it."""
    out = stack.exec(worker, "bash", "-c", PROCESSES, timeout=60).stdout
    procs: dict[int, Process] = {}
    for line in out.splitlines():
        parts = line.split("|", 2)
        if len(parts) != 3 or not parts[0].isdigit():
            continue
        procs[int(parts[0])] = Process(int(parts[0]), _kb(parts[1], "PPid"),
                                       _kb(parts[1], "VmRSS"), _kb(parts[1], "VmHWM"),
                                       _kb(parts[1], "Pss"), parts[2].strip())
    for p in procs.values():
        if p.ppid in procs:
            procs[p.ppid].children.append(p)
    found = []
    for p in procs.values():
        if "CoarseGrainedExecutorBackend" in p.cmd:
            m = re.search(r"--app-id (\S+)", p.cmd)
            python = [d for d in p.descendants() if "python" in d.cmd.split(" ", 1)[0]
                      or "pyspark" in d.cmd]
            found.append(Executor(worker, m.group(1) if m else "?", p, python))
    return found


def container_memory(stack: Stack, services: list[str]) -> dict[str, str]:
    """``podman stats --no-stream``: each container's memory use as podman reports it."""
    names = [stack.container(s) for s in services]
    res = run(["podman", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}",
               *names], check=False, timeout=60)
    usage = {}
    for line in res.stdout.splitlines():
        name, _, mem = line.partition("\t")
        usage[name.removeprefix(f"{stack.project}_").removesuffix("_1")] = mem.strip()
    return usage


def executor_peaks(stack: Stack, driver: str, app: str) -> list[str]:
    """The driver's view of its executors' peak memory (Spark's executor metrics): heap in
    use, the JVM's off-heap (metaspace, code cache) and the direct buffer pool, in MiB."""
    out = []
    for e in stack.get_json(driver, 4040, f"/api/v1/applications/{app}/allexecutors"):
        peaks = e.get("peakMemoryMetrics") or {}
        if e.get("id") == "driver" or not peaks:
            continue
        mib = {k: int(peaks.get(k, 0)) // 2**20 for k in
               ("JVMHeapMemory", "JVMOffHeapMemory", "DirectPoolMemory")}
        out.append(f"{driver} executor {e['id']} ({e.get('hostPort')}, "
                   f"{'active' if e.get('isActive') else 'gone'}): peak heap "
                   f"{mib['JVMHeapMemory']} MiB, JVM off-heap {mib['JVMOffHeapMemory']} MiB, "
                   f"direct buffers {mib['DirectPoolMemory']} MiB")
    return out


def committed_offset(stack: Stack, checkpoint: str) -> int | None:
    """The feed offset the newest committed batch of ``checkpoint`` read up to (the last
    line of its offsets-log entry, ``{"offset": N}``); None before the first commit."""
    batches = committed_batches(stack, checkpoint)
    if not batches:
        return None
    entry = stack.volume_path("checkpoints") / checkpoint / "offsets" / str(batches[-1])
    return int(json.loads(entry.read_text().strip().splitlines()[-1])["offset"])
