"""Deploy defects a first real run showed (issue 13), checked on the rendered files; the
container tests (`make test-containers`) run the same paths for real where they can run
here.

Each check reads the files the way the component that failed reads them: docker's tmpfs
defaults, spark-submit's Python detection, the spark-operator webhook's volume merge,
the PodDisruptionBudget controller's rule for owners without a scale subresource,
Spark's metrics servlet paths, Prometheus' service discovery of a ServiceMonitor.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration import network_policy as netpol
from tests.integration.test_deploy_helm import CHART, needs_helm, render

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = shutil.which("docker-compose")
OPERATOR = ("-f", str(CHART / "ci" / "operator-values.yaml"))


def compose_config() -> dict[str, Any]:
    env = {**os.environ, "STREAMWATCH_ADMIN_TOKEN": "t" * 32}
    res = subprocess.run([str(COMPOSE), "-f", str(ROOT / "docker-compose.yml"), "config"],
                         capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    return dict(yaml.safe_load(res.stdout))


@pytest.mark.skipif(COMPOSE is None, reason="docker-compose not installed")
def test_spark_containers_tmp_allows_exec_for_rocksdb() -> None:
    """Docker mounts `tmpfs: [/tmp]` with noexec; RocksDB loads its library from there."""
    services = compose_config()["services"]
    spark = [n for n, s in services.items() if str(s.get("image", "")).startswith(
        "streamwatch/spark")]
    assert len(spark) >= 5
    for name in spark:
        svc = services[name]
        if not svc.get("read_only"):
            continue
        tmpfs = svc.get("tmpfs") or []
        tmpfs = [tmpfs] if isinstance(tmpfs, str) else tmpfs
        tmp = [t for t in tmpfs if t.split(":")[0] == "/tmp"]
        assert tmp, f"{name}: read-only root without a /tmp tmpfs"
        options = tmp[0].split(":", 1)[1].split(",") if ":" in tmp[0] else []
        assert "exec" in options, f"{name}: /tmp is mounted noexec by Docker ({tmp[0]})"


def python_primary_resource(resource: str) -> bool:
    """SparkSubmit.isPython: a primary resource runs as Python only if it ends in .py."""
    return resource.endswith(".py")


@needs_helm
def test_operator_main_application_file_is_python_and_in_the_image() -> None:
    apps = [d for d in render(*OPERATOR) if d["kind"] == "SparkApplication"]
    assert apps
    dockerfile = (ROOT / "Dockerfile").read_text()
    for app in apps:
        main = app["spec"]["mainApplicationFile"]
        assert python_primary_resource(main), f"spark-submit would treat {main} as a JAR"
        path = main.removeprefix("local://")
        spark_stage = dockerfile.split("AS spark\n", 1)[1]
        assert re.search(rf"^COPY \S+ {re.escape(path)}$", spark_stage, re.M), (
            f"{path} is not copied into the spark image")


def executor_pod_volumes(app: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Volume names and mount paths of an executor pod, built as they are: Spark adds the
    `spark.kubernetes.executor.volumes.*` ones, then the operator's webhook appends every
    `spec.volumes` entry the executor's volumeMounts name, without de-duplicating."""
    conf = app["spec"].get("sparkConf") or {}
    names, paths = [], []
    pattern = re.compile(r"spark\.kubernetes\.executor\.volumes\.([^.]+)\.([^.]+)\.mount\.path")
    for key, value in conf.items():
        m = pattern.fullmatch(key)
        if m:
            names.append(m.group(2))
            paths.append(value)
    declared = {v["name"] for v in app["spec"].get("volumes") or []}
    for mount in app["spec"]["executor"].get("volumeMounts") or []:
        if mount["name"] in declared:
            names.append(mount["name"])
        paths.append(mount["mountPath"])
    return names, paths


