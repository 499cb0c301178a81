"""Replay recorded tweets from a JSONL or CSV file into the ``tweets`` feed.

Key concepts
- **Formats.** JSONL (one object per line: the Streamwatch tweet schema, an X
  API v1.1 status with ``id_str``/``user.screen_name``/``full_text``, or an X
  API v2 stream message ``{"data": ..., "includes": ...}``) or CSV with a
  header. Column and key aliases are tolerated (``author``/``username`` for
  ``user``, ``tweet``/``content`` for ``text``, ``date``/``timestamp`` for
  ``created_at`` ...); ``lang`` defaults to ``und`` (X's "undetermined").
  ``.gz`` files are read transparently.
- **Pacing.** A record is emitted ``(created_at - first created_at) / speed``
  after the first; ``speed=0`` emits as fast as possible in batches. Records
  older than their predecessor go out at once.
- **Malformed lines** are skipped, counted in
  ``streamwatch_replay_malformed_lines_total`` and logged with their line
  number (the first :data:`LOG_EACH` individually); they never stop the replay.
- At the end a summary is logged and the source returns; the producer keeps
  serving the feed.

Usage::

    source = ReplaySource(ReplayConfig(Path("tweets.jsonl"), speed=10), registry=registry)
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson
from prometheus_client import CollectorRegistry, Counter

from streamwatch.events import EventError, Tweet, format_ts, parse_ts
from streamwatch.sources import Emit
from tweet_ingester.xapi import tweet_from_stream_message

log = logging.getLogger(__name__)

LOG_EACH = 1000  # malformed lines logged one by one; later ones only at debug level
BATCH = 1000  # records per emit when not waiting on the clock

ALIASES: dict[str, tuple[str, ...]] = {
    "id": ("id", "id_str", "tweet_id", "status_id"),
    "created_at": ("created_at", "date", "timestamp", "time", "created", "datetime"),
    "user": ("user", "author", "username", "user_name", "screen_name", "user_screen_name",
             "author_id", "user_id"),
    "lang": ("lang", "language"),
    "text": ("full_text", "text", "tweet", "content", "body"),
}
REQUIRED_COLUMNS = ("id", "created_at", "user", "text")
_V1_TIME = "%a %b %d %H:%M:%S %z %Y"  # Wed Oct 10 20:19:24 +0000 2018


class ReplayFileError(ValueError):
    """The file as a whole cannot be replayed (missing, unreadable, no usable header)."""


class MalformedRecord(ValueError):
    """One line cannot become a tweet; the message names the field."""


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    path: Path
    speed: float = 1.0  # 0 = as fast as possible
    rebase_time: bool = False  # shift created_at so the replay looks live

    def __post_init__(self) -> None:
        if self.speed < 0:
            raise ValueError("speed must be >= 0")


@dataclass(slots=True)
class ReplayStats:
    lines: int = 0
    records: int = 0
    malformed: int = 0
    malformed_lines: list[int] = field(default_factory=list)


def detect_format(path: Path) -> str:
    """``jsonl`` or ``csv``, by suffix, else by the first non-blank character."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    if last in (".csv", ".tsv"):
        return "csv"
    if last in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    with _open_binary(path) as f:
        head = f.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return "jsonl" if head[:1] in (b"{", b"[") else "csv"


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def parse_time(value: Any) -> str:
    """A timestamp in any common tweet-data shape -> ``2026-11-20T10:15:03.120Z``."""
    if isinstance(value, bool) or value is None or value == "":
        raise MalformedRecord("created_at: is required")
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        seconds = number / 1000 if number > 1e11 else number  # epoch ms vs epoch s
        return format_ts(datetime.fromtimestamp(seconds, UTC))
    if not isinstance(value, str):
        raise MalformedRecord("created_at: must be a string or a number")
    text = value.strip()
    try:
        return format_ts(parse_ts(text))
    except ValueError:
        pass
    for attempt in (lambda: datetime.strptime(text, _V1_TIME),
                    lambda: datetime.fromisoformat(text)):
        try:
            dt = attempt()
        except ValueError:
            continue
        return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=UTC))
    raise MalformedRecord(f"created_at: {text[:40]!r} is not a recognised timestamp")


def _first(doc: dict[str, Any], name: str) -> Any:
    for key in ALIASES[name]:
        value = doc.get(key)
        if value not in (None, ""):
            return value
    return None


def normalise(doc: Any) -> dict[str, Any]:
    """Any supported record shape -> a validated tweet dict in schema order."""
    if not isinstance(doc, dict):
        raise MalformedRecord("(root): must be a JSON object")
    if isinstance(doc.get("data"), dict):
        try:
            return tweet_from_stream_message(doc).to_dict()
        except EventError as exc:
            raise MalformedRecord(str(exc)) from None
    user = _first(doc, "user")
    if isinstance(user, dict):  # v1.1 statuses nest the author
        user = user.get("screen_name") or user.get("username") or user.get("id_str")
    tweet_id = _first(doc, "id")
    candidate = {
        "id": str(tweet_id) if isinstance(tweet_id, int | str) else tweet_id,
        "created_at": parse_time(_first(doc, "created_at")),
        "user": str(user) if isinstance(user, int) else user,
        "lang": _first(doc, "lang") or "und",
        "text": _first(doc, "text"),
    }
    try:
        return Tweet.from_dict(candidate).to_dict()
    except EventError as exc:
        raise MalformedRecord(str(exc)) from None


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | MalformedRecord]]:
    with _open_binary(path) as f:
        for line_no, raw in enumerate(f, 1):
            line = raw.strip()
            if line_no == 1:
                line = line.removeprefix(b"\xef\xbb\xbf")
            if not line:
                continue
            try:
                yield line_no, normalise(orjson.loads(line))
            except orjson.JSONDecodeError as exc:
                yield line_no, MalformedRecord(f"(line): not valid JSON: {exc}")
            except MalformedRecord as exc:
                yield line_no, exc


