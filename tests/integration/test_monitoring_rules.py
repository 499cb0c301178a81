"""Prometheus config and rules for compose: syntax (promtool check) and behaviour (promtool test).

The behaviour tests feed synthetic series through the real rule files with
``promtool test rules`` and assert which alerts fire, so a broken expression or
threshold fails here rather than silently in production.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
RULES = sorted((MONITORING / "rules").glob("*.yml"))
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool not installed (Debian package 'prometheus')")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60,
                          check=False)


def test_rule_files_exist_and_cover_the_required_alerts() -> None:
    assert RULES, "monitoring/rules/*.yml missing"
    alerts = {r["alert"] for f in RULES for g in yaml.safe_load(f.read_text())["groups"]
              for r in g["rules"] if "alert" in r}
    for needed in ("StreamwatchProcessingFallingBehind", "StreamwatchBatchDurationHigh",
                   "StreamwatchWebhookFailures", "StreamwatchQueryNoProgress",
                   "StreamwatchFeedNoData", "FraudRulesReloadFailing"):
        assert needed in alerts


def test_scrape_config_covers_every_service() -> None:
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets = {(job["job_name"], job.get("metrics_path", "/metrics"), t)
               for job in config["scrape_configs"]
               for sc in job["static_configs"] for t in sc["targets"]}
    for host_port in ("tweet-ingester:7101", "txn-simulator:7102", "alerting:7103",
                      "exporter:7104"):
        assert any(t == host_port and p == "/metrics" for _, p, t in targets), host_port
    paths = {p for _, p, _ in targets}
    assert {"/metrics/prometheus", "/metrics/executors/prometheus"} <= paths


def test_scrape_config_covers_every_compose_service() -> None:
    """Each Streamwatch container of docker-compose.yml is a target: a service or job added
    to the compose file without a scrape job leaves its dashboard panels empty."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    targets: dict[str, set[str]] = {}
    for job in config["scrape_configs"]:
        for sc in job["static_configs"]:
            for target in sc["targets"]:
                targets.setdefault(target, set()).add(job["job_name"])
    checked = []
    for name, svc in services.items():
        if not str(svc.get("image", "")).startswith("streamwatch/"):
            continue  # Prometheus and Grafana
        if "process" in (svc.get("command") or []):
            # a Spark driver's UI serves its own and its executors' metrics
            assert targets.get(f"{name}:4040") == {"spark-driver", "spark-executors"}, name
        elif "SPARK_HEALTH_URL" in (svc.get("environment") or {}):
            port = svc["environment"]["SPARK_HEALTH_URL"].split(":")[2].split("/")[0]
            assert f"{name}:{port}" in targets, name
        else:
            url = next(a for a in svc["healthcheck"]["test"] if a.startswith("http"))
            port = url.split(":")[2].split("/")[0]
            assert targets.get(f"{name}:{port}") == {name}, (name, port)
        checked.append(name)
    assert {"order-simulator", "processor-orders"} <= set(checked), checked


