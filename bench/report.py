"""Render ``bench/results/*.json`` into ``docs/benchmarks.md`` and PNG plots in ``docs/img/``.

``python -m bench.report [--results DIR] [--out docs/benchmarks.md] [--img docs/img]``

For every benchmark the newest full run is used (``<name>.json``); when only a
``--quick`` run exists (``<name>-quick.json``) it is shown, marked as such. Each
section puts ratios first, then goals (met, or missed by how much), then the
absolute figures and baselines as context, the command, machine and versions,
and plots of the benchmark's series. ``make bench`` runs this after the suite.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench.common import ROOT, goal_verdicts, results_dir

TITLES = {
    "feed": "Feed: producer append, HTTP range read, source parse baseline",
    "processor": "Processor: feed source vs socket source, hashtags events/s",
    "fraud": "Fraud job: transactions/s and batch latency",
    "fraud_compare": "Fraud job: the previous commit beside this one, same input, one run",
    "alerting": "Alerting: ingest and webhook deliveries",
    "e2e_latency": "End-to-end alert latency (transaction accepted by the producer -> webhook "
                   "received), default path",
    "soak": "Memory soak",
    "orders": "Orders job: events/s per minute and status, next to parse-only",
}
COMPONENT_FIGURES = Path(__file__).resolve().parent / "component-figures.md"
ORDER = ["feed", "processor", "fraud", "alerting", "e2e_latency", "soak"]
FAULT_PREFIX = "faults_"

# What limits a figure when its goal is missed; filled from the profiles and
# measurements of the runs (see the sections of docs/benchmarks.md).
#: Per benchmark: what limits its missed goals, shown under its goals. ``{figure}`` and
#: ``{figure:spec}`` are filled from the recorded result (figures, baseline and ratios), so
#: the prose quotes the run it sits next to; a figure the result lacks shows as "?".
LIMITS: dict[str, str] = {
    "feed": (
        "The producer's ceiling is its generator, not the log: the same run's FeedLog alone "
        "appends {log_append_per_s:,.0f} events/s, and the HTTP range read is above its goal. "
        "The simulator builds and serialises each transaction in Python on one shared core; "
        "it has not been profiled here."),
    "soak": (
        "Most likely the exporter's fraud-quality tracker filling up to its cap (its RSS "
        "climbs evenly with the labels it has seen; not profiled in this run). It keeps every live "
        "fraud incident and alert, up to --quality-max-incidents (20,000) and "
        "--quality-max-alerts (50,000), before it retires the oldest with their figures final; "
        "at the soak's 1,000 tx/s about 18,000 incidents arrive in 30 minutes, so the cap "
        "is not reached within the run (the exporter ends at {rss_exporter_last_mib:.1f} MiB, "
        "{rss_exporter_growth:.0%} over the second quarter). tracemalloc "
        "put the bounded tracker at 37-39 MiB whether 50,000 "
        "or 200,000 incidents had passed (src/streamwatch/exporter/README.md); a "
        "run past ~35 minutes would show the plateau. Processor, state, producer and "
        "alerting are flat. If only the short --quick soak is recorded, the state store is "
        "still being filled with card profiles; run python -m bench.bench_soak --minutes 30 "
        "--cards 100000 for the real figure."),
    "faults_driver_kill": (
        "Driver recovery is dominated by starting a new driver (bench/component-figures.md, "
        "Driver resume, has a measured breakdown): Python start and JVM launch ~4 s, "
        "SparkContext and the job's setup (Python data source workers) ~9 s, then the first "
        "micro-batch at 12-15 s against ~2 s for a steady one: planning 2.3-3.7 s, a first "
        "Python worker for the source read (~3 s) and four stateful tasks on two cores each "
        "starting a Python worker and loading RocksDB state (~6.4 s). On the shared 2-core "
        "machine, with other engineers' test suites running, each step is slower."),
    "e2e_latency": (
        "The fraud job's micro-batch, not the trigger or the delivery. Of the {p50_s:.2f} s "
        "median, the feed takes {accept_to_visible_p50_s:.3f} s (accept to readable: its "
        "group commit), and {detection_delay_p50_s:.2f} s pass between the transaction's "
        "timestamp and the job raising its alert (detection_delay, what the exporter exposes "
        "as streamwatch_fraud_detection_delay_seconds); the alerting service and the webhook "
        "add the rest (alerting's own p99 is in its section). At 5,000 tx/s the job's "
        "micro-batches run back to back, so a transaction waits for the running batch to end "
        "before it is read and for one more batch to be processed: the fraud section gives a "
        "5,000-row batch's cost with nothing else running; here the producer, the alerting "
        "service and the receiver share the two cores (CPUs {cpu_busy_mean:.0%} busy), the "
        "batches are slower, and latency grows through the run (first-fifth mean "
        "{first_fifth_mean_s:.2f} s, last {last_fifth_mean_s:.2f} s). Latency stayed flat up "
        "to {headroom_tx_per_s:,.0f} tx/s ({headroom_search}). A median under 1 s needs "
        "batches under ~0.4 s; the fraud section says where a batch's time goes (the Python "
        "state step, then Spark's read, parse and shuffle). The job runs one shuffle "
        "partition per core and 8 card buckets (~10 ms of fixed Python work each a batch); "
        "bench/component-figures.md compares both with the alternatives."),
    "processor": (
        "VADER, for the headline. hashtags_eps is the job's default, --sentiment-sample 1: "
        "every tweet costs a VADER polarity_scores call in a Python worker (each distinct "
        "text once per worker; 32 us a text on these 8-word texts, about 31,000 texts/s on "
        "one core), on the same two cores that read, parse, dedup and count, so the job "
        "stays near {hashtags_eps:,} tweets/s; 100,000 tweets/s with sentiment on every "
        "tweet needs about three times these cores. Counts stay exact at any sample. "
        "Counting only (--sentiment-sample 0) reaches {hashtags_counting_only_eps:,}/s, "
        "{hashtags_counting_only_eps_vs_parse_only:.0%} of the same run's parse-only "
        "{parse_only_eps:,}/s over the same feed and batches: the rest is Spark's two "
        "stateful stages, the dedup by tweet id (one state key per tweet; every batch loads "
        "and commits each partition's state store) and the sliding windows' pane "
        "aggregation. The component probes (Figures without a result file, below) put the "
        "dedup first."),
    "orders": (
        "A cold session's first batch, then the per-batch hand-over to the Python minute "
        "store. The first 200,000 events take {orders_first_batch_s:.1f} s (not profiled in "
        "this run: the session's first plan, the JVM compiling the read and parse paths, the "
        "first Arrow hand-over); without it the job runs {orders_steady_eps:,} events/s. Each "
        "later batch is parse-only's work plus toArrow() of the job's projection (~0.2 s for "
        "200,000 events), the minute store (~0.1-0.2 s, ~0.7 s when a minute becomes final) "
        "and Spark's per-batch bookkeeping (bench/component-figures.md, \"orders: where the "
        "time goes\"). Overall the job runs at {orders_eps_vs_parse_only:.0%} of the same "
        "run's parse-only {parse_only_eps:,}/s over the same feed and batches. 100,000 "
        "events/s on these two cores needs the per-batch dedup and counting in the JVM, or "
        "handing the store less than every event."),
    "fraud": (
        "Spark's per-batch work and the Python state step. At 200,000 rows a batch the state "
        "step takes {state_share_100k_cards_200k_batch:.0%} of the batch's core-seconds "
        "(batch p50 {batch_s_p50_100k_cards_200k_batch:.2f} s, state update p50 "
        "{state_update_s_p50_100k_cards_200k_batch:.2f} s summed over the two partitions). The "
        "detector alone runs {detector_only_tx_per_s_one_core:,} tx/s on one core, so most of "
        "the state step is reading and writing each card's profile in the state store and "
        "moving rows between Arrow and Python; the rest of the batch is Spark's: reading the "
        "feed over HTTP and parsing JSON, the shuffle by card bucket, the Arrow hand-over, "
        "planning, and the offset and commit logs. The state cost grows with the cards in "
        "state: at 5,000 rows a batch the state update p50 is "
        "{state_update_s_p50_100k_cards_5k_batch:.2f} s with "
        "{cards_in_state_100k_cards_5k_batch:,} cards and "
        "{state_update_s_p50_1M_cards_5k_batch:.2f} s with {cards_in_state_1M_cards_5k_batch:,}, "
        "so the 1M population falls behind the live 5,000 tx/s "
        "({tx_per_s_1M_cards_5k_batch:,} tx/s at 5,000 a batch). At the live batch size a "
        "batch has a large fixed cost (p50 {batch_s_p50_100k_cards_5k_batch:.2f} s for 5,000 "
        "rows): headroom {live_headroom_100k_cards_5k_batch:.2f}x at 100k cards."),
}


#: Per (benchmark, goal): what limits that goal, one line for the Goals table.
GOAL_LIMITS: dict[tuple[str, str], str] = {
    ("processor", "hashtags_eps"): (
        "VADER on every tweet in a Python worker (~32 us a text); counting only: "
        "{hashtags_counting_only_eps:,}/s"),
    ("processor", "hashtags_counting_only_eps"): (
        "Spark's stateful stages (dedup by tweet id, window panes); parse-only: "
        "{parse_only_eps:,}/s"),
    ("fraud", "tx_per_s_100k_cards_200k_batch"): (
        "the Python state step ({state_share_100k_cards_200k_batch:.0%} of a batch's core "
        "time: card profiles read and written; the detector alone does "
        "{detector_only_tx_per_s_one_core:,}/s on a core), then Spark's read, parse and "
        "shuffle"),
    ("e2e_latency", "p50_s"): (
        "the fraud job's micro-batches, back to back (event -> alert raised p50 "
        "{detection_delay_p50_s:.2f} s; the feed adds {accept_to_visible_p50_s:.3f} s)"),
    ("e2e_latency", "p99_s"): (
        "the same batches, slowing through the run (mean {first_fifth_mean_s:.2f} s in the "
        "first fifth, {last_fifth_mean_s:.2f} s in the last); flat up to "
        "{headroom_tx_per_s:,.0f} tx/s"),
    ("orders", "orders_eps"): (
        "a cold first batch ({orders_first_batch_s:.1f} s for 200,000; steady "
        "{orders_steady_eps:,}/s), then toArrow and the Python minute store each batch; "
        "parse-only: {parse_only_eps:,}/s"),
    ("soak", "rss_exporter_growth"): (
        "the exporter's fraud-quality tracker filling towards its cap "
        "(--quality-max-incidents), not reached in the run"),
}


class _Absent:
    """Stands in for a figure the result lacks ("?") or holds as None ("none"), whatever
    the format spec."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __format__(self, spec: str) -> str:
        return self.text


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> Any:
        return _Absent("?")


