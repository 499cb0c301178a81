"""The event contracts' validation before and after the models: ``from_dict`` of the
hand-written ``_Checker`` (commit 7f49eca) next to the pydantic models, on the same
100k JSON lines per event type (parse included, best of 3). A one-off comparison
behind docs/benchmarks.md's figure, not part of ``make bench``:

    python -m bench.contracts_checker_vs_models [--lines N]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from streamwatch.contracts import events
from tests.factories import alert_body

CHECKER_COMMIT = "7f49eca"
ROOT = Path(__file__).resolve().parent.parent

DOCS: dict[str, dict[str, Any]] = {
    "Tweet": {"id": "1850000000000000001", "created_at": "2026-11-20T10:15:03.120Z",
              "user": "ada", "lang": "en", "text": "Launch day! #spark #streaming"},
    "Transaction": {"txn_id": "t-000000001", "event_time": "2026-11-20T10:15:03.120Z",
                    "card_id": "c-004211", "customer_id": "u-004211", "amount": "42.10",
                    "currency": "USD", "merchant_id": "m-00071",
                    "merchant_category": "grocery", "channel": "pos", "lat": 40.71,
                    "lon": -74.01, "country": "US", "device_id": "d-1"},
    "Label": {"txn_id": "t-1", "is_fraud": True, "scenario": "card_testing",
              "incident_id": "i-1"},
    "OrderEvent": {"event_id": "o-1/shipped", "order_id": "o-1", "status": "shipped",
                   "event_time": "2026-11-20T10:15:03.120Z", "region": "eu-west", "items": [
                       {"sku": "boo-0042", "category": "books", "quantity": 2,
                        "unit_price": "12.99"},
                       {"sku": "toy-1", "category": "toys", "quantity": 1,
                        "unit_price": "3.50"}]},
    "Alert": alert_body("velocity", "c-1", ["t-1", "t-2"], severity="high",
                        event_time="2026-11-20T10:15:03.120Z",
                        detected_at="2026-11-20T10:15:04.000Z", reason="r"),
}


def checker_module() -> ModuleType:
    source = subprocess.run(
        ["git", "show", f"{CHECKER_COMMIT}:src/streamwatch/contracts/events.py"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "checker_events.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("checker_events", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["checker_events"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def rate(cls: Any, lines: list[bytes]) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for line in lines:
            cls.from_dict(orjson.loads(line))
        best = min(best, time.perf_counter() - start)
    return len(lines) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    checker = checker_module()
    for name, doc in DOCS.items():
        lines = [orjson.dumps(doc)] * args.lines
        before, after = rate(getattr(checker, name), lines), rate(getattr(events, name), lines)
        print(f"{name:12} checker {before:9,.0f}/s  models {after:9,.0f}/s  "
              f"models/checker {after / before:.2f}")


if __name__ == "__main__":
    main()