@needs_promtool
def test_promtool_checks_config_and_rules() -> None:
    result = promtool("check", "config", str(MONITORING / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    result = promtool("check", "rules", *map(str, RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def _without_annotations(tmp_path: Path) -> list[str]:
    """Copies of the rule files minus annotations: promtool compares annotations
    verbatim, and their templates are already checked by ``promtool check rules``."""
    out = []
    for rule_file in RULES:
        doc = yaml.safe_load(rule_file.read_text())
        for group in doc["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations", None)
        copy = tmp_path / rule_file.name
        copy.write_text(yaml.safe_dump(doc))
        out.append(str(copy))
    return out


def _alert(name: str, **labels: str) -> dict[str, object]:
    return {"alertname": name, "exp_alerts": [{"exp_labels": labels}] if labels else []}


@needs_promtool
def test_alerts_fire_on_the_conditions_they_describe(tmp_path: Path) -> None:
    suite = {
        "rule_files": _without_annotations(tmp_path),
        "evaluation_interval": "15s",
        "tests": [
            {   # fraud processes half its input; hashtags keeps up
                "interval": "15s",
                "input_series": [
                    {"series": 'streamwatch_query_input_rows_per_second{query="fraud"}',
                     "values": "1000x60"},
                    {"series": 'streamwatch_query_processed_rows_per_second{query="fraud"}',
                     "values": "500x60"},
                    {"series": 'streamwatch_query_input_rows_per_second{query="hashtags"}',
                     "values": "100x60"},
                    {"series": 'streamwatch_query_processed_rows_per_second{query="hashtags"}',
                     "values": "300x60"},
                ],
                "alert_rule_test": [
                    {**_alert("StreamwatchProcessingFallingBehind"), "eval_time": "2m"},
                    {**_alert("StreamwatchProcessingFallingBehind", severity="warning",
                              query="fraud"), "eval_time": "10m"},
                ],
            },
            {   # one query stopped reporting at t=0, the other reports every 15 s
                "interval": "15s",
                "input_series": [
                    {"series": 'streamwatch_query_last_progress_timestamp_seconds'
                               '{query="stalled"}', "values": "0x40"},
                    {"series": 'streamwatch_query_last_progress_timestamp_seconds'
                               '{query="live"}', "values": "0+15x40"},
                ],
                "alert_rule_test": [
                    {**_alert("StreamwatchQueryNoProgress", severity="critical",
                              query="stalled"), "eval_time": "5m"},
                ],
            },
            {   # every batch takes 45 s
                "interval": "15s",
                "input_series": [
                    {"series": 'streamwatch_query_batch_duration_seconds_bucket'
                               '{query="fraud",le="30.0"}', "values": "0x80"},
                    {"series": 'streamwatch_query_batch_duration_seconds_bucket'
                               '{query="fraud",le="60.0"}', "values": "0+1x80"},
                    {"series": 'streamwatch_query_batch_duration_seconds_bucket'
                               '{query="fraud",le="+Inf"}', "values": "0+1x80"},
                ],
                "alert_rule_test": [
                    {**_alert("StreamwatchBatchDurationHigh", severity="warning",
                              query="fraud"), "eval_time": "18m"},
                ],
            },
            {   # a third of webhook attempts are retried
                "interval": "15s",
                "input_series": [
                    {"series": 'streamwatch_webhook_deliveries_total{outcome="delivered"}',
                     "values": "0+10x100"},
                    {"series": 'streamwatch_webhook_deliveries_total{outcome="retrying"}',
                     "values": "0+5x100"},
                ],
                "alert_rule_test": [
                    {**_alert("StreamwatchWebhookFailures", severity="warning"),
                     "eval_time": "20m"},
                ],
            },
            {   # the tweets feed stops producing; labels are allowed to be quiet
                "interval": "15s",
                "input_series": [
                    {"series": 'streamwatch_feed_events_produced_total{feed="tweets"}',
                     "values": "0+50x8 400x40"},
                    {"series": 'streamwatch_feed_events_produced_total{feed="labels"}',
                     "values": "0x48"},
                ],
                "alert_rule_test": [
                    {**_alert("StreamwatchFeedNoData", severity="warning", feed="tweets"),
                     "eval_time": "10m"},
                ],
            },
            {   # one rejected edit of the rules file at 5 min, then a driver restart (reset)
                "interval": "15s",
                "input_series": [
                    {"series": 'streamwatch_fraud_rules_reload_errors_total'
                               '{query="fraud-alerts"}', "values": "0x20 1x80 0x40"},
                    {"series": 'streamwatch_fraud_rules_reload_errors_total'
                               '{query="fraud-other"}', "values": "2x140"},
                ],
                "alert_rule_test": [
                    {**_alert("FraudRulesReloadFailing"), "eval_time": "4m"},
                    {**_alert("FraudRulesReloadFailing", severity="warning",
                              query="fraud-alerts"), "eval_time": "6m"},
                    {**_alert("FraudRulesReloadFailing", severity="warning",
                              query="fraud-alerts"), "eval_time": "19m"},
                    # 15 min after the error, and after the reset to 0, it is quiet again
                    {**_alert("FraudRulesReloadFailing"), "eval_time": "22m"},
                    {**_alert("FraudRulesReloadFailing"), "eval_time": "34m"},
                ],
            },
        ],
    }
    path = tmp_path / "streamwatch_rules_test.yml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False))
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
