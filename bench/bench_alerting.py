"""Benchmark of the alerting service: ingest rate, delivery rate, ingest->receipt latency.

Key concepts:
- A real alerting process (SQLite in a temporary directory, or PostgreSQL with
  ``--database-url``; ``--workers`` delivery workers) and a local webhook
  receiver (``tests.receiver.Receiver``) that answers 200 at once.
- ``ingest_alerts_per_s``: alerts/s accepted by ``POST /v1/alerts`` (batches of
  100, 4 client threads, no subscriptions).                     Goal >= 2,000/s.
  Baseline, same rows, same disk: raw ``sqlite3`` inserts into the same
  ``alerts`` table (WAL, ``synchronous=FULL``, one transaction per 100 rows,
  one thread): ``sqlite_raw_insert_per_s``.
- ``deliveries_per_s``: webhooks/s reaching the receiver for a backlog ingested
  in one go.                                                    Goal >= 500/s.
  Baseline: the same receiver's ceiling, plain POSTs of a webhook-sized body
  from as many client threads as there are delivery workers
  (``receiver_posts_per_s``).
- ``latency_p50_s``/``p95``/``p99``/``max``: from POSTing one alert to its
  webhook arriving, at a steady (open-loop) 100 alerts/s.      Goal p99 <= 0.5 s.
- Series: ingest and delivery rate per 0.5 s (``alerting_throughput``) and
  the latency of each alert against the time it was sent (``alerting_latency``).

The client, the receiver and the service share this machine's cores, so the
figures are a floor for a deployment where they do not.

Usage::

    python -m bench.bench_alerting                  # ~1 min
    python -m bench.bench_alerting --quick          # ~20 s (make test-bench)
    python -m bench.bench_alerting --database-url postgresql://... --workers 16

Expected output: a summary (``print_figures``: ratios, figures, baseline,
goals) and ``bench/results/alerting.json`` (``alerting-quick.json``) in the
format of ``bench/common.py``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import requests

from bench.common import (
    command_line,
    ingest_headers,
    percentiles,
    ratio,
    record,
    result,
    series,
    utc_now,
)
from bench.ports import free_port
from streamwatch.alerting.store.schema import MIGRATIONS
from streamwatch.contracts.events import alert_id, parse_ts
from tests.receiver import Receiver

TOKEN = "bench-admin-token-" + "b" * 24
GOALS = {"ingest_alerts_per_s": {"min": 2000}, "deliveries_per_s": {"min": 500},
         "latency_p99_s": {"max": 0.5}}
BIN_S = 0.5  # width of the rate series' bins


def make_alerts(prefix: str, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        card, txn = f"c-{i % 50_000:06d}", f"{prefix}-{i}"
        out.append({"alert_id": alert_id("velocity", card, txn), "rule": "velocity",
                    "severity": "high", "score": 0.9, "card_id": card, "txn_ids": [txn],
                    "event_time": "2026-11-20T10:15:03.120Z",
                    "detected_at": "2026-11-20T10:15:04.000Z", "reason": "benchmark"})
    return out


def rate_series(times: list[float], start: float, counts: list[int] | None = None
                ) -> list[tuple[float, float]]:
    """Events per second in ``BIN_S`` bins: ``(end of bin - start, rate)``; the last bin
    ends at the last event (a stub shorter than half a bin joins the one before)."""
    if not times:
        return []
    end = max(times) - start
    bins = [0] * (int(end / BIN_S) + 1)
    for k, t in enumerate(times):
        bins[min(len(bins) - 1, max(0, int((t - start) / BIN_S)))] += counts[k] if counts else 1
    edges = [(b + 1) * BIN_S for b in range(len(bins))]
    edges[-1] = end
    if len(bins) > 1 and end - (len(bins) - 1) * BIN_S < BIN_S / 2:
        stub = bins.pop()
        bins[-1] += stub
        edges.pop()
        edges[-1] = end
    out, lo = [], 0.0
    for n, hi in zip(bins, edges, strict=True):
        if hi > lo:
            out.append((round(hi, 3), n / (hi - lo)))
        lo = hi
    return out


def start_service(data_dir: Path, database_url: str | None, workers: int) -> tuple[Any, str]:
    port = free_port()
    env = {**os.environ, "STREAMWATCH_ADMIN_TOKEN": TOKEN,
           "STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE": "1",
           "STREAMWATCH_ALERTING_LOG_LEVEL": "warning"}
    if database_url:
        env["STREAMWATCH_ALERTING_DATABASE_URL"] = database_url
    log = open(data_dir / "alerting.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamwatch.alerting", "--port", str(port), "--data-dir",
         str(data_dir), "--delivery-workers", str(workers), "--poll-interval", "0.5"],
        stdout=log, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if requests.get(base + "/readyz", timeout=1).status_code == 200:
                return proc, base
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("alerting did not become ready; see " + str(data_dir / "alerting.log"))


def bench_ingest(base: str, n: int, threads: int = 4, batch: int = 100) -> dict[str, Any]:
    alerts = make_alerts("ingest", n)
    batches = [alerts[i:i + batch] for i in range(0, n, batch)]
    local = threading.local()
    done: list[tuple[float, int]] = []  # (time.perf_counter() at the answer, alerts)

    def post(b: list[dict[str, Any]]) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        session.post(base + "/v1/alerts", json={"alerts": b}, timeout=30,
                     headers=ingest_headers()).raise_for_status()
        done.append((time.perf_counter(), len(b)))

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, batches))
    elapsed = time.perf_counter() - started
    return {"alerts": n, "seconds": round(elapsed, 3), "alerts_per_s": round(n / elapsed, 1),
            "rate": rate_series([t for t, _ in done], started, [k for _, k in done])}


def bench_sqlite_raw(path: Path, n: int, batch: int = 100) -> dict[str, Any]:
    """The same rows as ``bench_ingest`` inserted with plain ``sqlite3`` into the service's
    ``alerts`` table (WAL, ``synchronous=FULL``, one transaction per batch, one thread)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
        for stmt in MIGRATIONS[0]:
            if "alerts" in stmt.split("(")[0]:  # the alerts table and its indexes
                conn.execute(stmt.format(serial=serial))
        alerts = make_alerts("ingest", n)
        started = time.perf_counter()
        for i in range(0, n, batch):
            now_ms = int(time.time() * 1000)
            rows = [(a["alert_id"], a["rule"], a["severity"], a["card_id"],
                     int(parse_ts(a["event_time"]).timestamp() * 1000), now_ms,
                     orjson.dumps(a).decode()) for a in alerts[i:i + batch]]
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(
                "INSERT INTO alerts (alert_id, rule, severity, card_id, event_time_ms,"
                " received_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (alert_id) DO NOTHING", rows)
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
    finally:
        conn.close()
    return {"rows": n, "seconds": round(elapsed, 3), "rows_per_s": round(n / elapsed, 1)}