def csv_columns(header: list[str]) -> dict[str, str]:
    """Map schema fields to the header's column names; raise if a required one is missing."""
    lowered = {h.strip().lower(): h for h in header if h}
    mapping = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                mapping[name] = lowered[alias]
                break
    missing = [n for n in REQUIRED_COLUMNS if n not in mapping]
    if missing:
        accepted = "; ".join(f"{n}: {', '.join(ALIASES[n])}" for n in missing)
        raise ReplayFileError(
            f"the CSV header {header} has no column for {', '.join(missing)}. "
            f"Accepted names: {accepted}")
    return mapping


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | MalformedRecord]]:
    with _open_binary(path) as raw:
        # invalid UTF-8 becomes U+FFFD: one bad byte must not end the replay
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
        delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
        reader = csv.reader(text, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        columns = csv_columns(header)
        index = {name: header.index(col) for name, col in columns.items()}
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, MalformedRecord(f"(line): {exc}")
                start = reader.line_num + 1
                continue
            line_no, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield line_no, MalformedRecord(
                    f"(line): has {len(row)} fields, the header has {len(header)}")
                continue
            doc = {name: row[i] for name, i in index.items()}
            try:
                yield line_no, normalise(doc)
            except MalformedRecord as exc:
                yield line_no, exc


def read_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | MalformedRecord]]:
    """``(line number, tweet dict or the reason it is malformed)`` for each non-blank line."""
    if detect_format(path) == "csv":
        return _csv_records(path)
    return _jsonl_records(path)


def check_file(path: Path) -> None:
    """Raise :class:`ReplayFileError` with a fix if ``path`` cannot be replayed at all."""
    if not path.is_file():
        raise ReplayFileError(f"{path} does not exist or is not a file")
    try:
        fmt = detect_format(path)
        if fmt == "csv":
            with _open_binary(path) as raw:
                text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
                delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
                header = next(csv.reader(text, delimiter=delimiter), None)
            if header is None:
                raise ReplayFileError(f"{path} is empty; a CSV file needs a header line")
            csv_columns(header)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise ReplayFileError(f"cannot read {path}: {exc}") from None


class ReplayMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.malformed = Counter(
            "streamwatch_replay_malformed_lines_total",
            "Lines of the replay file that could not be read as a tweet and were skipped",
            registry=registry)
        self.records = Counter(
            "streamwatch_replay_records_total",
            "Tweets read from the replay file and emitted", registry=registry)


class ReplaySource:
    """Emits the tweets of one file to ``tweets``, paced by ``created_at``."""

    feeds = ("tweets",)

    def __init__(self, config: ReplayConfig, *, registry: CollectorRegistry,
                 clock: Any = time.monotonic) -> None:
        self.config = config
        self.metrics = ReplayMetrics(registry)
        self.stats = ReplayStats()
        self._clock = clock

    def _malformed(self, line_no: int, reason: str) -> None:
        st = self.stats
        st.malformed += 1
        self.metrics.malformed.inc()
        if len(st.malformed_lines) < LOG_EACH:
            st.malformed_lines.append(line_no)
            log.warning("malformed line skipped", extra={
                "file": str(self.config.path), "line": line_no, "reason": reason})
        else:
            log.debug("malformed line skipped", extra={"line": line_no, "reason": reason})

    def run(self, emit: Emit, stop: threading.Event) -> None:
        cfg, st = self.config, self.stats
        started = self._clock()
        wall_start_ms = time.time() * 1000
        first_ms: float | None = None
        pending: list[bytes] = []

        def flush() -> None:
            if pending:
                emit("tweets", pending.copy())
                self.metrics.records.inc(len(pending))
                st.records += len(pending)
                pending.clear()

        log.info("replay started", extra={"file": str(cfg.path), "speed": cfg.speed,
                                          "format": detect_format(cfg.path)})
        for line_no, item in read_records(cfg.path):
            if stop.is_set():
                break
            st.lines = line_no
            if isinstance(item, MalformedRecord):
                self._malformed(line_no, str(item))
                continue
            event_ms = parse_ts(item["created_at"]).timestamp() * 1000
            if first_ms is None:
                first_ms = event_ms
            offset_s = (event_ms - first_ms) / 1000
            if cfg.speed > 0:
                wait = started + offset_s / cfg.speed - self._clock()
                if wait > 0:
                    flush()
                    if stop.wait(wait):
                        break
            if cfg.rebase_time:
                shift = offset_s / cfg.speed if cfg.speed > 0 else offset_s
                item["created_at"] = format_ts(
                    datetime.fromtimestamp(wall_start_ms / 1000 + shift, UTC))
            pending.append(orjson.dumps(item))
            if len(pending) >= BATCH:
                flush()
        flush()
        log.info("replay finished", extra={
            "file": str(cfg.path), "lines": st.lines, "records": st.records,
            "malformed": st.malformed, "malformed_line_numbers": st.malformed_lines[:50],
            "seconds": round(self._clock() - started, 3), "stopped_early": stop.is_set()})
