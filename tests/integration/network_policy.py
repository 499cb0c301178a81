"""NetworkPolicy semantics as Kubernetes applies them, over rendered manifests.

A pod is isolated for ingress once any policy of its namespace selects it with policy
type Ingress; it then accepts a connection only if some ingress rule of some selecting
policy admits both the source (an absent or empty `from` admits every source; a peer's
podSelector alone means pods of the policy's namespace, a namespaceSelector alone every
pod of the selected namespaces, both together their intersection) and the destination
port (absent or empty `ports`: every port; a named port is the destination container's
port of that name). Policies add up: there is no deny rule.

The pods of a rendered chart are read from its workloads (pod templates), hook Pods, the
executor pod template of native mode (in the driver's ConfigMap) and SparkApplications.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

SPARK = ("spark-driver", "spark-executor")
# Ports Spark gives the pods it creates itself: the executors' block manager is fixed by
# spark.blockManager.port, their RPC port is picked at random (one stands for all).
EXECUTOR_PORTS = {"blockmanager": 7079, "executor-rpc": 40123}
# spark-submit's names for the driver pod's ports in cluster mode (operator mode).
CLUSTER_DRIVER_PORTS = {"driver-rpc-port": 7078, "blockmanager": 7079, "spark-ui": 4040}


@dataclass(eq=False)
class Pod:
    name: str
    namespace: str
    labels: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)  # container port name -> number
    calls: list[str] = field(default_factory=list)  # strings of args/env that may hold URLs

    @property
    def component(self) -> str:
        return self.labels.get("app.kubernetes.io/component", "")

    @property
    def job(self) -> str | None:
        return self.labels.get("streamwatch.io/job")

    def __repr__(self) -> str:
        return f"{self.namespace}/{self.name}"


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A LabelSelector; an empty one selects everything."""
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and labels.get(key) in values:
            return False
    return True


def _peer_admits(peer: dict[str, Any], policy_ns: str, src: Pod,
                 namespaces: dict[str, dict[str, str]]) -> bool:
    if "ipBlock" in peer:
        return True  # pod IPs are unknown here: count an ipBlock as admitting (pessimistic)
    if "namespaceSelector" in peer:
        ns_ok = selects(peer["namespaceSelector"], namespaces.get(src.namespace, {}))
    else:
        ns_ok = src.namespace == policy_ns
    pod_ok = selects(peer.get("podSelector"), src.labels)
    return ns_ok and pod_ok


def _port_admits(ports: list[dict[str, Any]] | None, dst: Pod, port: int) -> bool:
    if not ports:
        return True
    for entry in ports:
        if entry.get("protocol", "TCP") != "TCP":
            continue
        want = entry.get("port")
        if want is None:
            return True
        if isinstance(want, str):
            if dst.ports.get(want) == port:
                return True
        elif want <= port <= entry.get("endPort", want):
            return True
    return False


def admits(policies: list[dict[str, Any]], namespaces: dict[str, dict[str, str]],
           src: Pod, dst: Pod, port: int) -> bool:
    """Whether a TCP connection from `src` to `dst`:`port` is allowed."""
    selecting = []
    for policy in policies:
        spec = policy["spec"]
        types = spec.get("policyTypes") or ["Ingress"]
        if (policy["metadata"]["namespace"] == dst.namespace and "Ingress" in types
                and selects(spec["podSelector"], dst.labels)):
            selecting.append(policy)
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from")
            peer_ok = not peers or any(
                _peer_admits(p, policy["metadata"]["namespace"], src, namespaces) for p in peers)
            if peer_ok and _port_admits(rule.get("ports"), dst, port):
                return True
    return False


def _ports(container: dict[str, Any]) -> dict[str, int]:
    return {p.get("name") or str(p["containerPort"]): p["containerPort"]
            for p in container.get("ports") or []}


def _strings(container: dict[str, Any]) -> list[str]:
    out = [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]
    out += [str(e["value"]) for e in container.get("env") or [] if "value" in e]
    return out


def pods_of(docs: list[dict[str, Any]]) -> list[Pod]:
    """Every pod the rendered manifests make (one per workload, replicas alike)."""
    pods: list[Pod] = []
    for d in docs:
        kind, meta = d["kind"], d["metadata"]
        ns = meta["namespace"]
        if kind in ("Deployment", "StatefulSet"):
            spec = d["spec"]["template"]
            cs = spec["spec"]["containers"]
            pods.append(Pod(meta["name"], ns, dict(spec["metadata"]["labels"]),
                            {k: v for c in cs for k, v in _ports(c).items()},
                            [s for c in cs for s in _strings(c)]))
        elif kind == "Pod":
            cs = d["spec"]["containers"]
            pods.append(Pod(meta["name"], ns, dict(meta["labels"]),
                            {k: v for c in cs for k, v in _ports(c).items()},
                            [s for c in cs for s in _strings(c)]))
        elif kind == "ConfigMap" and "executor-pod-template.yaml" in (d.get("data") or {}):
            template = yaml.safe_load(d["data"]["executor-pod-template.yaml"])
            pods.append(Pod(meta["name"].removesuffix("-conf") + "-exec-1", ns,
                            dict(template["metadata"]["labels"]), dict(EXECUTOR_PORTS)))
        elif kind == "SparkApplication":
            spec = d["spec"]
            pods.append(Pod(meta["name"] + "-driver", ns, dict(spec["driver"]["labels"]),
                            dict(CLUSTER_DRIVER_PORTS), [str(a) for a in spec["arguments"]]))
            pods.append(Pod(meta["name"] + "-exec-1", ns, dict(spec["executor"]["labels"]),
                            dict(EXECUTOR_PORTS)))
    return pods


URL = re.compile(r"http://([a-z0-9][a-z0-9.-]*):(\d+)")


def needed_connections(docs: list[dict[str, Any]], pods: list[Pod]) -> set[tuple[Pod, Pod, int]]:
    """(source, destination, pod port) for every in-cluster URL a pod's manifest names,
    resolved as kube-proxy does: Service name and port -> selected pods, targetPort.

    A job's executors read the feed of its `--source=feed:` URL (the feed reader runs on
    them); everything else a job calls (sinks, progress) is posted by its driver."""
    services = {(s["metadata"]["namespace"], s["metadata"]["name"]): s
                for s in docs if s["kind"] == "Service"}
    need: set[tuple[Pod, Pod, int]] = set()
    for src in pods:
        for text in src.calls:
            for host, port in URL.findall(text):
                name = host.split(".")[0]
                ns = host.split(".")[1] if "." in host else src.namespace
                svc = services.get((ns, name))
                if svc is None:
                    continue
                sport = next((p for p in svc["spec"]["ports"] if p["port"] == int(port)), None)
                assert sport is not None, f"{src} calls {host}:{port}, which {name} lacks"
                target = sport.get("targetPort", sport["port"])
                clients = [src]
                if src.component == "spark-driver" and text.startswith("--source=feed:"):
                    clients += [p for p in pods if p.component == "spark-executor"
                                and p.job == src.job]
                for dst in pods:
                    if dst.namespace != ns or not selects(
                            {"matchLabels": svc["spec"]["selector"]}, dst.labels):
                        continue
                    number = dst.ports.get(target) if isinstance(target, str) else target
                    assert number, f"{svc['metadata']['name']}: no port {target} on {dst}"
                    need.update((c, dst, number) for c in clients)
    return need


def same_spark_job(a: Pod, b: Pod) -> bool:
    return a.component in SPARK and b.component in SPARK and a.job is not None and a.job == b.job