def subscribe(base: str, url: str) -> str:
    r = requests.post(base + "/v1/subscriptions", json={"url": url},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    r.raise_for_status()
    return r.json()["id"]


def unsubscribe(base: str, sid: str) -> None:
    requests.delete(f"{base}/v1/subscriptions/{sid}",
                    headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).raise_for_status()


def bench_delivery(base: str, n: int) -> dict[str, Any]:
    with Receiver() as rx:
        sid = subscribe(base, rx.url)
        alerts = make_alerts("delivery", n)
        started = time.time()
        with requests.Session() as s:
            for i in range(0, n, 500):
                s.post(base + "/v1/alerts", json={"alerts": alerts[i:i + 500]},
                       timeout=60, headers=ingest_headers()).raise_for_status()
        got = rx.wait_for(lambda reqs: len(reqs) >= n, timeout=max(60, n / 50))
        elapsed = got[-1].at - started
        unsubscribe(base, sid)
    return {"deliveries": n, "seconds": round(elapsed, 3),
            "deliveries_per_s": round(n / elapsed, 1),
            "rate": rate_series([r.at for r in got], started)}


def _post_worker(port: int, path: str, body: bytes, headers: dict[str, str], n: int,
                 threads: int, queue: Any) -> None:
    """``n`` POSTs over ``threads`` keep-alive ``http.client`` connections (what the
    service's sender uses); puts the seconds they took on ``queue``."""
    def run(count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(count):
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"receiver answered {resp.status}")
        conn.close()

    shares = [n // threads + (1 if k < n % threads else 0) for k in range(threads)]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(run, shares))
    queue.put(time.perf_counter() - started)


def bench_receiver(n: int, threads: int) -> dict[str, Any]:
    """The receiver's ceiling: ``n`` plain POSTs of a webhook-sized body from ``threads``
    client threads (as many as the service's delivery workers) in another process, as
    the service's deliveries come from another process."""
    body = orjson.dumps({"type": "alert.created", "timestamp": "2026-11-20T10:15:04.000Z",
                         "data": make_alerts("receiver", 1)[0]})
    headers = {"content-type": "application/json", "webhook-id": "msg_" + "0" * 32,
               "webhook-timestamp": "1795000000", "webhook-signature": "v1," + "A" * 44}
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    with Receiver() as rx:
        proc = ctx.Process(target=_post_worker,
                           args=(rx.port, rx.path, body, headers, n, threads, queue))
        proc.start()
        try:
            elapsed = queue.get(timeout=max(60, n / 50))
        finally:
            proc.join(timeout=30)
        got = len(rx.snapshot())
    if got < n:
        raise RuntimeError(f"receiver baseline: {got} of {n} POSTs arrived")
    return {"posts": n, "threads": threads, "seconds": round(elapsed, 3),
            "posts_per_s": round(n / elapsed, 1)}


def bench_latency(base: str, seconds: float, rate: float = 100.0) -> dict[str, Any]:
    n = int(seconds * rate)
    alerts = make_alerts("latency", n)
    sent: dict[str, float] = {}
    with Receiver() as rx:
        sid = subscribe(base, rx.url)
        with requests.Session() as s:
            t0 = time.perf_counter()
            for i, a in enumerate(alerts):
                # open-loop pacing: each alert has its slot, whatever the last one took
                delay = t0 + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                sent[a["alert_id"]] = time.time()
                s.post(base + "/v1/alerts", json={"alerts": [a]}, timeout=30,
                       headers=ingest_headers()).raise_for_status()
        got = rx.wait_for(lambda reqs: len(reqs) >= n, timeout=60)
        unsubscribe(base, sid)
    first = min(sent.values())
    points = sorted((sent[aid] - first, r.at - sent[aid])
                    for r in got for aid in [json.loads(r.body)["data"]["alert_id"]])
    p = percentiles([lat for _, lat in points], (50, 95, 99))
    return {"alerts": n, "rate_per_s": rate, "p50_s": p["p50"], "p95_s": p["p95"],
            "p99_s": p["p99"], "max_s": p["max"], "points": points}


def redacted(argv: list[str] | None) -> list[str]:
    """The command line without the credentials a ``--database-url`` may carry."""
    out, hide = [], False
    for arg in sys.argv[1:] if argv is None else argv:
        if hide or arg.startswith("--database-url="):
            arg = ("--database-url=" if not hide else "") + "postgresql://<redacted>"
        hide = arg == "--database-url"
        out.append(arg)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_alerting", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (~20 s)")
    parser.add_argument("--database-url", default=None, help="benchmark PostgreSQL instead")
    parser.add_argument("--workers", type=int, default=8, help="delivery workers")
    args = parser.parse_args(argv)
    sizes = ({"ingest": 5_000, "delivery": 2_000, "latency_s": 10} if args.quick
             else {"ingest": 30_000, "delivery": 10_000, "latency_s": 30})
    started_at, t0 = utc_now(), time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-alerting-") as tmp:
        proc, base = start_service(Path(tmp), args.database_url, args.workers)
        try:
            results: dict[str, Any] = {
                "database": "postgresql" if args.database_url else "sqlite",
                "delivery_workers": args.workers, "cpus": os.cpu_count(),
                "ingest": bench_ingest(base, sizes["ingest"]),
                "delivery": bench_delivery(base, sizes["delivery"]),
                "latency": bench_latency(base, sizes["latency_s"]),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        # baselines next to it, with the service stopped: same rows on the same disk, and
        # the receiver alone
        results["sqlite_raw"] = bench_sqlite_raw(Path(tmp) / "raw.sqlite3", sizes["ingest"])
    results["receiver"] = bench_receiver(sizes["delivery"], args.workers)
    ingest, delivery, lat = results["ingest"], results["delivery"], results["latency"]
    figures = {
        "ingest_alerts_per_s": ingest["alerts_per_s"],
        "deliveries_per_s": delivery["deliveries_per_s"],
        "latency_p50_s": lat["p50_s"], "latency_p95_s": lat["p95_s"],
        "latency_p99_s": lat["p99_s"], "latency_max_s": lat["max_s"],
        "latency_rate_per_s": lat["rate_per_s"],
        "ingest_alerts": ingest["alerts"], "deliveries": delivery["deliveries"],
        "latency_alerts": lat["alerts"],
        "database": results["database"], "delivery_workers": args.workers,
    }
    baseline = {"sqlite_raw_insert_per_s": results["sqlite_raw"]["rows_per_s"],
                "receiver_posts_per_s": results["receiver"]["posts_per_s"]}
    ratios = {
        "ingest_vs_sqlite_raw_insert": ratio(ingest["alerts_per_s"],
                                             baseline["sqlite_raw_insert_per_s"]),
        "deliveries_vs_receiver_posts": ratio(delivery["deliveries_per_s"],
                                              baseline["receiver_posts_per_s"]),
    }
    plots = [
        series("ingest alerts/s", ingest.pop("rate"), unit="per s", plot="alerting_throughput"),
        series("deliveries/s", delivery.pop("rate"), unit="per s", plot="alerting_throughput"),
        series(f"ingest->receipt at {lat['rate_per_s']:g}/s", lat.pop("points"), unit="s",
               kind="scatter", plot="alerting_latency"),
    ]
    notes = ["Client, receiver and service share the machine's cores. Throughput series: "
             f"x = seconds since the phase began, {BIN_S:g} s bins. Baselines run right after, "
             "with the service stopped: raw sqlite3 inserts of the ingest rows into the same "
             "alerts table on the same disk, and plain POSTs to the same receiver from "
             f"{args.workers} client threads."]
    if args.database_url:
        notes.append("The service ran on PostgreSQL: the SQLite baseline is only a reference.")
    doc = result("alerting", quick=args.quick, started_at=started_at,
                 seconds=round(time.monotonic() - t0, 1),
                 command=command_line("bench.bench_alerting", redacted(argv)), figures=figures,
                 baseline=baseline, ratios=ratios, goals=GOALS, series=plots, notes=notes,
                 extra={"details": results, "goal_labels": {
                     "ingest_alerts_per_s": f"{ingest['alerts']:,} alerts POSTed to the alerting "
                                            f"service ({results['database']}, default flags)",
                     "deliveries_per_s": f"{delivery['deliveries']:,} webhook deliveries to a "
                                         f"local receiver, {args.workers} delivery workers "
                                         "(the default)",
                     "latency_p99_s": f"alert POSTed -> webhook received, {lat['alerts']:,} "
                                      f"alerts at {lat['rate_per_s']:g}/s"}})
    record(doc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
