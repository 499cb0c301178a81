"""The Helm chart's pods without a cluster: `podman kube play` of the rendered manifests.

podman 4.3 plays Deployments (one pod each), PersistentVolumeClaims (named volumes) and
ConfigMaps; it ignores the pod-level securityContext, readiness and startup probes, and
has neither Services, Secrets as a kind, configMap volumes nor StatefulSets. So, and only
so, the rendered documents are adapted, each as Kubernetes would realise it:

- a StatefulSet becomes the Deployment of its one pod, its volumeClaimTemplate the claim
  `data-<name>-0` that Kubernetes would create for that pod;
- the pod securityContext's runAsUser/runAsGroup are copied into each container, as
  containers inherit them, and probe ports are given by number, as the kubelet
  resolves named ones;
- the chart's Secret becomes a podman secret (what secretKeyRef resolves against);
- the driver's configMap volume becomes a read-only hostPath holding the ConfigMap's keys
  as files, as the kubelet projects them;
- Services become hostAliases: each Service name (short and `.svc` forms) -> the static IP
  its pod gets on a podman network this test creates.

Everything else (images, command and args, env, ports, volume mounts, container
securityContext, resources) is played as rendered. The probes podman does not run are
polled from the host at the pod's IP, as the kubelet polls them. The driver's container
then runs with `--master=local[2]` instead of the Kubernetes API (no cluster here), and
SPARK_LOCAL_IP=0.0.0.0 (a local master otherwise keeps the UI on loopback), and
must reach its first batch: the exporter pod reports the query's batch id, posted by the
driver with the ingest token of the chart's Secret.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import secrets
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.containers.stack import run, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(480)]

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / ".tools" / "helm"
NAMESPACE = "streamwatch"
JOB = "hashtags"
QUERY = "hashtags-trends"


def render(release: str) -> list[dict[str, Any]]:
    if not HELM.exists():
        pytest.fail("helm not fetched: run `make tools`")
    # one Spark job: the driver pod is the same template for every job
    out = subprocess.run(
        [str(HELM), "template", release, str(ROOT / "helm" / "streamwatch"),
         "--namespace", NAMESPACE, *[a for job in ("fraud", "orders") for a in
                                     ("--set", f"processor.jobs.{job}.enabled=false")]],
        capture_output=True, text=True, check=True, timeout=60).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def as_deployment(sts: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Deployment of a one-replica StatefulSet's pod and the claims Kubernetes makes
    for it (`<template>-<statefulset>-0`)."""
    name = sts["metadata"]["name"]
    spec = copy.deepcopy(sts["spec"])
    claims = []
    volumes = spec["template"]["spec"].setdefault("volumes", [])
    for template in spec.pop("volumeClaimTemplates", []):
        claim = f"{template['metadata']['name']}-{name}-0"
        claims.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": claim, "namespace": NAMESPACE},
                       "spec": template["spec"]})
        volumes.append({"name": template["metadata"]["name"],
                        "persistentVolumeClaim": {"claimName": claim}})
    for key in ("serviceName", "podManagementPolicy", "persistentVolumeClaimRetentionPolicy"):
        spec.pop(key, None)
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment",
                  "metadata": sts["metadata"], "spec": spec}
    return deployment, claims


def inherit_pod_security(pod: dict[str, Any]) -> None:
    pod_sc = pod.get("securityContext") or {}
    for c in pod["containers"]:
        sc = c.setdefault("securityContext", {})
        for key in ("runAsUser", "runAsGroup", "runAsNonRoot"):
            if key in pod_sc:
                sc.setdefault(key, pod_sc[key])


def resolve_probe_ports(pod: dict[str, Any]) -> None:
    """Probe ports by number: the kubelet resolves a named port itself; podman 4.3 turns
    an httpGet probe into a healthcheck command and may not."""
    for c in pod["containers"]:
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            get = (c.get(kind) or {}).get("httpGet")
            if get:
                get["port"] = named_port(c, get["port"])


def named_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p.get("name") == port)


