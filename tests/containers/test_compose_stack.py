"""The compose stack, for real: the images `make images OFFLINE=1` built, started by
docker-compose on podman (Spark master + 2 workers, both jobs, the four services and a
Prometheus), asserted on the running containers.

One stack for the module (starting it costs minutes on 2 cores); the tests run in file
order and the last one takes it down and up again with its volumes.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from standardwebhooks.webhooks import Webhook

from tests.containers.stack import HealthTicker, PodmanService, Stack, run, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

VERSION = "0.1.0"
SEED = 7
MAX_TXNS = 20_000
ADMIN_TOKEN = "containers-admin-" + secrets.token_hex(16)
INGEST_TOKEN = "containers-ingest-" + secrets.token_hex(16)
SERVICES = ["tweet-ingester", "txn-simulator", "alerting", "exporter", "spark-master",
            "spark-worker-1", "spark-worker-2", "processor-hashtags", "processor-fraud",
            "prometheus"]
UI_PORTS = ["SPARK_MASTER_UI_PORT", "HASHTAGS_UI_PORT", "FRAUD_UI_PORT", "PROMETHEUS_PORT",
            "GRAFANA_PORT", "EXPORTER_PORT"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Hook:
    webhook_id: str
    alert: dict[str, Any]
    received: datetime


@dataclass
class WebhookReceiver:
    """A subscriber outside the stack: on the host, at the compose network's gateway."""

    host: str
    secret: str = ""
    hooks: list[Hook] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self
        cond = threading.Condition()
        self.cond = cond

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(body, headers)
                except Exception as exc:  # any verification failure is a finding
                    with cond:
                        receiver.failures.append(f"{type(exc).__name__}: {exc}")
                    self.send_response(400)
                else:
                    with cond:
                        receiver.hooks.append(Hook(headers["webhook-id"], payload["data"],
                                                   datetime.now(UTC)))
                        cond.notify_all()
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((self.host, 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}/hook"

    def snapshot(self) -> list[Hook]:
        with self.cond:
            return list(self.hooks)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def write_override(path: Path) -> None:
    """What the test needs on top of docker-compose.yml: a fixed transaction input and the
    tokens every service and job must share."""
    token_env = {"STREAMWATCH_INGEST_TOKEN": INGEST_TOKEN}
    override: dict[str, Any] = {"version": "2.4", "services": {
        "txn-simulator": {"environment": {
            "STREAMWATCH_SEED": str(SEED), "STREAMWATCH_MAX_EVENTS": str(MAX_TXNS),
            "STREAMWATCH_RATE": "400"}},
        # Tweets only need to make trends: a low rate leaves the 2 cores to the fraud job.
        "tweet-ingester": {"environment": {"STREAMWATCH_RATE": "50"}},
        "alerting": {"environment": {**token_env,
                                     "STREAMWATCH_RETRY_SCHEDULE": "0,1,2,5"}},
        "exporter": {"environment": token_env},
        "processor-hashtags": {"environment": token_env},
        "processor-fraud": {"environment": token_env},
    }}
    path.write_text(yaml.safe_dump(override))


@dataclass
class Running:
    stack: Stack
    receiver: WebhookReceiver
    prometheus: str
    subscription_id: str


@pytest.fixture(scope="module")
def running(container_tools: None, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Running]:
    workdir = tmp_path_factory.mktemp("containers")
    override = workdir / "override.yml"
    write_override(override)
    ports = {name: str(free_port()) for name in UI_PORTS}
    project = f"swct{os.getpid()}"
    env = {"STREAMWATCH_ADMIN_TOKEN": ADMIN_TOKEN, "STREAMWATCH_INGEST_TOKEN": INGEST_TOKEN,
           "PROMETHEUS_IMAGE": os.environ.get("PROMETHEUS_IMAGE",
                                              f"streamwatch/prometheus-debian:{VERSION}"),
           **ports}
    podman = PodmanService(workdir).start()
    stack = Stack(project, f"unix://{podman.socket}", override, env)
    ticker = HealthTicker(project).start()
    receiver: WebhookReceiver | None = None
    try:
        # The subscriber exists before the first alert, so every alert is delivered to it.
        stack.compose("up", "-d", "--no-build", "alerting", timeout=300)
        base = stack.url("alerting", 7103, "")
        wait_for("alerting /readyz", lambda: requests.get(f"{base}/readyz", timeout=5).ok,
                 timeout=120, diagnose=lambda: stack.diagnose(["alerting"]))
        receiver = WebhookReceiver(stack.network_gateway())
        r = requests.post(f"{base}/v1/subscriptions", json={"url": receiver.url}, timeout=10,
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        assert r.status_code == 201, r.text
        receiver.secret = r.json()["secret"]
        stack.compose("up", "-d", "--no-build", *SERVICES, timeout=900)
        yield Running(stack, receiver, f"http://127.0.0.1:{ports['PROMETHEUS_PORT']}",
                      r.json()["id"])
    except BaseException:
        print(stack.diagnose())
        raise
    finally:
        ticker.stop()
        stack.remove()
        if receiver is not None:
            receiver.stop()
        podman.stop()


def exporter_trends(stack: Stack) -> Any:
    return stack.get_json("exporter", 7104, "/v1/trends")


def test_rocksdb_loads_because_tmp_is_executable(running: Running) -> None:
    """Docker mounts a bare `tmpfs: [/tmp]` noexec (podman does not): the Spark containers
    must ask for exec, and the fraud job (RocksDB state) must be running on it."""
    stack = running.stack
    for service in ("processor-fraud", "spark-worker-1", "spark-worker-2"):
        mounts = stack.exec(service, "cat", "/proc/mounts").stdout
        tmp = [line for line in mounts.splitlines() if line.split()[1] == "/tmp"]
        assert tmp, f"{service}: /tmp is not a mount:\n{mounts}"
        assert "noexec" not in tmp[0].split()[3].split(","), f"{service}: {tmp[0]}"
        tmpfs = stack.inspect(service)["HostConfig"].get("Tmpfs") or {}
        assert "exec" in tmpfs.get("/tmp", "").split(","), f"{service}: {tmpfs}"


def test_hashtag_trends_reach_the_exporter(running: Running) -> None:
    stack = running.stack
    windows = wait_for("hashtag trends at the exporter",
                       lambda: [w for w in exporter_trends(stack)["windows"] if w["top"]],
                       timeout=900, every=5,
                       diagnose=lambda: stack.diagnose(["processor-hashtags", "exporter"]))
    assert windows[0]["top"][0]["count"] > 0, windows[0]


def test_fraud_alerts_reach_an_outside_webhook_signed(running: Running) -> None:
    stack, receiver = running.stack, running.receiver
    wait_for("signed fraud alerts at the webhook receiver", lambda: len(receiver.snapshot()),
             timeout=900, every=5,
             diagnose=lambda: stack.diagnose(["processor-fraud", "alerting"]))
    assert not receiver.failures, receiver.failures[:5]
    for hook in receiver.snapshot():
        alert = hook.alert
        event_time, detected_at = parse_time(alert["event_time"]), parse_time(
            alert["detected_at"])
        assert event_time <= detected_at <= hook.received, alert


def prometheus_targets(prometheus: str) -> list[dict[str, Any]]:
    r = requests.get(f"{prometheus}/api/v1/targets", timeout=10)
    r.raise_for_status()
    return list(r.json()["data"]["activeTargets"])


def test_prometheus_scrapes_every_target_up(running: Running) -> None:
    expected = {"tweet-ingester", "txn-simulator", "alerting", "exporter", "spark-driver",
                "spark-executors", "spark-master", "spark-worker"}

    def all_up() -> list[dict[str, Any]] | None:
        targets = prometheus_targets(running.prometheus)
        jobs = {t["labels"]["job"] for t in targets}
        ok = jobs >= expected and all(t["health"] == "up" for t in targets)
        return targets if ok else None

    def down() -> str:
        return json.dumps([{k: t.get(k) for k in ("scrapeUrl", "health", "lastError")}
                           for t in prometheus_targets(running.prometheus)
                           if t["health"] != "up"], indent=1)

    targets = wait_for("every Prometheus target UP", all_up, timeout=300, every=5,
                       diagnose=down)
    # One scrape per target: no target appears under two jobs or twice in one.
    urls = [t["scrapeUrl"] for t in targets]
    assert len(urls) == len(set(urls)), urls


FIND_EXECUTOR = r"""
for f in /proc/[0-9]*/cmdline; do
  d=${f%/cmdline}
  if tr '\0' ' ' < "$f" | grep -q 'CoarseGrainedExecutorBackend'; then
    echo "${d#/proc/} $(readlink "$d/cwd")"
  fi
done
"""


def test_decommission_script_migrates_and_stops_an_executor(running: Running) -> None:
    """What Spark's preStop hook runs on Kubernetes (/opt/decom.sh), run where a real
    executor lives: SIGPWR, Spark decommissions the executor, the script returns when it
    has exited. Before the image carried the script, the hook failed (FailedPreStopHook)."""
    stack = running.stack
    found = stack.exec("spark-worker-1", "bash", "-c", FIND_EXECUTOR).stdout.split("\n")
    executors = [line.split() for line in found if line.strip()]
    assert executors, "no executor JVM in spark-worker-1"
    res = stack.exec("spark-worker-1", "/opt/decom.sh", timeout=300, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    pid, workdir = next(e for e in executors if f"pid {e[0]} exited" in res.stdout)
    still = stack.exec("spark-worker-1", "bash", "-c", FIND_EXECUTOR).stdout
    assert f"{pid} " not in still, still
    log = stack.exec("spark-worker-1", "cat", f"{workdir}/stderr").stdout
    assert "decommission" in log.lower(), log[-3000:]


def fraud_query_started(stack: Stack) -> str | None:
    """The fraud query's id from the driver's "query started" line: a query resumed from
    its checkpoint keeps the id, a new checkpoint gets a new one."""
    res = run(["podman", "logs", stack.container("processor-fraud")], check=False)
    logs = res.stdout + "\n" + res.stderr
    for line in logs.splitlines():
        if line.startswith("{") and '"query started"' in line:
            entry = json.loads(line)
            if entry.get("query") == "fraud-alerts":
                return str(entry["id"])
    return None


def test_down_and_up_keeping_volumes_delivers_nothing_twice(running: Running) -> None:
    stack, receiver = running.stack, running.receiver
    before = {h.alert["alert_id"] for h in receiver.snapshot()}
    assert before, "no alert was delivered before the restart"
    query_id = fraud_query_started(stack)
    assert query_id, stack.diagnose(["processor-fraud"])
    stack.compose("down", "-t", "20", timeout=300)
    assert run(["podman", "volume", "exists", f"{stack.project}_checkpoints"],
               check=False).returncode == 0
    stack.compose("up", "-d", "--no-build", *SERVICES, timeout=900)
    resumed = wait_for("the fraud query started again", lambda: fraud_query_started(stack),
                       timeout=600, every=5,
                       diagnose=lambda: stack.diagnose(["processor-fraud"]))
    assert resumed == query_id, "the fraud query did not resume from its checkpoint volume"
    base = stack.url("alerting", 7103, "")

    def stored_ids() -> set[str]:
        r = requests.get(f"{base}/v1/alerts?limit=1000", timeout=10)
        r.raise_for_status()
        alerts = r.json()["alerts"]
        assert len(alerts) < 1000, "more alerts than one page: raise the limit or page"
        return {a["alert_id"] for a in alerts}

    def all_delivered() -> bool:
        delivered = {h.alert["alert_id"] for h in receiver.snapshot()}
        return bool(stored_ids()) and stored_ids() <= delivered

    wait_for("every stored alert delivered", all_delivered, timeout=300, every=5)
    hooks = receiver.snapshot()
    ids = [h.alert["alert_id"] for h in hooks]
    assert len(ids) == len(set(ids)), "an alert was delivered twice"
    assert len({h.webhook_id for h in hooks}) == len(hooks)
    assert before <= set(ids)
    assert not receiver.failures, receiver.failures[:5]
