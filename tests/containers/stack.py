"""The compose stack under podman, for the container tests (``make test-containers``).

``podman system service`` gives docker-compose its Docker API on a socket of this run;
the compose project has a name of its own, its own network and volumes, and host ports
picked free, so nothing of another run (or a developer's ``make run``) is touched and
everything is removed at the end, on failure too.

podman without systemd never runs health checks by itself, so :class:`HealthTicker`
runs ``podman healthcheck run`` for the project's containers: without it, every
``depends_on: condition: service_healthy`` waits forever.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def run(cmd: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 120,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(cmd), env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-3000:]}"
                           f"\n{proc.stderr[-3000:]}")
    return proc


def compose_services(skip: Iterable[str] = ("grafana",)) -> list[str]:
    """The services of docker-compose.yml, in file order, without ``skip`` (Grafana has no
    registry-free image here): services added to the file are started by the tests too."""
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return [name for name in doc["services"] if name not in set(skip)]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 3.0,
             diagnose: Callable[[], str] | None = None) -> T:
    """Poll ``probe`` until it returns a truthy value; fail naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        try:
            value = probe()
            if value:
                return value
        except (requests.RequestException, ValueError, KeyError, RuntimeError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            detail = diagnose() if diagnose else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                                 f"{'; last error ' + last_error if last_error else ''}\n{detail}")
        time.sleep(every)


class PodmanService:
    """``podman system service`` on a socket of this run (docker-compose's Docker API)."""

    def __init__(self, workdir: Path) -> None:
        self.socket = workdir / "podman.sock"
        self.log_path = workdir / "podman-service.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PodmanService:
        log = self.log_path.open("wb")
        self._proc = subprocess.Popen(
            ["podman", "system", "service", "--time", "0", f"unix://{self.socket}"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_for("the podman API socket", lambda: self.socket.exists() or self._exited(),
                 timeout=30, every=0.2)
        if self._exited():
            raise RuntimeError(f"podman system service exited: {self.log_path.read_text()}")
        return self

    def _exited(self) -> bool:
        return self._proc is not None and self._proc.poll() is not None

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)


class HealthTicker:
    """Runs each container's health check every few seconds, as Docker's daemon would."""

    def __init__(self, project: str, every: float = 4.0) -> None:
        self.project = project
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="health-ticker")

    def start(self) -> HealthTicker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            ids = run(["podman", "ps", "-q", "--filter",
                       f"label=com.docker.compose.project={self.project}"],
                      check=False, timeout=60).stdout.split()
            for cid in ids:
                # Exit status says healthy or not; podman records it for `depends_on`.
                run(["podman", "healthcheck", "run", cid], check=False, timeout=60)


