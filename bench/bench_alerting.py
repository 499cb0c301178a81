"""Benchmark of the alerting service: ingest rate, delivery rate, ingest->receipt latency.

Starts a real alerting process (SQLite in a temporary directory, or PostgreSQL with
--database-url) and a local webhook receiver, then measures:

1. ingest: alerts/s accepted by POST /v1/alerts (batches of 100, 4 client threads,
   no subscriptions)                                                  goal >= 2,000/s
2. delivery: webhooks/s reaching a local receiver that answers 200 at once,
   for a backlog ingested in one go                                   goal >= 500/s
3. latency: p50/p95/p99 from POSTing one alert to its webhook arriving, at a
   steady 100 alerts/s                                                goal p99 <= 500 ms

  python bench/bench_alerting.py --quick      # ~20 s
  python bench/bench_alerting.py              # ~1 min; prints JSON last

The client, the receiver and the service share this machine's cores, so the
figures are a floor for a deployment where they do not.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from alerting_service.receiver import Receiver
from streamwatch.events import alert_id

TOKEN = "bench-admin-token-" + "b" * 24


def make_alerts(prefix: str, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        card, txn = f"c-{i % 50_000:06d}", f"{prefix}-{i}"
        out.append({"alert_id": alert_id("velocity", card, txn), "rule": "velocity",
                    "severity": "high", "score": 0.9, "card_id": card, "txn_ids": [txn],
                    "event_time": "2026-11-20T10:15:03.120Z",
                    "detected_at": "2026-11-20T10:15:04.000Z", "reason": "benchmark"})
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_service(data_dir: Path, database_url: str | None, workers: int) -> tuple[Any, str]:
    port = free_port()
    env = {**os.environ, "STREAMWATCH_ADMIN_TOKEN": TOKEN,
           "STREAMWATCH_WEBHOOK_ALLOW_PRIVATE": "1", "STREAMWATCH_LOG_LEVEL": "warning"}
    if database_url:
        env["STREAMWATCH_DATABASE_URL"] = database_url
    log = open(data_dir / "alerting.log", "ab")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen(
        [sys.executable, "-m", "alerting_service", "--port", str(port), "--data-dir",
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


def bench_ingest(base: str, n: int, threads: int = 4, batch: int = 100) -> dict[str, float]:
    alerts = make_alerts("ingest", n)
    batches = [alerts[i:i + batch] for i in range(0, n, batch)]
    local = threading.local()

    def post(b: list[dict[str, Any]]) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        session.post(base + "/v1/alerts", json={"alerts": b}, timeout=30).raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, batches))
    elapsed = time.perf_counter() - started
    return {"alerts": n, "seconds": round(elapsed, 3), "alerts_per_s": round(n / elapsed, 1)}


def subscribe(base: str, url: str) -> str:
    r = requests.post(base + "/v1/subscriptions", json={"url": url},
                      headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    r.raise_for_status()
    return r.json()["id"]


def unsubscribe(base: str, sid: str) -> None:
    requests.delete(f"{base}/v1/subscriptions/{sid}",
                    headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30).raise_for_status()


def bench_delivery(base: str, n: int) -> dict[str, float]:
    with Receiver() as rx:
        sid = subscribe(base, rx.url)
        alerts = make_alerts("delivery", n)
        started = time.time()
        with requests.Session() as s:
            for i in range(0, n, 500):
                s.post(base + "/v1/alerts", json={"alerts": alerts[i:i + 500]},
                       timeout=60).raise_for_status()
        got = rx.wait_for(lambda reqs: len(reqs) >= n, timeout=max(60, n / 50))
        elapsed = got[-1].at - started
        unsubscribe(base, sid)
    return {"deliveries": n, "seconds": round(elapsed, 3),
            "deliveries_per_s": round(n / elapsed, 1)}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_latency(base: str, seconds: float, rate: float = 100.0) -> dict[str, float]:
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
                s.post(base + "/v1/alerts", json={"alerts": [a]}, timeout=30).raise_for_status()
        got = rx.wait_for(lambda reqs: len(reqs) >= n, timeout=60)
        unsubscribe(base, sid)
    lat = [(r.at - sent[json.loads(r.body)["data"]["alert_id"]]) * 1000 for r in got]
    return {"alerts": n, "rate_per_s": rate, "p50_ms": round(percentile(lat, 0.5), 1),
            "p95_ms": round(percentile(lat, 0.95), 1), "p99_ms": round(percentile(lat, 0.99), 1),
            "max_ms": round(max(lat), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (~20 s)")
    parser.add_argument("--database-url", default=None, help="benchmark PostgreSQL instead")
    parser.add_argument("--workers", type=int, default=8, help="delivery workers")
    args = parser.parse_args()
    sizes = ({"ingest": 5_000, "delivery": 2_000, "latency_s": 10} if args.quick
             else {"ingest": 30_000, "delivery": 10_000, "latency_s": 30})
    with tempfile.TemporaryDirectory(prefix="bench-alerting-") as tmp:
        proc, base = start_service(Path(tmp), args.database_url, args.workers)
        try:
            results = {
                "database": "postgresql" if args.database_url else "sqlite",
                "delivery_workers": args.workers, "cpus": os.cpu_count(),
                "ingest": bench_ingest(base, sizes["ingest"]),
                "delivery": bench_delivery(base, sizes["delivery"]),
                "latency": bench_latency(base, sizes["latency_s"]),
            }
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"ingest   {results['ingest']['alerts_per_s']:>9,.0f} alerts/s      (goal >= 2,000)")
    print(f"delivery {results['delivery']['deliveries_per_s']:>9,.0f} webhooks/s    "
          "(goal >= 500)")
    lat = results["latency"]
    print(f"latency  p50 {lat['p50_ms']} ms, p95 {lat['p95_ms']} ms, p99 {lat['p99_ms']} ms "
          "at 100 alerts/s (goal p99 <= 500 ms)")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
