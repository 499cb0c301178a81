"""The Grafana dashboards' queries, interpolated as Grafana interpolates them and run against
a Prometheus, as Grafana would run them when the dashboard opens (Grafana itself has no
registry-free image here, so it is not started).

The queries are extracted by tests/integration/test_monitoring_dashboards.py (which checks
them statically); here each one is asked for data. Grafana's values for the dashboards'
settings (time range now-30m, datasource timeInterval 5s):
``$__interval`` = max(range / max data points, timeInterval) = 5s,
``$__rate_interval`` = max($__interval + timeInterval, 4 x timeInterval) = 20s,
``$__range`` = 1800s; a multi-value variable left at "All" becomes its ``allValue`` if set,
else ``(v1|v2|...)`` of the values its ``label_values`` query finds.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import requests

from tests.integration.test_monitoring_dashboards import dashboards, targets

RANGE_S = 1800
INTERVAL_S = 5
GRAFANA_VARS = {"__rate_interval": "20s", "__interval": f"{INTERVAL_S}s",
                "__range": f"{RANGE_S}s", "__range_s": str(RANGE_S)}


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    expr: str  # as written in the dashboard
    promql: str  # interpolated
    instant: bool


def _prometheus(prometheus: str, path: str, params: dict[str, Any]) -> Any:
    r = requests.get(f"{prometheus}{path}", params=params, timeout=20)
    r.raise_for_status()
    doc = r.json()
    if doc.get("status") != "success":
        raise RuntimeError(f"{path} {params}: {doc}")
    return doc["data"]


def _label_values(prometheus: str, definition: str) -> list[str]:
    m = re.fullmatch(r"\s*label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)\s*", definition)
    if not m:
        raise ValueError(f"variable query not understood: {definition}")
    metric, label = m.groups()
    now = time.time()
    values = _prometheus(prometheus, f"/api/v1/label/{label}/values",
                         {"match[]": metric, "start": now - RANGE_S, "end": now})
    return sorted(str(v) for v in values)


def variable_values(prometheus: str, dash: dict[str, Any]) -> dict[str, str]:
    """Each template variable's text as Grafana puts it into a query at the dashboard's
    saved selection."""
    out: dict[str, str] = {}
    for var in dash.get("templating", {}).get("list", []):
        current = var.get("current", {}).get("value")
        selected = current if isinstance(current, list) else [current]
        if var.get("type") != "query":
            out[var["name"]] = "|".join(str(v) for v in selected)
            continue
        query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
        if "$__all" in selected:
            if var.get("allValue"):
                out[var["name"]] = var["allValue"]
                continue
            selected = _label_values(prometheus, query)
        escaped = [re.escape(v) for v in selected]
        out[var["name"]] = (escaped[0] if len(escaped) == 1
                            else "(" + "|".join(escaped) + ")")
    return out


def interpolate(expr: str, values: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        if name in GRAFANA_VARS:
            return GRAFANA_VARS[name]
        if name in values:
            return values[name]
        raise KeyError(f"no value for ${name} in {expr}")

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def dashboard_queries(prometheus: str) -> list[Query]:
    out = []
    for name, dash in dashboards().items():
        values = variable_values(prometheus, dash)
        for panel, target in targets(dash):
            if target.get("hide"):
                continue
            out.append(Query(name, panel["title"], target["expr"],
                             interpolate(target["expr"], values),
                             bool(target.get("instant")) and not target.get("range")))
    return out


def has_data(prometheus: str, query: Query) -> bool:
    """An instant query at now, a range query over the dashboard's range at its step: data
    is at least one series with at least one sample."""
    now = time.time()
    if query.instant:
        data = _prometheus(prometheus, "/api/v1/query", {"query": query.promql, "time": now})
        return bool(data["result"])
    data = _prometheus(prometheus, "/api/v1/query_range",
                       {"query": query.promql, "start": now - RANGE_S, "end": now,
                        "step": INTERVAL_S})
    return any(series.get("values") for series in data["result"])