class Stack:
    """One compose project: ``docker-compose -p NAME -f docker-compose.yml -f OVERRIDE``."""

    def __init__(self, project: str, docker_host: str, override: Path,
                 env: dict[str, str]) -> None:
        self.project = project
        self.files = [ROOT / "docker-compose.yml", override]
        self.env = {**os.environ, **env, "DOCKER_HOST": docker_host,
                    "COMPOSE_PROJECT_NAME": project}

    def compose(self, *args: str, timeout: float = 300,
                check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = ["docker-compose", "--no-ansi", "-p", self.project]
        for f in self.files:
            cmd += ["-f", str(f)]
        return run([*cmd, *args], env=self.env, timeout=timeout, check=check)

    def remove(self) -> None:
        """`down -v`, then whatever of the project is left, through podman itself: a
        failed `down` (e.g. a compose file that no longer interpolates) must not leave
        containers running on the machine."""
        down = self.compose("down", "-v", "--remove-orphans", "-t", "10", timeout=300,
                            check=False)
        if down.returncode != 0:
            print(f"docker-compose down failed: {down.stderr[-2000:]}")
        label = f"label=com.docker.compose.project={self.project}"
        ids = run(["podman", "ps", "-aq", "--filter", label], check=False).stdout.split()
        if ids:
            run(["podman", "rm", "-f", "-t", "5", *ids], check=False, timeout=300)
        volumes = run(["podman", "volume", "ls", "-q", "--filter", label],
                      check=False).stdout.split()
        if volumes:
            run(["podman", "volume", "rm", "-f", *volumes], check=False)
        run(["podman", "network", "rm", "-f", f"{self.project}_default"], check=False)

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def inspect(self, service: str) -> dict[str, Any]:
        out = run(["podman", "inspect", self.container(service)]).stdout
        return json.loads(out)[0]

    def ip(self, service: str) -> str:
        networks = self.inspect(service)["NetworkSettings"]["Networks"]
        ips = [n["IPAddress"] for n in networks.values() if n.get("IPAddress")]
        if not ips:
            raise RuntimeError(f"{service} has no IP address (not running?)")
        return ips[0]

    def url(self, service: str, port: int, path: str) -> str:
        return f"http://{self.ip(service)}:{port}{path}"

    def get_json(self, service: str, port: int, path: str, **kw: Any) -> Any:
        r = requests.get(self.url(service, port, path), timeout=10, **kw)
        r.raise_for_status()
        return r.json()

    def network_gateway(self) -> str:
        out = run(["podman", "network", "inspect", f"{self.project}_default"]).stdout
        net = json.loads(out)[0]
        for subnet in net.get("subnets") or []:
            if subnet.get("gateway"):
                return str(subnet["gateway"])
        # CNI-backed podman 4.3 reports the plugin list instead
        for plugin in net.get("plugins", []):
            for ranges in plugin.get("ipam", {}).get("ranges", []):
                for r in ranges:
                    if r.get("gateway"):
                        return str(r["gateway"])
        raise RuntimeError(f"no gateway in {out[:2000]}")

    def exec(self, service: str, *cmd: str, timeout: float = 60,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["podman", "exec", self.container(service), *cmd], timeout=timeout,
                   check=check)

    def state(self, service: str) -> dict[str, Any]:
        return dict(self.inspect(service)["State"])

    def restarts(self, service: str) -> int:
        return int(self.inspect(service).get("RestartCount") or 0)

    def crash(self, service: str) -> int:
        """SIGKILL to the container's main process from the host, as a crash (OOM kill,
        segfault) would end it; returns that pid. ``podman kill`` would not do: podman
        records it as a stop by the user, which ``restart: unless-stopped`` leaves stopped."""
        pid = int(self.state(service)["Pid"])
        if pid <= 0:
            raise RuntimeError(f"{service} is not running: {self.state(service)}")
        os.kill(pid, 9)
        return pid

    def volume_path(self, volume: str) -> Path:
        out = run(["podman", "volume", "inspect", f"{self.project}_{volume}"]).stdout
        return Path(json.loads(out)[0]["Mountpoint"])

    def logs(self, service: str) -> str:
        res = run(["podman", "logs", self.container(service)], check=False, timeout=60)
        return res.stdout + "\n" + res.stderr

    def diagnose(self, services: Iterable[str] | None = None, tail: int = 40) -> str:
        """`ps` and the last log lines of every container: the failure message carries them."""
        parts = [self.compose("ps", check=False, timeout=60).stdout]
        ids = run(["podman", "ps", "-a", "--format", "{{.Names}}", "--filter",
                   f"label=com.docker.compose.project={self.project}"],
                  check=False).stdout.split()
        for name in ids:
            if services is not None and not any(f"_{s}_" in name for s in services):
                continue
            logs = run(["podman", "logs", "--tail", str(tail * 20), name], check=False)
            # Java stack frames would crowd out the lines that say what happened.
            lines = [line for line in (logs.stdout + logs.stderr).splitlines()
                     if not line.startswith(("\tat ", "\t... "))]
            parts.append(f"----- {name}\n" + "\n".join(lines[-tail:]))
        return "\n".join(parts)
