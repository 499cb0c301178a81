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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamwatch.core.flags import probability
from streamwatch.core.settings import Settings, or_none, setting, text_or_none


@dataclass(frozen=True)
class EvalSettings(Settings):
    service = "EVAL"
    command = "streamwatch eval"

    alerts: str | None = setting(None, parser=text_or_none, metavar="PATH",
                                 help="alerts: a JSONL file or a directory of JSONL files")
    labels: str | None = setting(
        None, parser=text_or_none, metavar="PATH|URL",
        help="labels: a JSONL file, a directory of them, or the simulator's labels feed URL")
    min_f1: float | None = setting(None, parser=or_none(probability), metavar="F1",
                                   help="exit 1 when any scenario with incidents has F1 below "
                                        "this")
    sweep: int | None = setting(None, parser=or_none(int), metavar="N",
                                help="instead of --alerts/--labels: run the detector over N "
                                     "simulator configurations drawn from the sweep ranges")
    seed: int = setting(0, parser=int, help="seed of the --sweep draws")


class InputError(ValueError):
    """A PATH that cannot be read as JSONL; the message says what to pass instead."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", choices=["fraud"], help="what to evaluate (fraud alerts)")
    EvalSettings.add_arguments(parser)


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
    from streamwatch.core.settings import run_command

    return run_command(EvalSettings, args, run)


def run(settings: EvalSettings) -> int:
    if settings.sweep is not None:
        from streamwatch.quality.sweep import sweep

        print(json.dumps(sweep(settings.sweep, settings.seed), indent=2, sort_keys=True))
        return 0
    if not settings.alerts or not settings.labels:
        print("streamwatch eval: pass --alerts and --labels, or --sweep N", file=sys.stderr)
        return 2
    try:
        report = evaluate(settings.alerts, settings.labels)
    except InputError as exc:
        print(f"streamwatch eval: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, sort_keys=True))
    if settings.min_f1 is not None:
        low = {s: v["f1"] for s, v in report["by_scenario"].items()
               if v["incidents"] and (v["f1"] or 0.0) < settings.min_f1}
        if low:
            print(f"streamwatch eval: F1 below {settings.min_f1} for {low}", file=sys.stderr)
            return 1
    return 0