class ChartPods:
    """The played pods, their network, volumes and secret; removed by `remove()`."""

    def __init__(self, release: str, workdir: Path) -> None:
        self.release = release
        self.workdir = workdir
        self.network = f"{release}-net"
        self.files: list[Path] = []
        self.volumes: set[str] = set()
        self.secrets: list[str] = []
        self.ips: dict[str, str] = {}  # workload name -> pod IP

    def create_network(self) -> None:
        run(["podman", "network", "create", self.network])
        info = json.loads(run(["podman", "network", "inspect", self.network]).stdout)[0]
        subnet = ipaddress.ip_network(info["subnets"][0]["subnet"])
        self._free = (str(h) for h in list(subnet.hosts())[10:])

    def assign_ip(self, workload: str) -> str:
        self.ips[workload] = next(self._free)
        return self.ips[workload]

    def create_secret(self, secret: dict[str, Any]) -> None:
        # podman resolves secretKeyRef against a podman secret holding the Secret's data
        # (base64 values) as JSON
        path = self.workdir / f"{secret['metadata']['name']}.json"
        path.write_text(json.dumps(secret["data"]))
        run(["podman", "secret", "create", secret["metadata"]["name"], str(path)])
        self.secrets.append(secret["metadata"]["name"])

    def play(self, name: str, docs: list[dict[str, Any]], ip: str) -> None:
        path = self.workdir / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        self.files.append(path)
        for d in docs:
            if d["kind"] == "PersistentVolumeClaim":
                self.volumes.add(d["metadata"]["name"])
        run(["podman", "kube", "play", "--network", self.network, "--ip", ip, str(path)],
            timeout=180)

    def container(self, workload: str, name: str) -> str:
        """kube play names a Deployment's pod `<name>-pod` (`-pod-0` in some versions) and
        its containers `<pod>-<container>`."""
        names = run(["podman", "ps", "-a", "--format", "{{.Names}}",
                     "--filter", f"name=^{workload}-pod"]).stdout.split()
        found = [n for n in names if n.endswith(f"-{name}") and not n.endswith("-infra")]
        assert len(found) == 1, (workload, name, names)
        return found[0]

    def inspect(self, workload: str, name: str) -> dict[str, Any]:
        out = run(["podman", "inspect", self.container(workload, name)]).stdout
        return dict(json.loads(out)[0])

    def exec(self, workload: str, name: str, *cmd: str) -> subprocess.CompletedProcess[str]:
        return run(["podman", "exec", self.container(workload, name), *cmd], check=False,
                   timeout=60)

    def logs(self) -> str:
        out = []
        names = run(["podman", "ps", "-a", "--format", "{{.Names}}",
                     "--filter", f"name=^{self.release}-"], check=False).stdout.split()
        for n in names:
            if n.endswith("-infra"):
                continue
            log = run(["podman", "logs", "--tail", "40", n], check=False)
            out.append(f"--- {n}\n{log.stdout[-2500:]}{log.stderr[-2500:]}")
        return "\n".join(out)

    def remove(self) -> None:
        for path in reversed(self.files):
            run(["podman", "kube", "down", str(path)], check=False, timeout=120)
        for volume in self.volumes:
            run(["podman", "volume", "rm", "-f", volume], check=False)
        for secret in self.secrets:
            run(["podman", "secret", "rm", secret], check=False)
        run(["podman", "network", "rm", "-f", self.network], check=False)


@pytest.fixture(scope="module")
def chart_pods(container_tools: None) -> Iterator[tuple[ChartPods, list[dict[str, Any]]]]:
    release = f"kp{secrets.token_hex(3)}"
    with tempfile.TemporaryDirectory(prefix="chart-pods-") as tmp:
        pods = ChartPods(release, Path(tmp))
        try:
            pods.create_network()
            yield pods, render(release)
        finally:
            pods.remove()


