"""Offline checks of the Helm chart and the kustomize manifests (issue 7).

Every rendered manifest is validated against the Kubernetes 1.31 OpenAPI schemas with
kubernetes-validate (strict: unknown fields fail). The two CRD kinds the chart renders
(SparkApplication, ServiceMonitor) are not in those schemas, so they are checked against
the small schemas below, which pin the fields the chart relies on.

helm and kubectl come from `make tools` (.tools/); without them these tests skip.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "streamwatch"
HELM = ROOT / ".tools" / "helm"
KUBECTL = ROOT / ".tools" / "kubectl"
K8S_VERSION = "1.31.0"

needs_helm = pytest.mark.skipif(not HELM.exists(), reason="helm not fetched: run `make tools`")
needs_kubectl = pytest.mark.skipif(not KUBECTL.exists(),
                                   reason="kubectl not fetched: run `make tools`")

_STR = {"type": "string"}
_LABELS = {"type": "object", "additionalProperties": _STR}
_META = {"type": "object", "required": ["name", "namespace"],
         "properties": {"name": _STR, "namespace": _STR, "labels": _LABELS}}
_POD_PART = {"type": "object", "required": ["serviceAccount"] , "properties": {
    "cores": {"type": "integer", "minimum": 1}, "memory": {"type": "string"},
    "serviceAccount": _STR, "labels": _LABELS, "volumeMounts": {"type": "array"}}}
CRD_SCHEMAS = {
    ("sparkoperator.k8s.io/v1beta2", "SparkApplication"): {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"metadata": _META, "spec": {
            "type": "object", "additionalProperties": False,
            "required": ["type", "mode", "image", "mainApplicationFile", "sparkVersion",
                         "driver", "executor", "restartPolicy"],
            "properties": {
                "type": {"enum": ["Java", "Scala", "Python", "R"]},
                "pythonVersion": {"enum": ["2", "3"]},
                "mode": {"enum": ["cluster", "client"]},
                "sparkVersion": _STR, "image": _STR,
                "imagePullPolicy": {"enum": ["Always", "IfNotPresent", "Never"]},
                "imagePullSecrets": {"type": "array", "items": _STR},
                "mainApplicationFile": {"type": "string", "pattern": "^local://"},
                "arguments": {"type": "array", "items": _STR},
                "sparkConf": {"type": "object", "additionalProperties": _STR},
                "restartPolicy": {"type": "object", "required": ["type"], "properties": {
                    "type": {"enum": ["Never", "Always", "OnFailure"]},
                    "onFailureRetryInterval": {"type": "integer"},
                    "onSubmissionFailureRetryInterval": {"type": "integer"}}},
                "volumes": {"type": "array"},
                "driver": _POD_PART,
                "executor": {**_POD_PART, "required": ["instances"],
                             "properties": {**_POD_PART["properties"],
                                            "instances": {"type": "integer", "minimum": 1}}},
            }}}},
    ("monitoring.coreos.com/v1", "ServiceMonitor"): {
        "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"metadata": _META, "spec": {
            "type": "object", "required": ["selector", "endpoints"],
            "properties": {
                "selector": {"type": "object", "required": ["matchLabels"]},
                "endpoints": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["port", "path"], "additionalProperties": False,
                    "properties": {"port": _STR, "path": {"type": "string", "pattern": "^/"},
                                   "interval": {"type": "string",
                                                "pattern": "^[0-9]+(ms|s|m|h)$"},
                                   "relabelings": {"type": "array", "items": {
                                       "type": "object", "additionalProperties": False,
                                       "properties": {
                                           "action": {"enum": ["replace", "keep", "drop"]},
                                           "sourceLabels": {"type": "array", "items": _STR},
                                           "targetLabel": _STR, "replacement": _STR,
                                           "regex": _STR}}}}}}}}}},
}

VALUE_SETS = sorted(p.name for p in (CHART / "ci").glob("*.yaml"))


@functools.cache
def k8s_validator(api_version: str, kind: str) -> jsonschema.Validator:
    """kubernetes-validate's strict schema for one kind, built once.

    kubernetes_validate.validate() re-reads its 5 MB definitions file on every call;
    building each validator once keeps these checks at a few seconds.
    """
    version = [v for v in kv.all_versions()
               if kv.major_minor(v) <= kv.major_minor(K8S_VERSION)][-1]
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    api = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = kv.schema_contents(f"{folder}/{kind.lower()}-{api}.json", K8S_VERSION)
    registry = Resource.from_contents(kv.schema_contents(f"{folder}/_definitions.json",
                                                         K8S_VERSION)) @ Registry()
    registry = Resource.from_contents(schema) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, check=check,
                          timeout=60)


@functools.cache
def _render(args: tuple[str, ...]) -> str:
    return helm("template", "sw", str(CHART), "--namespace", "streamwatch", *args).stdout


def render(*args: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(_render(args)) if d]


def validate(docs: list[dict]) -> None:
    assert docs, "nothing rendered"
    errors = []
    for doc in docs:
        key = (doc["apiVersion"], doc["kind"])
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        if key in CRD_SCHEMAS:
            try:
                jsonschema.validate(doc, CRD_SCHEMAS[key])
            except jsonschema.ValidationError as exc:
                errors.append(f"{where}: {exc.message} at {list(exc.absolute_path)}")
            continue
        try:
            validator = k8s_validator(*key)
        except FileNotFoundError:
            errors.append(f"{where}: {key} is not a Kubernetes {K8S_VERSION} kind")
            continue
        errors.extend(f"{where}: {e.message} at {list(e.absolute_path)}"
                      for e in validator.iter_errors(doc))
    assert not errors, "\n".join(errors)


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def containers(doc: dict) -> list[dict]:
    return doc["spec"]["template"]["spec"]["containers"]


def test_validation_rejects_unknown_fields_and_unknown_kinds() -> None:
    bad = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "x", "namespace": "y"}, "spec": {"portz": []}}
    with pytest.raises(AssertionError, match="portz"):
        validate([bad])
    with pytest.raises(AssertionError, match="not a Kubernetes"):
        validate([{**bad, "kind": "Servise"}])


@needs_helm
def test_helm_lint_strict_with_every_value_set() -> None:
    for values in [None, *VALUE_SETS]:
        extra = ["-f", str(CHART / "ci" / values)] if values else []
        res = helm("lint", "--strict", str(CHART), *extra, check=False)
        assert res.returncode == 0, f"{values}: {res.stdout}{res.stderr}"


@needs_helm
@pytest.mark.parametrize("values", VALUE_SETS)
def test_value_set_renders_valid_manifests(values: str) -> None:
    validate(render("-f", str(CHART / "ci" / values)))


@needs_helm
def test_default_values_render_native_spark_on_kubernetes() -> None:
    docs = render()  # validated by test_value_set_renders_valid_manifests[default-values]
    drivers = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"].endswith("-driver")]
    assert {d["metadata"]["name"] for d in drivers} == {"sw-streamwatch-hashtags-driver",
                                                        "sw-streamwatch-fraud-driver",
                                                        "sw-streamwatch-orders-driver"}
    claim = next(d for d in by_kind(docs, "PersistentVolumeClaim")
                 if d["metadata"]["name"] == "sw-streamwatch-checkpoints")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    confs = {d["metadata"]["name"]: d["data"]["spark-defaults.conf"]
             for d in by_kind(docs, "ConfigMap") if "spark-defaults.conf" in d.get("data", {})}
    for driver in drivers:
        # Recovery contract: one driver at a time, client mode, executors on the same claim.
        assert driver["spec"]["replicas"] == 1
        assert driver["spec"]["strategy"] == {"type": "Recreate"}
        pod = driver["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == "sw-streamwatch-spark"
        args = pod["containers"][0]["args"]
        assert "--master=k8s://https://kubernetes.default.svc" in args
        mounts = {m["name"]: m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert mounts["checkpoints"] == "/checkpoints"
        conf = confs[driver["metadata"]["name"] + "-conf"]
        assert "spark.submit.deployMode client" in conf
        assert f"spark.driver.host {driver['metadata']['name']}.streamwatch.svc" in conf
        assert ("spark.kubernetes.executor.volumes.persistentVolumeClaim.checkpoints"
                ".options.claimName sw-streamwatch-checkpoints") in conf
        assert ("spark.kubernetes.executor.volumes.persistentVolumeClaim.checkpoints"
                ".mount.path /checkpoints") in conf
        for key in ("spark.decommission.enabled", "spark.storage.decommission.enabled",
                    "spark.sql.streaming.metricsEnabled", "spark.ui.prometheus.enabled"):
            assert f"{key} true" in conf
    headless = {d["metadata"]["name"]: d for d in by_kind(docs, "Service")}
    for driver in drivers:
        assert headless[driver["metadata"]["name"]]["spec"]["clusterIP"] == "None"
    assert not by_kind(docs, "SparkApplication")
    assert by_kind(docs, "PodDisruptionBudget"), "executor PDB missing"


@needs_helm
def test_driver_role_allows_exactly_what_executors_need() -> None:
    role = by_kind(render(), "Role")[0]
    resources = {r for rule in role["rules"] for r in rule["resources"]}
    assert resources == {"pods", "services", "configmaps", "persistentvolumeclaims"}
    assert all(rule["apiGroups"] == [""] for rule in role["rules"])
    verbs = {v for rule in role["rules"] for v in rule["verbs"]}
    assert "*" not in verbs and "escalate" not in verbs and "bind" not in verbs
    binding = by_kind(render(), "RoleBinding")[0]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]


@needs_helm
def test_every_workload_is_hardened() -> None:
    docs = render("-f", str(CHART / "ci" / "alerting-ha-values.yaml"))
    workloads = by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet")
    # tweet-ingester, alerting, exporter, three drivers; txn- and order-simulator
    assert len(workloads) == 8
    for w in workloads:
        pod = w["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, w["metadata"]["name"]
        for c in pod["containers"]:
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True
            assert sc["capabilities"]["drop"] == ["ALL"]
            assert sc["allowPrivilegeEscalation"] is False
            assert c["resources"]["limits"] and c["resources"]["requests"]
            assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
            assert "livenessProbe" in c, f"{w['metadata']['name']} has no liveness probe"
    for sts in by_kind(docs, "StatefulSet"):
        assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] == "data"


@needs_helm
def test_multi_replica_alerting_reads_database_url_from_secret() -> None:
    docs = render("-f", str(CHART / "ci" / "alerting-ha-values.yaml"))
    alerting = next(d for d in by_kind(docs, "Deployment")
                    if d["metadata"]["name"] == "sw-streamwatch-alerting")
    assert alerting["spec"]["replicas"] == 3
    env = {e["name"]: e for e in containers(alerting)[0]["env"]}
    assert env["STREAMWATCH_ALERTING_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "streamwatch-db", "key": "url"}
    assert env["STREAMWATCH_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == \
        "streamwatch-admin"
    assert not by_kind(docs, "Secret"), "existingSecret given: the chart must create none"
    assert "STREAMWATCH_ALERTING_DB" not in env, "replicas must not fall back to per-pod SQLite"
    assert not [v for v in alerting["spec"]["template"]["spec"]["volumes"]
                if "persistentVolumeClaim" in v]
    assert len(by_kind(docs, "ServiceMonitor")) == 2  # the services', the drivers'


@needs_helm
def test_operator_mode_renders_spark_applications_instead_of_drivers() -> None:
    docs = render("-f", str(CHART / "ci" / "operator-values.yaml"))
    apps = by_kind(docs, "SparkApplication")
    assert sorted(a["metadata"]["name"] for a in apps) == ["sw-streamwatch-fraud",
                                                           "sw-streamwatch-hashtags",
                                                           "sw-streamwatch-orders"]
    assert not [d for d in by_kind(docs, "Deployment") if "driver" in d["metadata"]["name"]]
    for app in apps:
        conf = app["spec"]["sparkConf"]
        assert conf["spark.kubernetes.executor.volumes.persistentVolumeClaim.checkpoints"
                    ".options.claimName"] == "streamwatch-checkpoints"
        assert app["spec"]["restartPolicy"]["type"] == "Always"


@needs_helm
def test_monitoring_switches() -> None:
    default = render()
    assert not by_kind(default, "ServiceMonitor"), "no CRD API detected, not enabled"
    detected = render("--api-versions", "monitoring.coreos.com/v1/ServiceMonitor")
    assert len(by_kind(detected, "ServiceMonitor")) == 2  # the services', the drivers'
    off = render("-f", str(CHART / "ci" / "no-monitoring-values.yaml"),
                 "--api-versions", "monitoring.coreos.com/v1/ServiceMonitor")
    assert not by_kind(off, "ServiceMonitor")
    assert not by_kind(off, "NetworkPolicy")
    assert not [c for c in by_kind(off, "ConfigMap") if "dashboards" in c["metadata"]["name"]]


@needs_helm
def test_dashboards_ship_as_a_configmap_for_the_grafana_sidecar() -> None:
    files = sorted(p.name for p in (CHART / "dashboards").glob("*.json"))
    if not files:
        pytest.skip("helm/streamwatch/dashboards/*.json not written yet")
    cm = next(c for c in by_kind(render(), "ConfigMap")
              if c["metadata"]["name"] == "sw-streamwatch-dashboards")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert sorted(cm["data"]) == files
    for name in files:
        assert json.loads(cm["data"][name]) == json.loads((CHART / "dashboards" / name).read_text())


@needs_helm
@pytest.mark.parametrize(("args", "message"), [
    (["--set", "processor.mode=spark"],
     "at '/processor/mode': value must be one of 'native', 'operator'"),
    (["--set", "processor.executor.memory=1G"],
     "at '/processor/executor/memory': '1G' does not match pattern"),
    (["--set", "image.pullPolicy=Sometimes"], "at '/image/pullPolicy': value must be one of"),
    (["--set", "podSecurityContext.runAsNonRoot=false"], "at '/podSecurityContext/runAsNonRoot'"),
    (["--set", "alerting.replicas=3"],
     "alerting.replicas=3 needs a shared PostgreSQL"),
    (["--set", "tweetIngester.enabled=yes"],
     "at '/tweetIngester/enabled': got string, want boolean"),
    # an empty selector would admit every pod of the Prometheus namespaces to every API
    (["--set", "networkPolicy.prometheus.podSelector.matchLabels=null"],
     "at '/networkPolicy/prometheus/podSelector': minProperties"),
    (["--set-json", 'networkPolicy.apiClients={"exporter": [{"podSelektor": {}}]}'],
     "at '/networkPolicy/apiClients/exporter/0': additional properties 'podSelektor'"),
    # a value `streamwatch orders --disorder` would refuse only when the pod starts
    (["--set", "orderSimulator.disorder=2 seconds"],
     "at '/orderSimulator/disorder': '2 seconds' does not match pattern"),
    # Kafka on, but nowhere to connect: the jobs would fail only when they start
    (["--set", "kafka.enabled=true"], "at '/kafka/bootstrapServers': minLength"),
    (["--set", "kafka.enabled=true", "--set", "kafka.bootstrapServers=kafka"],
     "at '/kafka/bootstrapServers': 'kafka' does not match pattern"),
    (["--set", "kafka.topics.transactions=bank txns"],
     "at '/kafka/topics/transactions': 'bank txns' does not match pattern"),
])
def test_invalid_values_fail_with_a_clear_message(args: list[str], message: str) -> None:
    res = helm("template", "sw", str(CHART), *args, check=False)
    assert res.returncode != 0
    assert message in res.stderr, res.stderr


@needs_helm
@needs_kubectl
@pytest.mark.parametrize("overlay", ["base", "spark-operator"])
def test_kustomize_renders_valid_manifests(overlay: str) -> None:
    out = subprocess.run([str(KUBECTL), "kustomize", str(ROOT / "k8s" / overlay)],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    validate(docs)
    kinds = {d["kind"] for d in docs}
    assert ("SparkApplication" in kinds) == (overlay == "spark-operator")
    assert all(d["metadata"].get("namespace") == "streamwatch"
               for d in docs if d["kind"] not in {"Namespace"})


@needs_helm
def test_plain_manifests_are_in_step_with_the_chart() -> None:
    res = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), str(ROOT / "k8s" / "generate.py"),
                          "--check"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


@needs_helm
@pytest.mark.parametrize("simulator", ["txn-simulator", "order-simulator"])
def test_a_restarted_simulator_pod_keeps_its_world(simulator: str) -> None:
    """The simulator's --data-dir, where its feeds and world record live, is a claim of the
    StatefulSet's own: a rescheduled pod gets it back and continues the recorded world."""
    sts = next(d for d in by_kind(render(), "StatefulSet")
               if d["metadata"]["name"] == f"sw-streamwatch-{simulator}")
    container = containers(sts)[0]
    data_dir = next(a.split("=", 1)[1] for a in container["args"]
                    if a.startswith("--data-dir="))
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == data_dir)
    claims = {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    assert mount["name"] in claims
    pod_volumes = {v["name"] for v in sts["spec"]["template"]["spec"].get("volumes", [])}
    assert mount["name"] not in pod_volumes, "the data dir must not be a pod-lived volume"
    assert not any("--new-world" in a for a in container["args"])


def job_args_by_name(docs: list[dict]) -> dict[str, list[str]]:
    """`streamwatch process` arguments of every job: driver Deployments (native mode) and
    SparkApplications (operator mode)."""
    jobs = {}
    for d in by_kind(docs, "Deployment"):
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == "spark-driver":
            jobs[d["metadata"]["name"]] = containers(d)[0]["args"]
    for app in by_kind(docs, "SparkApplication"):
        jobs[app["metadata"]["name"]] = app["spec"]["arguments"]
    return jobs


def flag(args: list[str], name: str) -> str | None:
    return next((a.split("=", 1)[1] for a in args if a.startswith(f"{name}=")), None)


@needs_helm
@pytest.mark.parametrize("values", [(), ("-f", str(CHART / "ci" / "operator-values.yaml"))],
                         ids=["native", "operator"])
def test_every_job_reads_a_feed_a_rendered_producer_serves(values: tuple[str, ...]) -> None:
    """A job's feed URL names a Service of the release, a port it has, and a producer pod
    behind it that serves HTTP on that port: a wrong name or port would leave the job
    retrying a feed that never answers."""
    docs = render(*values)
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    workloads = by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet")
    jobs = job_args_by_name(docs)
    assert len(jobs) == 3, sorted(jobs)
    for name, args in jobs.items():
        m = re.fullmatch(r"feed:http://([^:/]+):(\d+)/(\w+)", flag(args, "--source") or "")
        assert m, (name, args)
        host, port, feed = m.group(1), int(m.group(2)), m.group(3)
        assert host in services, f"{name}: no Service {host}"
        svc = services[host]
        assert port in [p["port"] for p in svc["spec"]["ports"]], (name, svc["spec"]["ports"])
        pods = [w for w in workloads if all(
            w["spec"]["template"]["metadata"]["labels"].get(k) == v
            for k, v in svc["spec"]["selector"].items())]
        assert len(pods) == 1, (name, host)
        producer_args = containers(pods[0])[0]["args"]
        assert f"--http-port={port}" in producer_args, (name, producer_args)
        assert f"http://{host}:{port}/{feed}".endswith(
            {"tweets": "/tweets", "txns": "/transactions", "orders": "/orders"}[
                producer_args[0]]), (name, feed, producer_args[0])


@needs_helm
def test_job_output_files_land_on_the_checkpoint_claim() -> None:
    """The root filesystem is read-only: a jsonl sink (the orders job's final minutes) must
    write under a mounted claim, or the first final minute fails the batch."""
    docs = render()
    for d in by_kind(docs, "Deployment"):
        if d["metadata"]["labels"].get("app.kubernetes.io/component") != "spark-driver":
            continue
        container = containers(d)[0]
        sink = flag(container["args"], "--sink") or ""
        if not sink.startswith("jsonl:"):
            continue
        path = sink.removeprefix("jsonl:")
        claims = {v["name"] for v in d["spec"]["template"]["spec"]["volumes"]
                  if "persistentVolumeClaim" in v}
        assert any(m["name"] in claims and path.startswith(m["mountPath"].rstrip("/") + "/")
                   for m in container["volumeMounts"]), (d["metadata"]["name"], path)
    orders = next(d for d in by_kind(docs, "Deployment")
                  if d["metadata"]["name"] == "sw-streamwatch-orders-driver")
    assert flag(containers(orders)[0]["args"], "--sink") == "jsonl:/checkpoints/orders/output"
    assert flag(containers(orders)[0]["args"], "--exporter-url") == \
        "http://sw-streamwatch-exporter:7104"


@needs_helm
@pytest.mark.parametrize("values", [(), ("-f", str(CHART / "ci" / "operator-values.yaml"))],
                         ids=["native", "operator"])
def test_kafka_values_move_every_stream_onto_the_cluster(values: tuple[str, ...]) -> None:
    """With kafka.enabled the jobs read topics of the given cluster with the client properties
    of the secret (TLS files on the driver and every executor), and the producers publish."""
    docs = render(*values, "-f", str(CHART / "ci" / "kafka-values.yaml"))
    validate(docs)
    boot = "kafka-0.kafka:9093,kafka-1.kafka:9093"
    topics = {"hashtags": "sw.tweets", "fraud": "bank.card-txns", "orders": "sw.orders"}
    jobs = job_args_by_name(docs)
    assert len(jobs) == 3
    for name, args in jobs.items():
        job = next(j for j in topics if f"-{j}" in name)
        assert flag(args, "--source") == f"kafka:{boot}/{topics[job]}", (name, args)
        assert flag(args, "--kafka-properties") == "/etc/streamwatch/kafka/client.properties"
        assert flag(args, "--checkpoint") == f"/checkpoints/{job}-kafka", (name, args)
    conf = "\n".join(str(c.get("data", "")) + str(c.get("spec", {}).get("sparkConf", ""))
                     for c in by_kind(docs, "ConfigMap") + by_kind(docs, "SparkApplication"))
    assert "spark.kubernetes.executor.secrets.streamwatch-kafka-tls" in conf
    drivers = [d for d in by_kind(docs, "Deployment")
               if d["metadata"]["labels"].get("app.kubernetes.io/component") == "spark-driver"]
    pods = [d["spec"]["template"]["spec"] for d in drivers]
    pods += [{"volumes": a["spec"]["volumes"], "containers": [a["spec"]["driver"]]}
             for a in by_kind(docs, "SparkApplication")]
    assert len(pods) == 3
    for pod in pods:
        secrets = {v["secret"]["secretName"] for v in pod["volumes"] if "secret" in v}
        assert {"streamwatch-kafka-client", "streamwatch-kafka-tls"} <= secrets
        mounts = {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
        assert {"/etc/streamwatch/kafka", "/etc/streamwatch/kafka-tls"} <= mounts
    producers = [w for w in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet")
                 if containers(w)[0]["args"][0] in ("tweets", "txns", "orders")]
    assert len(producers) == 3
    for w in producers:
        env = {e["name"]: e.get("value") for e in containers(w)[0].get("env", [])}
        prefix = "STREAMWATCH_" + containers(w)[0]["args"][0].upper()  # the producer's own
        assert env[f"{prefix}_KAFKA"] == boot
        assert env[f"{prefix}_KAFKA_TOPIC_PREFIX"] == "sw."
        assert env[f"{prefix}_KAFKA_PROPERTIES"] == "/etc/streamwatch/kafka/client.properties"
        assert not [name for name in env if name.startswith("STREAMWATCH_KAFKA")]


@needs_helm
def test_kafka_without_publishing_leaves_the_producers_alone() -> None:
    docs = render("-f", str(CHART / "ci" / "kafka-values.yaml"), "--set", "kafka.publish=false")
    for w in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet"):
        c = containers(w)[0]
        if c["args"][0] in ("tweets", "txns", "orders"):
            assert not any("_KAFKA" in e["name"] for e in c.get("env", []))
            assert not any("kafka" in m["name"] for m in c["volumeMounts"])
