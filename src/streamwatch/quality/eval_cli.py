"""Evaluate fraud alerts against the simulator's labels: precision, recall, F1 as JSON.

Matching is per incident (``streamwatch.quality.incidents``): an alert of rule R is
correct when one of its transactions belongs to an incident of scenario R;
an incident is detected when an alert of its scenario's rule names one of
its transactions.

PATH may be a JSONL file, a directory of JSONL files (e.g. the fraud job's
``jsonl:DIR`` sink output) or, for labels, a feed URL such as
``http://127.0.0.1:7102/v1/feeds/labels`` or ``http://127.0.0.1:7102/labels``.

``--sweep N --seed S`` instead runs the fraud job's detector over N simulator
configurations drawn from the sweep ranges (``streamwatch.quality.sweep``) and
reports each scenario's figures as distributions (median, 10th percentile).

Examples:
  streamwatch eval fraud --alerts /tmp/alerts --labels /tmp/labels.jsonl
  streamwatch eval fraud --sweep 8 --seed 1
  streamwatch eval fraud --alerts /tmp/alerts --labels http://127.0.0.1:7102/labels \\
      --min-f1 0.9
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streamwatch.core.flags import add_flag, probability


class InputError(ValueError):
    """A PATH that cannot be read as JSONL; the message says what to pass instead."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=["fraud"], help="what to evaluate (fraud alerts)")
    add_flag(parser, "--alerts", metavar="PATH",
             help="alerts: a JSONL file or a directory of JSONL files")
    add_flag(parser, "--labels", metavar="PATH|URL",
             help="labels: a JSONL file, a directory of them, or the simulator's labels feed URL")
    add_flag(parser, "--min-f1", type=probability, default=None,
             help="exit 1 when any scenario with incidents has F1 below this")
    add_flag(parser, "--sweep", type=int, default=None, metavar="N",
             help="instead of --alerts/--labels: run the detector over N simulator "
                  "configurations drawn from the sweep ranges")
    add_flag(parser, "--seed", type=int, default=0, help="seed of the --sweep draws")


def _jsonl_files(path: Path, what: str) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.jsonl") if not p.name.startswith("."))
        if not files:
            raise InputError(f"--{what} {path}: the directory holds no *.jsonl files")
        return files
    raise InputError(f"--{what} {path}: no such file or directory; pass a JSONL file or a "
                     "directory of them")


def read_jsonl(path: str, what: str) -> Iterator[dict[str, Any]]:
    """Objects of every line of a file, a directory of files, or (labels) a feed URL."""
    if path.startswith(("http://", "https://")):
        yield from read_feed(path)
        return
    for file in _jsonl_files(Path(path), what):
        with file.open("rb") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"--{what}: {file}:{n} is not JSON ({exc.msg})") from None
                if not isinstance(doc, dict):
                    raise InputError(f"--{what}: {file}:{n} is not a JSON object")
                yield doc


def read_feed(url: str) -> Iterator[dict[str, Any]]:
    """Every record of a feed from earliest to its end when the read starts."""
    from streamwatch.feed.client import FeedClient, FeedError

    try:
        feed = FeedClient.from_url(url, timeout=30)
    except ValueError as exc:
        raise InputError(f"--labels {url}: {exc}") from None
    with feed:
        try:
            offsets = feed.offsets()
            for offset, doc in feed.objects(offsets.earliest, offsets.latest):
                if not isinstance(doc, dict):
                    raise InputError(f"--labels {url}: record {offset} is not a JSON object")
                yield doc
        except FeedError as exc:
            raise InputError(f"--labels {url}: cannot read the feed ({exc}); is the "
                             "simulator running and is this its labels feed?") from None


def evaluate(alerts_path: str, labels_path: str) -> dict[str, Any]:
    from streamwatch.quality.incidents import QualityTracker

    tracker = QualityTracker()
    tracker.add_labels(read_jsonl(labels_path, "labels"))
    alerts = list(read_jsonl(alerts_path, "alerts"))
    for n, alert in enumerate(alerts, 1):
        if "alert_id" not in alert or "rule" not in alert:
            raise InputError(f"--alerts: record {n} has no alert_id/rule; is this an alerts "
                             "file (the fraud job's output)?")
    tracker.add_alerts(alerts)
    return tracker.report()


def main(args: argparse.Namespace) -> int:
    if args.sweep is not None:
        from streamwatch.quality.sweep import sweep

        print(json.dumps(sweep(args.sweep, args.seed), indent=2, sort_keys=True))
        return 0
    if not args.alerts or not args.labels:
        print("streamwatch eval: pass --alerts and --labels, or --sweep N", file=sys.stderr)
        return 2
    try:
        report = evaluate(args.alerts, args.labels)
    except InputError as exc:
        print(f"streamwatch eval: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, sort_keys=True))
    if args.min_f1 is not None:
        low = {s: v["f1"] for s, v in report["by_scenario"].items()
               if v["incidents"] and (v["f1"] or 0.0) < args.min_f1}
        if low:
            print(f"streamwatch eval: F1 below {args.min_f1} for {low}", file=sys.stderr)
            return 1
    return 0