@needs_helm
def test_operator_executor_pods_have_each_volume_once() -> None:
    apps = [d for d in render(*OPERATOR) if d["kind"] == "SparkApplication"]
    assert apps
    for app in apps:
        names, paths = executor_pod_volumes(app)
        assert "checkpoints" in names, "executors lost the checkpoint volume"
        twice = [n for n, c in Counter(names).items() if c > 1]
        assert not twice, f"{app['metadata']['name']}: executor volumes twice: {twice}"
        twice = [p for p, c in Counter(paths).items() if c > 1]
        assert not twice, f"{app['metadata']['name']}: executor mount paths twice: {twice}"


@needs_helm
def test_executor_pdb_can_allow_an_eviction() -> None:
    """Pods whose owner has no scale subresource (executors: owned by the driver Pod) get a
    budget only from an integer minAvailable; maxUnavailable or a percentage allows zero
    evictions and hangs `kubectl drain`."""
    docs = render()
    pdbs = [d for d in docs if d["kind"] == "PodDisruptionBudget"
            and d["spec"]["selector"]["matchLabels"].get("app.kubernetes.io/component")
            == "spark-executor"]
    assert pdbs
    jobs = [d for d in docs if d["kind"] == "Deployment"
            and d["metadata"]["labels"].get("app.kubernetes.io/component") == "spark-driver"]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    executors = values["processor"]["executor"]["instances"] * len(jobs)
    for pdb in pdbs:
        spec = pdb["spec"]
        assert "maxUnavailable" not in spec, spec
        assert isinstance(spec.get("minAvailable"), int), spec
        # evictions allowed while every executor is healthy: one at a time, not none
        assert executors - spec["minAvailable"] == 1, (executors, spec)


def spark_metrics_paths(conf_text: str) -> dict[str, str]:
    """PrometheusServlet path per metrics instance (`*` applies to those not named)."""
    paths = {}
    for line in conf_text.splitlines():
        m = re.match(r"spark\.metrics\.conf\.([^.]+)\.sink\.prometheusServlet\.path\s+(\S+)",
                     line)
        if m:
            paths[m.group(1)] = m.group(2)
    return paths