def services_to_hosts(docs: list[dict[str, Any]], pods: ChartPods,
                      workloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """hostAliases standing for the Services: each name -> the IP of the pod it selects."""
    aliases: dict[str, list[str]] = {}
    for svc in (d for d in docs if d["kind"] == "Service"):
        selector = svc["spec"]["selector"]
        for w in workloads:
            labels = w["spec"]["template"]["metadata"]["labels"]
            if all(labels.get(k) == v for k, v in selector.items()):
                name = svc["metadata"]["name"]
                aliases.setdefault(pods.ips[w["metadata"]["name"]], []).extend(
                    [name, f"{name}.{NAMESPACE}.svc", f"{name}.{NAMESPACE}.svc.cluster.local"])
    return [{"ip": ip, "hostnames": names} for ip, names in sorted(aliases.items())]


def probe_urls(ip: str, container: dict[str, Any]) -> list[str]:
    urls = []
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = (container.get(kind) or {}).get("httpGet")
        if get:
            urls.append(f"http://{ip}:{named_port(container, get['port'])}{get['path']}")
    return urls


def answers(url: str) -> bool:
    return requests.get(url, timeout=5).ok


def assert_hardened(pods: ChartPods, workload: str, container: dict[str, Any]) -> None:
    """What the container securityContext and mounts promise, read inside the container."""
    name = container["name"]
    assert pods.inspect(workload, name)["HostConfig"]["ReadonlyRootfs"] is True, workload
    ids = pods.exec(workload, name, "sh", "-c", "id -u; id -g").stdout.split()
    assert ids == ["10001", "10001"], (workload, ids)
    status = pods.exec(workload, name, "cat", "/proc/1/status").stdout
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    # capabilities drop [ALL]: none left even in the bounding set
    assert fields["CapBnd"].strip() == "0000000000000000", (workload, fields["CapBnd"])
    assert fields["NoNewPrivs"].strip() == "1", (workload, fields["NoNewPrivs"])
    root = pods.exec(workload, name, "sh", "-c", "touch /opt/probe-write")
    assert root.returncode != 0, (workload, "the root filesystem took a write")
    for mount in container["volumeMounts"]:
        if mount.get("readOnly"):
            continue
        res = pods.exec(workload, name, "sh", "-c",
                        f"touch {mount['mountPath']}/.probe && rm {mount['mountPath']}/.probe")
        assert res.returncode == 0, (workload, mount, res.stderr)


def test_chart_pods_run_under_podman_kube_play(
        chart_pods: tuple[ChartPods, list[dict[str, Any]]]) -> None:
    pods, docs = chart_pods
    secret = next(d for d in docs if d["kind"] == "Secret")
    pods.create_secret(secret)

    workloads: list[dict[str, Any]] = []
    claims: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        if d["kind"] == "Deployment":
            workloads.append(copy.deepcopy(d))
            vols = d["spec"]["template"]["spec"].get("volumes") or []
            names = {v["persistentVolumeClaim"]["claimName"] for v in vols
                     if "persistentVolumeClaim" in v}
            claims[d["metadata"]["name"]] = [c for c in docs if c["kind"] ==
                                             "PersistentVolumeClaim"
                                             and c["metadata"]["name"] in names]
        elif d["kind"] == "StatefulSet":
            deployment, sts_claims = as_deployment(d)
            workloads.append(deployment)
            claims[d["metadata"]["name"]] = sts_claims
    driver_name = f"{pods.release}-streamwatch-{JOB}-driver"
    services = [w for w in workloads if w["metadata"]["name"] != driver_name]
    driver = next(w for w in workloads if w["metadata"]["name"] == driver_name)
    assert len(services) == 5, [w["metadata"]["name"] for w in services]
    for w in workloads:
        pods.assign_ip(w["metadata"]["name"])
    aliases = services_to_hosts(docs, pods, workloads)

    try:
        for w in services:
            name = w["metadata"]["name"]
            pod = w["spec"]["template"]["spec"]
            inherit_pod_security(pod)
            resolve_probe_ports(pod)
            pod["hostAliases"] = aliases
            pods.play(name, [*claims[name], w], pods.ips[name])
        for w in services:
            name = w["metadata"]["name"]
            container = w["spec"]["template"]["spec"]["containers"][0]
            for url in probe_urls(pods.ips[name], container):
                wait_for(f"{name}: {url}", lambda url=url: answers(url), timeout=90, every=1)
            assert_hardened(pods, name, container)

        # The driver: its configMap volume as the files the kubelet would project.
        conf = next(d for d in docs if d["kind"] == "ConfigMap"
                    and d["metadata"]["name"] == f"{driver_name}-conf")
        conf_dir = pods.workdir / "driver-conf"
        conf_dir.mkdir()
        for key, text in conf["data"].items():
            (conf_dir / key).write_text(text)
        conf_dir.chmod(0o755)
        pod = driver["spec"]["template"]["spec"]
        inherit_pod_security(pod)
        resolve_probe_ports(pod)
        pod["hostAliases"] = aliases
        for v in pod["volumes"]:
            if "configMap" in v:
                assert v["configMap"]["name"] == conf["metadata"]["name"]
                v.pop("configMap")
                v["hostPath"] = {"path": str(conf_dir), "type": "Directory"}
        container = pod["containers"][0]
        masters = [a for a in container["args"] if a.startswith("--master=")]
        assert masters == ["--master=k8s://https://kubernetes.default.svc"], masters
        container["args"] = [("--master=local[2]" if a.startswith("--master=") else a)
                             for a in container["args"]]
        # With a local master the processor keeps Spark on loopback unless SPARK_LOCAL_IP
        # is set; with the Kubernetes master the UI listens on every interface, where the
        # kubelet's probes reach it.
        container["env"].append({"name": "SPARK_LOCAL_IP", "value": "0.0.0.0"})
        pods.play(driver_name, [*claims[driver_name], driver], pods.ips[driver_name])
        for url in probe_urls(pods.ips[driver_name], container):
            wait_for(f"the driver: {url}", lambda url=url: answers(url), timeout=150, every=2)
        assert_hardened(pods, driver_name, container)

        exporter = next(w for w in services if w["metadata"]["name"].endswith("-exporter"))
        metrics = f"http://{pods.ips[exporter['metadata']['name']]}:7104/metrics"

        def first_batch() -> bool:
            return any(line.startswith("streamwatch_query_last_batch_id")
                       and f'query="{QUERY}"' in line
                       for line in requests.get(metrics, timeout=5).text.splitlines())

        wait_for(f"the {QUERY} query's first batch at the exporter", first_batch,
                 timeout=150, every=3)
    except BaseException:
        print(pods.logs())
        raise