def filled(text: str, doc: dict[str, Any]) -> str:
    """``text`` with ``{figure}`` / ``{figure:spec}`` filled from the result ``doc``."""
    merged = {**(doc.get("baseline") or {}), **(doc.get("ratios") or {}),
              **(doc.get("figures") or {})}
    return text.format_map(_Values({k: _Absent("none") if v is None else v
                                    for k, v in merged.items()}))


def load_results(directory: Path) -> dict[str, dict[str, Any]]:
    """name -> newest document; a full run wins over a quick one."""
    docs: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(doc, dict) or "name" not in doc or "figures" not in doc:
            continue  # not in the bench/common.py format (e.g. an older run)
        doc["_file"] = path.name
        name = doc["name"]
        old = docs.get(name)
        if old is None or _better(doc, old):
            docs[name] = doc
    return docs


def _better(new: dict[str, Any], old: dict[str, Any]) -> bool:
    if bool(new.get("quick")) != bool(old.get("quick")):
        return not new.get("quick")
    return str(new.get("started_at", "")) > str(old.get("started_at", ""))


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return {True: "yes", False: "no", None: "-"}[value]
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isinf(value):
            return "∞"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:,.1f}"
        return f"{value:.3g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(fmt(v) for v in value[:8]) + (" …" if len(value) > 8 else "")
    return str(value).replace("|", "\\|")


