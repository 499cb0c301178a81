"""The live terminal view of ``streamwatch run`` (rich), and its headless twin."""

from __future__ import annotations

import logging
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from streamwatch.launcher.status import Snapshot

log = logging.getLogger(__name__)


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def _trends_table(snap: Snapshot) -> Table:
    window = snap.window
    title = "Top hashtags"
    if window:
        title += f"  {window.get('window_start', '')} → {window.get('window_end', '')}"
    t = Table(title=title, expand=True)
    t.add_column("#", justify="right")
    t.add_column("hashtag")
    t.add_column("tweets", justify="right")
    t.add_column("sentiment", justify="right")
    for row in (window or {}).get("top", [])[:10]:
        s = row.get("sentiment")
        colour = "green" if s is not None and s > 0.05 else "red" if s is not None and s < -0.05 \
            else "white"
        t.add_row(str(row.get("rank")), f"#{row.get('hashtag')}", str(row.get("count")),
                  Text(_fmt(s), style=colour))
    if not window:
        t.add_row("", "waiting for the first window…", "", "")
    return t


def _fraud_table(snap: Snapshot) -> Table:
    t = Table(title="Fraud alerts and live quality", expand=True)
    t.add_column("rule / scenario")
    t.add_column("alerts", justify="right")
    t.add_column("precision", justify="right")
    t.add_column("recall", justify="right")
    t.add_column("F1", justify="right")
    by_scenario: dict[str, Any] = (snap.quality or {}).get("by_scenario", {})
    names = sorted(set(by_scenario) | set(snap.alerts_by_rule))
    for name in names:
        q = by_scenario.get(name, {})
        alerts = snap.alerts_by_rule.get(name, q.get("alerts"))
        t.add_row(name, _fmt(alerts, "{:.0f}"), _fmt(q.get("precision")),
                  _fmt(q.get("recall")), _fmt(q.get("f1")))
    overall = (snap.quality or {}).get("overall")
    if overall:
        t.add_row(Text("overall", style="bold"), _fmt(overall.get("alerts"), "{:.0f}"),
                  _fmt(overall.get("precision")), _fmt(overall.get("recall")),
                  _fmt(overall.get("f1")))
    return t


def _flow_table(snap: Snapshot) -> Table:
    t = Table(title="Flow", expand=True)
    t.add_column("stream")
    t.add_column("produced/s", justify="right")
    t.add_column("input/s", justify="right")
    t.add_column("processed/s", justify="right")
    t.add_column("batch s", justify="right")
    feeds = {"tweets": "hashtags-trends", "transactions": "fraud-alerts",
             "orders": "orders-minutes"}
    for feed, query in feeds.items():
        q = snap.queries.get(query, {})
        t.add_row(f"{feed} → {query}", _fmt(snap.feed_rate.get(feed), "{:.0f}"),
                  _fmt(q.get("input_rps"), "{:.0f}"), _fmt(q.get("processed_rps"), "{:.0f}"),
                  _fmt(q.get("batch_seconds")))
    return t


def _orders_line(snap: Snapshot) -> Text:
    if not snap.orders:
        return Text("orders per minute: waiting for the first final minute…")
    counts = ", ".join(f"{status} {snap.orders.get(status, 0)}"
                       for status in ("purchased", "shipped", "delivered", "cancelled",
                                      "returned"))
    return Text(f"orders in the minute from {snap.orders_minute}: {counts}")


def _health_line(snap: Snapshot, spark_alive: bool | None) -> Text:
    text = Text("services: ")
    items = dict(snap.health)
    if spark_alive is not None:
        items["spark"] = spark_alive
    for name, ok in items.items():
        text.append(f" {name} ", style="black on green" if ok else "white on red")
        text.append(" ")
    return text


def render(snap: Snapshot, *, spark_alive: bool | None, footer: str) -> Panel:
    body = Group(_health_line(snap, spark_alive), _flow_table(snap), _trends_table(snap),
                 _orders_line(snap), _fraud_table(snap), Text(footer, style="dim"))
    return Panel(body, title="Streamwatch", subtitle="Ctrl-C to stop")


def log_snapshot(snap: Snapshot, *, spark_alive: bool | None) -> None:
    top = [(r.get("hashtag"), r.get("count")) for r in (snap.window or {}).get("top", [])[:5]]
    overall = (snap.quality or {}).get("overall") or {}
    log.info("status", extra={
        "health": snap.health, "spark": spark_alive,
        "produced_per_s": {k: round(v, 1) for k, v in snap.feed_rate.items()},
        "top_hashtags": top, "alerts_by_rule": snap.alerts_by_rule,
        "precision": overall.get("precision"), "recall": overall.get("recall"),
        "orders_minute": snap.orders_minute, "orders": snap.orders,
        "queries": snap.queries,
    })