def test_compose_prometheus_scrapes_paths_spark_serves() -> None:
    paths = spark_metrics_paths((ROOT / "docker" / "spark-defaults.conf").read_text())
    prom = yaml.safe_load((ROOT / "monitoring" / "prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    # the master's UI serves the master instance; workers and drivers their own
    for job, instance in (("spark-master", "master"), ("spark-worker", "worker"),
                          ("spark-driver", "driver")):
        assert job in jobs, f"Prometheus does not scrape {job}"
        served = paths.get(instance, paths.get("*"))
        assert jobs[job]["metrics_path"] == served, (job, jobs[job]["metrics_path"], served)
    # two instances on one UI must not share a path (one handler would shadow the other)
    assert paths.get("master", paths.get("*")) != paths.get("applications", paths.get("*"))


@needs_helm
def test_each_service_monitor_endpoint_is_one_scrape_target() -> None:
    """Prometheus scrapes every Service a ServiceMonitor selects that has the endpoint's
    port: a headless twin of a Service would double every `sum by (feed)`."""
    docs = render("--api-versions", "monitoring.coreos.com/v1/ServiceMonitor")
    services = [d for d in docs if d["kind"] == "Service"]
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert monitors
    for monitor in monitors:
        for endpoint in monitor["spec"]["endpoints"]:
            matched = [s for s in services
                       if netpol.selects(monitor["spec"]["selector"],
                                         s["metadata"].get("labels", {}))
                       and any(p.get("name") == endpoint["port"] for p in s["spec"]["ports"])]
            assert matched, (monitor["metadata"]["name"], endpoint["port"])
            # Services in front of the same pods are the same targets scraped again.
            pods = Counter(tuple(sorted(s["spec"]["selector"].items())) for s in matched)
            twice = [s["metadata"]["name"] for s in matched
                     if pods[tuple(sorted(s["spec"]["selector"].items()))] > 1]
            assert not twice, (monitor["metadata"]["name"], endpoint["port"], twice)


def dashboard_jobs() -> set[str]:
    jobs: set[str] = set()
    for path in (CHART / "dashboards").glob("*.json"):
        for m in re.finditer(r'job=~?\\"([^"\\]+)\\"', path.read_text()):
            jobs.update(m.group(1).split("|"))
    return jobs


def scrape_jobs(docs: list[dict[str, Any]]) -> set[str]:
    """The `job` label of every target the ServiceMonitors make, as the Prometheus Operator
    sets it: from the Service label named by jobLabel (else the Service name), then the
    endpoint's relabelings; a Service without the endpoint's port yields no target."""
    services = [d for d in docs if d["kind"] == "Service"]
    jobs = set()
    for monitor in (d for d in docs if d["kind"] == "ServiceMonitor"):
        for endpoint in monitor["spec"]["endpoints"]:
            for svc in services:
                labels = svc["metadata"].get("labels", {})
                if not netpol.selects(monitor["spec"]["selector"], labels) or not any(
                        p.get("name") == endpoint["port"] for p in svc["spec"]["ports"]):
                    continue
                key = monitor["spec"].get("jobLabel")
                job = labels[key] if key in labels else svc["metadata"]["name"]
                for relabel in endpoint.get("relabelings") or []:
                    if relabel.get("targetLabel") == "job" and not relabel.get("sourceLabels"):
                        job = relabel["replacement"]
                jobs.add(job)
    return jobs


@needs_helm
def test_dashboards_job_names_exist_on_kubernetes() -> None:
    """Prometheus names a ServiceMonitor's targets' job after the Service unless jobLabel
    names a Service label to take it from; the dashboards select compose's job names."""
    jobs = scrape_jobs(render("--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"))
    wanted = dashboard_jobs()
    assert wanted, "no job selector found in the dashboards"
    assert wanted <= jobs, f"dashboards select jobs no ServiceMonitor yields: {wanted - jobs}"


# NetworkPolicy: evaluated as Kubernetes evaluates it (tests/integration/network_policy.py)
# over every pod the chart makes, in both processor modes.
NAMESPACES = {ns: {"kubernetes.io/metadata.name": ns}
              for ns in ("streamwatch", "other", "monitoring", "ingress-nginx")}
PROMETHEUS = netpol.Pod("prometheus-k8s-0", "monitoring", {"app.kubernetes.io/name": "prometheus"})
STRANGERS = [
    netpol.Pod("curl", "other", {}),
    netpol.Pod("curl", "streamwatch", {}),  # the release's own namespace, not its pods
    netpol.Pod("prometheus-0", "other", {"app.kubernetes.io/name": "prometheus"}),
    netpol.Pod("grafana-0", "monitoring", {"app.kubernetes.io/name": "grafana"}),
]
MODES = pytest.mark.parametrize("values", [(), OPERATOR], ids=["native", "operator"])


def chart_network(*values: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                           list[netpol.Pod]]:
    docs = render("--api-versions", "monitoring.coreos.com/v1/ServiceMonitor", *values)
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    assert policies, "no NetworkPolicy rendered"
    return docs, policies, netpol.pods_of(docs)


def scrape_targets(docs: list[dict[str, Any]], pods: list[netpol.Pod]) -> set[tuple[Any, int]]:
    """(pod, port) of every target the ServiceMonitors give Prometheus."""
    services = [d for d in docs if d["kind"] == "Service"]
    targets = set()
    for monitor in (d for d in docs if d["kind"] == "ServiceMonitor"):
        for endpoint in monitor["spec"]["endpoints"]:
            for svc in services:
                if not netpol.selects(monitor["spec"]["selector"],
                                      svc["metadata"].get("labels", {})):
                    continue
                for port in svc["spec"]["ports"]:
                    if port.get("name") != endpoint["port"]:
                        continue
                    for pod in pods:
                        if netpol.selects({"matchLabels": svc["spec"]["selector"]}, pod.labels):
                            target = port.get("targetPort", port["port"])
                            targets.add((pod, pod.ports[target] if isinstance(target, str)
                                         else target))
    return targets


@needs_helm
@MODES
def test_network_policy_refuses_pods_outside_the_release_on_every_port(
        values: tuple[str, ...]) -> None:
    """An API or UI port shared with metrics must not open to every namespace."""
    _, policies, pods = chart_network(*values)
    open_ = [(s, d, port) for s in STRANGERS for d in pods for port in d.ports.values()
             if netpol.admits(policies, NAMESPACES, s, d, port)]
    assert not open_, f"admitted from outside the release: {open_[:8]}"


@needs_helm
@MODES
def test_network_policy_admits_prometheus_to_the_metrics_ports_only(
        values: tuple[str, ...]) -> None:
    docs, policies, pods = chart_network(*values)
    targets = scrape_targets(docs, pods)
    if not values:
        assert {p.component for p, _ in targets} >= {
            "tweet-ingester", "txn-simulator", "order-simulator", "alerting", "exporter",
            "spark-driver"}, targets
    refused = [t for t in targets if not netpol.admits(policies, NAMESPACES, PROMETHEUS, *t)]
    assert not refused, f"Prometheus cannot scrape {refused}"
    # the driver UI serves the metrics in both modes (operator mode has no monitor of it)
    ui = {(p, 4040) for p in pods if p.component == "spark-driver"}
    extra = [(d, port) for d in pods for port in d.ports.values()
             if (d, port) not in targets | ui
             and netpol.admits(policies, NAMESPACES, PROMETHEUS, d, port)]
    assert not extra, f"Prometheus admitted beyond the metrics ports: {extra}"


@needs_helm
@MODES
def test_network_policy_admits_each_release_pod_exactly_where_it_calls(
        values: tuple[str, ...]) -> None:
    """Every in-cluster URL a pod's manifest names is reachable, and nothing else is, but
    a Spark job's own driver and executors among themselves."""
    docs, policies, pods = chart_network(*values)
    need = netpol.needed_connections(docs, pods)
    called = {(s.component, s.job, d.component) for s, d, _ in need}
    for edge in [("spark-driver", "fraud", "alerting"), ("spark-executor", "fraud",
                                                        "txn-simulator"),
                 ("spark-executor", "orders", "order-simulator"),
                 ("spark-driver", "hashtags", "exporter"), ("exporter", None, "alerting"),
                 ("test", None, "order-simulator")]:
        assert edge in called, f"the manifests no longer show {edge}: {sorted(called)}"
    wrong = []
    for src in pods:
        for dst in pods:
            if src is dst:
                continue
            for port in dst.ports.values():
                expected = (src, dst, port) in need or netpol.same_spark_job(src, dst)
                if netpol.admits(policies, NAMESPACES, src, dst, port) != expected:
                    wrong.append(f"{src} -> {dst}:{port} {'refused' if expected else 'admitted'}")
    assert not wrong, "\n".join(wrong[:20])


@needs_helm
def test_network_policy_admits_the_configured_api_clients() -> None:
    clients = ('{"exporter": [{"namespaceSelector": {"matchLabels": '
               '{"kubernetes.io/metadata.name": "ingress-nginx"}}}]}')
    _, policies, pods = chart_network("--set-json", f"networkPolicy.apiClients={clients}")
    controller = netpol.Pod("controller", "ingress-nginx", {"app.kubernetes.io/name": "nginx"})
    for dst in pods:
        for port in dst.ports.values():
            expected = dst.component == "exporter" and port == dst.ports["http"]
            assert netpol.admits(policies, NAMESPACES, controller, dst, port) == expected, (
                dst, port)


@needs_helm
def test_kubernetes_scrape_jobs_are_composes() -> None:
    """Every compose scrape job of a component the chart runs (all but Spark's standalone
    master and workers) is a job on Kubernetes too, so queries move between the two."""
    prom = yaml.safe_load((ROOT / "monitoring" / "prometheus.yml").read_text())
    compose = {j["job_name"] for j in prom["scrape_configs"]} - {"spark-master", "spark-worker"}
    jobs = scrape_jobs(render("--api-versions", "monitoring.coreos.com/v1/ServiceMonitor"))
    assert compose <= jobs, f"compose jobs missing on Kubernetes: {compose - jobs}"
