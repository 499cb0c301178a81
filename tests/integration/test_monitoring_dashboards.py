"""Grafana provisioning and the four dashboards in helm/streamwatch/dashboards.

Every panel query must be valid PromQL (all expressions go into a generated
rules file checked by ``promtool check rules``) and may name only metrics that
the services really export. The known names are read from the services'
registries, created in-process; where a service's code cannot be imported, a
documented fallback list (docs/monitoring.md) stands in.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "helm" / "streamwatch" / "dashboards"
PROVISIONING = ROOT / "monitoring" / "grafana" / "provisioning"
DATASOURCE_UID = "prometheus"
EXPECTED = {"streaming-health.json", "hashtag-trends.json", "fraud-alerts.json",
            "orders-per-minute.json"}
PROMTOOL = shutil.which("promtool")

# Series Prometheus itself adds to every scrape.
PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                     "scrape_samples_post_metric_relabeling", "scrape_series_added"}
# Used only when the alerting service's code cannot be imported (docs/monitoring.md).
ALERTING_FALLBACK = {
    "streamwatch_alerts_received_total", "streamwatch_alerts_deduplicated_total",
    "streamwatch_webhook_deliveries_total", "streamwatch_webhook_delivery_duration_seconds",
    "streamwatch_webhook_outbox_depth", "streamwatch_webhook_subscriptions"}
FEED_FALLBACK = {
    "streamwatch_feed_events_produced_total", "streamwatch_feed_latest_offset",
    "streamwatch_feed_earliest_offset", "streamwatch_feed_socket_clients_dropped_total",
    "streamwatch_feed_socket_clients", "streamwatch_feed_log_bytes"}

_PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                 "group_left", "group_right", "inf", "nan", "atan2"}


def dashboards() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dash: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dash["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows nest their panels


def targets(dash: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for panel in panels(dash):
        for target in panel.get("targets", []):
            yield panel, target


def substitute_variables(expr: str) -> str:
    """Grafana variables -> values PromQL accepts, as Grafana would interpolate them."""
    expr = re.sub(r"\$__(rate_)?interval|\$__range", "5m", expr)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (strings, matchers, grouping and ranges removed)."""
    text = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        if match.group(2) is None and match.group(1).lower() not in _PROMQL_WORDS:
            names.add(match.group(1))
    return names


def registry_names(registry: CollectorRegistry) -> set[str]:
    names = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(s.name for s in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_sum", "_count"))
    return names


def exporter_names() -> set[str]:
    from streamwatch.exporter import orders
    from streamwatch.exporter.metrics import METRICS

    out: set[str] = set()
    for spec in [*METRICS.values(), *orders.METRICS.values()]:
        out.add(spec.name)
        if spec.kind == "histogram":
            out.update(spec.name + s for s in ("_bucket", "_sum", "_count"))
    return out


def alerting_names(tmp: Path) -> set[str]:
    try:
        from streamwatch.alerting.app import create_app
        from streamwatch.alerting.settings import AlertingSettings
    except ImportError:
        return ALERTING_FALLBACK
    app = create_app(AlertingSettings(data_dir=tmp, db_path=tmp / "alerting.db",
                                    admin_token=secrets.token_urlsafe(32),
                                    ingest_token=secrets.token_urlsafe(32)))
    return registry_names(app.config["REGISTRY"])


def feed_names(tmp: Path) -> set[str]:
    try:
        from streamwatch.feed.log import FeedLog
        from streamwatch.feed.server import FeedAppConfig, FeedMetrics, create_app
    except ImportError:
        return FEED_FALLBACK
    registry = CollectorRegistry()
    metrics = FeedMetrics(registry)
    log = FeedLog.open(tmp / "feeds", "tweets")
    try:
        create_app(FeedAppConfig(service="tweet-ingester", logs={"tweets": log},
                                 registry=registry, metrics=metrics))
        metrics.watch({"tweets": log})
        return registry_names(registry)
    finally:
        log.close()


@pytest.fixture(scope="module")
def known_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    tmp = tmp_path_factory.mktemp("registries")
    recorded = {r["record"] for f in (ROOT / "monitoring" / "rules").glob("*.yml")
                for g in yaml.safe_load(f.read_text())["groups"] for r in g["rules"]
                if "record" in r}
    return (exporter_names() | alerting_names(tmp) | feed_names(tmp) | recorded
            | PROMETHEUS_SERIES)


def test_metric_name_extraction() -> None:
    expr = ('histogram_quantile(0.95, sum by (query, le) (rate(a_bucket{query=~"$q"}[5m]))) '
            '/ on(query) group_left b_total offset 5m > bool 0 and time() - c')
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}


def test_the_four_dashboards_are_there() -> None:
    assert set(dashboards()) == EXPECTED


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dashboard_is_grafana_provisioning_json(name: str) -> None:
    dash = dashboards()[name]
    assert isinstance(dash["uid"], str) and 0 < len(dash["uid"]) <= 40
    assert dash["title"] and isinstance(dash["schemaVersion"], int)
    ids = [p["id"] for p in panels(dash)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels(dash):
        grid = panel["gridPos"]
        assert set(grid) >= {"x", "y", "w", "h"} and grid["x"] + grid["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
        assert panel["targets"], f"{panel['title']} has no query"
    for panel, target in targets(dash):
        assert target["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}
        assert target["expr"].strip(), panel["title"]
    for var in dash.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            assert var["datasource"]["uid"] == DATASOURCE_UID


def test_dashboard_uids_are_distinct() -> None:
    uids = [d["uid"] for d in dashboards().values()]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_panels_name_only_exported_metrics(name: str, known_names: set[str]) -> None:
    dash = dashboards()[name]
    exprs = [t["expr"] for _, t in targets(dash)]
    for var in dash.get("templating", {}).get("list", []):
        query = var.get("query")
        if isinstance(query, dict):
            match = re.match(r"label_values\((\w+)", query.get("query", ""))
            if match:
                exprs.append(match.group(1))
    unknown = {n for e in exprs for n in metric_names(e)} - known_names
    assert not unknown, f"{name} uses metrics no service exports: {sorted(unknown)}"


@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed (Debian package "
                    "'prometheus')")
def test_panel_queries_are_valid_promql(tmp_path: Path) -> None:
    rules = []
    for name, dash in dashboards().items():
        for panel, target in targets(dash):
            rules.append({"record": f"dashboard:{Path(name).stem.replace('-', '_')}:"
                                    f"panel{panel['id']}_{target['refId']}",
                          "expr": substitute_variables(target["expr"])})
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    assert PROMTOOL is not None
    result = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(rules)} rules found" in result.stdout


def test_grafana_provisioning_points_at_the_dashboards() -> None:
    ds = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    [source] = ds["datasources"]
    assert source["uid"] == DATASOURCE_UID and source["type"] == "prometheus"
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "streamwatch.yml").read_text())
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    # compose mounts helm/streamwatch/dashboards at this path
    compose = (ROOT / "docker-compose.yml")
    if compose.exists():
        assert f"./helm/streamwatch/dashboards:{provider['options']['path']}" in compose.read_text()