def table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(fmt(c) if not isinstance(c, str) else c.replace("|", "\\|")
                              for c in row) + " |" for row in rows]
    return [*out, ""]


def block(title: str, rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> list[str]:
    return [title, "", *table(rows, header)]


def machine_line(doc: dict[str, Any]) -> str:
    m = doc.get("machine") or {}
    mem = m.get("memory")
    mem_s = f"{mem / 2**30:.0f} GiB" if isinstance(mem, int | float) else "?"
    load = m.get("load_avg")
    during = m.get("load_during_run") or {}
    load_s = (f", load average {load[0]:g} / {load[1]:g} / {load[2]:g} (1 / 5 / 15 min) "
              "at the end of the run" if load else "")
    if during.get("samples"):
        busy = during.get("cpu_busy_mean")
        load_s += (f"; during the run: 1-min load average {during['load1_mean']:g} mean, "
                   f"{during['load1_max']:g} max"
                   + (f", CPUs {busy * 100:.0f} % busy (the benchmark's own processes "
                      "included)" if busy is not None else ""))
    return (f"{m.get('cpus', '?')} CPUs (shared), {mem_s} RAM, Python {m.get('python', '?')}, "
            f"Java {m.get('java', '?')}, PySpark {m.get('pyspark', '?')}, {m.get('os', '?')}"
            f"{load_s}")


def goal_text(goal: dict[str, Any]) -> str:
    parts = []
    if "min" in goal:
        parts.append(f">= {fmt(goal['min'])}")
    if "max" in goal:
        parts.append(f"<= {fmt(goal['max'])}")
    return " and ".join(parts)


def plot_series(doc: dict[str, Any], img_dir: Path, rel: str) -> list[str]:
    """One PNG per ``plot`` group of the document's series; Markdown image links."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for s in doc.get("series") or []:
        if s.get("points"):
            groups[s.get("plot") or s["name"]].append(s)
    if not groups:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    img_dir.mkdir(parents=True, exist_ok=True)
    links = []
    for plot, members in groups.items():
        fig, ax = plt.subplots(figsize=(7, 3.2), dpi=100)
        for s in members:
            xs = [p[0] for p in s["points"]]
            ys = [p[1] for p in s["points"]]
            kind = s.get("kind", "line")
            if kind == "scatter":
                ax.scatter(xs, ys, s=8, label=s["name"], alpha=0.7)
            elif kind == "bar":
                ax.bar(xs, ys, label=s["name"], width=0.6)
            else:
                ax.plot(xs, ys, label=s["name"], linewidth=1.2)
        units = sorted({s.get("unit", "") for s in members})
        ax.set_ylabel(" / ".join(units))
        ax.set_xlabel(members[0].get("x", "t_s").replace("t_s", "seconds"))
        ax.set_title(f"{doc['name']}: {plot}{' (quick run)' if doc.get('quick') else ''}",
                     fontsize=10)
        ax.grid(alpha=0.3)
        if len(members) > 1:
            ax.legend(fontsize=8)
        for goal_key, goal in (doc.get("goals") or {}).items():
            if plot.endswith("latency") and goal_key in ("p50_s", "p99_s") and "max" in goal:
                ax.axhline(goal["max"], color="grey", linestyle="--", linewidth=0.8)
        fig.tight_layout()
        name = f"{plot}.png"
        fig.savefig(img_dir / name)
        plt.close(fig)
        links.append(f"![{plot}]({rel}/{name})")
    return links


def section(doc: dict[str, Any], img_dir: Path, rel: str) -> list[str]:
    name = doc["name"]
    title = TITLES.get(name) or doc.get("title") or name
    out = [f"## {title}", ""]
    if doc.get("quick"):
        out += ["> Only a `--quick` run is recorded: it proves the code runs; its figures are "
                "not a measurement.", ""]
    ratios = [(k, v) for k, v in (doc.get("ratios") or {}).items()]
    if ratios:
        out += block("**Ratios**", ratios, ("ratio", "value"))
    verdicts = goal_verdicts(doc)
    if verdicts:
        rows = []
        for key, v in verdicts.items():
            state = {True: "met", False: "**missed**", None: "n/a"}[v["met"]]
            by = v.get("missed_by_factor")
            rows.append((key, v["value"], goal_text(v["goal"]), state,
                         f"x{by:.2f}" if by else ""))
        out += block("**Goals**", rows, ("figure", "value", "goal", "verdict",
                                                 "missed by"))
        if any(v["met"] is False for v in verdicts.values()) and name in LIMITS:
            out += [f"What limits it: {filled(LIMITS[name], doc)}", ""]
    scalar = [(k, v) for k, v in (doc.get("figures") or {}).items()
              if not isinstance(v, dict | list)]
    nested = [(k, v) for k, v in (doc.get("figures") or {}).items() if isinstance(v, dict)]
    if scalar:
        out += block("**Figures**", scalar, ("figure", "value"))
    for key, value in nested:
        out += block(f"**{key}**", list(value.items()), ("", "value"))
    if doc.get("baseline"):
        out += block("**Baseline (same run)**", list(doc["baseline"].items()),
                                                       ("baseline", "value"))
    if doc.get("faults"):
        rows = [(f.get("n"), f.get("fault"), f.get("committed_offset"), f.get("recovery_s"),
                 ", ".join(f"{k} {fmt(v)}" for k, v in f.items()
                           if k not in ("n", "fault", "committed_offset", "recovery_s")))
                for f in doc["faults"]]
        out += block("**Faults**", rows, ("#", "fault", "committed offset at fault",
                                                 "recovery s", "details"))
    for run in doc.get("runs") or []:
        prof = run.get("profile") if isinstance(run, dict) else None
        if prof:
            label = f" at trigger {run.get('trigger')}" if run.get("trigger") else ""
            out += block(f"**Profile{label}** (py-spy, {prof['samples']:,} non-idle samples of "
                         "the driver and its Python workers over "
                         f"{fmt(prof['seconds'])} s; share of samples)",
                         [(f"`{f}`", share) for f, share in prof["top_self"][:10]],
                         ("where samples end (self)", "share"))
    for note in doc.get("notes") or []:
        out.append(f"- {note}")
    if doc.get("notes"):
        out.append("")
    out += plot_series(doc, img_dir, rel)
    out += ["", f"Command: `{doc.get('command', '?')}` — started {doc.get('started_at', '?')}, "
            f"took {fmt(doc.get('seconds'))} s — result file `bench/results/{doc['_file']}`",
            "", f"Machine: {machine_line(doc)}", ""]
    return out


def load_during(doc: dict[str, Any]) -> str:
    """The 1-min load average (mean and max) while the run ran, and the CPUs' busy share."""
    during = (doc.get("machine") or {}).get("load_during_run") or {}
    if not during.get("samples"):
        load = (doc.get("machine") or {}).get("load_avg")
        return (f"{load[0]:g} at the end (not sampled during)" if load
                else "not recorded (run before the load was sampled)")
    busy = during.get("cpu_busy_mean")
    return (f"{during['load1_mean']:g} mean, {during['load1_max']:g} max"
            + (f"; CPUs {busy * 100:.0f} % busy" if busy is not None else ""))


def goals_summary(docs: dict[str, dict[str, Any]]) -> list[str]:
    """One row per goal: the figure on the default path, the same run's baseline, the load
    while it ran and the command; a missed goal says by how much, and its section says why."""
    rows = []
    for name in ORDER + sorted(n for n in docs if n not in ORDER):
        doc = docs.get(name)
        if doc is None or name.startswith(FAULT_PREFIX):
            continue
        labels = doc.get("goal_labels") or {}
        base = ", ".join(f"{k} {fmt(v)}" for k, v in list((doc.get("baseline") or {}).items())[:2]
                         if isinstance(v, int | float))
        for key, v in goal_verdicts(doc).items():
            state = {True: "met", False: "**missed**", None: "n/a"}[v["met"]]
            by = v.get("missed_by_factor")
            if by:
                state += f" by x{by:.2f}"
            what = f"{labels[key]} (`{key}`)" if key in labels else f"`{key}`"
            limit = (filled(GOAL_LIMITS[(name, key)], doc)
                     if v["met"] is False and (name, key) in GOAL_LIMITS else "-")
            rows.append((f"[{name}](#{_anchor(TITLES.get(name, name))})", what, v["value"],
                         goal_text(v["goal"]), state + (" (quick run)" if doc.get("quick")
                                                        else ""),
                         limit, base or "-", load_during(doc), f"`{doc.get('command', '?')}`"))
    if not rows:
        return []
    return ["## Goals", "",
            "Each goal's figure on the product's default path (feed server, default flags, "
            "unless the figure's label says otherwise), next to a baseline measured in the same "
            "run and the machine's load while it ran. A missed goal says by how much and what "
            "limits it; its section says more.", "",
            *table(rows, ("benchmark", "figure", "value", "goal", "verdict", "what limits it",
                          "baseline (same run)", "load during the run", "command"))]


def faults_summary(docs: dict[str, dict[str, Any]]) -> list[str]:
    faults = [d for n, d in sorted(docs.items()) if n.startswith(FAULT_PREFIX)
              and n != "faults_reference"]
    if not faults:
        return []
    rows = []
    for d in faults:
        f = d["figures"]
        verdict = "met" if all(v["met"] for v in goal_verdicts(d).values()) else "**missed**"
        rows.append((d.get("title") or d["name"], f.get("faults"), f.get("expected"),
                     f.get("stored"), f.get("delivered"), f.get("lost"), f.get("duplicated"),
                     f.get("recovery_s_max"), f.get("recovery_s_median"),
                     verdict + (" (quick)" if d.get("quick") else ""), load_during(d)))
    ref = docs.get("faults_reference")
    out = ["## Fault runs: exact accounting", ""]
    if ref:
        w = ref.get("workload", {})
        out += [f"Input: {fmt(w.get('events'))} transactions from `streamwatch txns --seed "
                f"{w.get('seed')} --max-events {w.get('events')} --rate {fmt(w.get('rate'))} "
                f"--fraud-rate {w.get('fraud_rate')} --start-time {w.get('start_time')}`, read "
                f"with `--trigger {w.get('trigger')} --max-records-per-trigger "
                f"{w.get('max_records_per_trigger')}`; expected = the {ref['figures']['expected']}"
                " alert ids of an uninterrupted run over the same records (SHA-256 "
                f"`{str(ref.get('input_sha256', ''))[:16]}…`).", ""]
    out += table(rows, ("scenario", "faults", "expected", "stored", "delivered", "lost",
                        "duplicated", "recovery s (max)", "recovery s (median)",
                        "goal: 0 lost, 0 dup" + ", driver <= 30 s", "load during the run"))
    out += ["Lost = expected alerts never delivered; duplicated = an alert stored twice or "
            "delivered under two different `webhook-id`s (a redelivery with the same id is "
            "deduplicated by the receiver and counted separately). Recovery: driver/executor = "
            "fault until the next micro-batch commits; alerting = kill until the next webhook "
            "arrives; receiver = back up until every stored alert is delivered; producer = back "
            "up until processing advances.", ""]
    return out


def render(docs: dict[str, dict[str, Any]], img_dir: Path, rel: str) -> str:
    out = ["# Benchmarks", "",
           "Generated by `python -m bench.report` from `bench/results/*.json` "
           "(`make bench` runs every benchmark, the fault runs, then this). **All figures come "
           "from a shared 2-core machine** on which other engineers ran builds and test suites "
           "at the same time: absolute numbers are noisy and low; each figure is therefore "
           "measured next to its baseline in the same run, and ratios are given first. Every "
           "result records the machine's load while it ran (the 1-minute load average and the "
           "CPUs' busy share, sampled every 2 s; the benchmark's own processes count), and each "
           "goal is judged on the product's default path: the feed server and the job's "
           "default flags, with anything else labelled.", "",
           "Reproduce:", "", "```bash",
           "make bench                                   # everything, then this report",
           "python -m bench --quick                      # every benchmark's short form",
           "python -m bench.faults [--quick] [--only driver_kill]",
           "python -m bench.bench_e2e_latency            # default path, 5,000 tx/s 300 s, "
           "then the headroom search (<= ~24 min)",
           "python -m bench.bench_fraud                  # 100k and 1M cards, feed source, "
           "5k / 50k / 200k rows a batch",
           "python -m bench.bench_processor              # hashtags (default and counting "
           "only), feed vs socket ladders, backlog",
           "python -m bench.bench_orders                 # orders job events/s next to parse-only",
           "python -m bench.bench_kafka                  # fraud job: Kafka source beside the feed",
           "python -m bench.compare_fraud --ref main   # fraud job: that commit beside this",
           "python -m bench.bench_soak --minutes 30 --cards 100000   # not part of make bench",
           "python -m bench.report                       # re-render this page", "```", ""]
    summary = []
    for name in ORDER + sorted(n for n in docs if n not in ORDER):
        doc = docs.get(name)
        if doc is None or name.startswith(FAULT_PREFIX):
            continue
        verdicts = goal_verdicts(doc)
        met = [k for k, v in verdicts.items() if v["met"]]
        missed = [f"{k} (x{v['missed_by_factor']:.2f})" if v.get("missed_by_factor") else k
                  for k, v in verdicts.items() if v["met"] is False]
        ratios = ", ".join(f"{k} {fmt(v)}" for k, v in (doc.get("ratios") or {}).items())
        summary.append((f"[{name}](#{_anchor(TITLES.get(name, name))})", ratios or "-",
                        ", ".join(met) or "-", ", ".join(missed) or "-",
                        "quick" if doc.get("quick") else "full"))
    if summary:
        out += block("## Summary", summary, ("benchmark", "ratios", "goals met",
                                                    "goals missed (by)", "run"))
    out += goals_summary(docs)
    missing = [n for n in ORDER if n not in docs]
    if missing:
        out += [f"Not recorded yet: {', '.join(missing)} (no result file in bench/results).", ""]
    if COMPONENT_FIGURES.exists():
        # figures reported by component benchmarks that write no result file yet
        out += [COMPONENT_FIGURES.read_text().rstrip(), ""]
    out += faults_summary(docs)
    for name in ORDER + sorted(n for n in docs if n not in ORDER):
        if name in docs and name != "faults_reference":
            out += section(docs[name], img_dir, rel)
    return "\n".join(out).rstrip() + "\n"


def _anchor(title: str) -> str:
    keep = "".join(c for c in title.lower() if c.isalnum() or c in " -_")
    return keep.replace(" ", "-")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=None,
                        help="results directory (default bench/results or "
                             "$STREAMWATCH_BENCH_RESULTS)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--img", type=Path, default=None,
                        help="directory for the PNG plots (default: img/ next to --out)")
    args = parser.parse_args(argv)
    docs = load_results(args.results or results_dir())
    img = args.img or args.out.parent / "img"
    rel = Path(img).resolve().relative_to(args.out.parent.resolve()).as_posix() \
        if Path(img).resolve().is_relative_to(args.out.parent.resolve()) else str(img)
    text = render(docs, img, rel)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"wrote {args.out} ({len(docs)} result files, plots in {img})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
