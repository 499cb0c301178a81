"""Replay recorded tweets from a file, as published, into the ``tweets`` feed.

Key concepts
- **Shapes read without editing the file.**

  - CSV with a header whose column names are known aliases (``tweet_id``,
    ``tweet_created``, ``name``, ``screen_name``, ``author_id`` ...), e.g. the
    "Twitter US Airline Sentiment" CSV; ``.tsv`` is tab-separated.
  - Headerless Sentiment140 CSV (``polarity, id, date, query, user, text``),
    recognised by its first row.
  - JSON lines: the Streamwatch tweet schema, X API v1.1 statuses
    (``id_str``, nested ``user.screen_name``, ``extended_tweet.full_text``),
    X API v2 tweets (``author_id``) and v2 responses ``{"data": tweet or
    [tweets], "includes": {"users": [...]}}`` whose usernames replace author
    ids; a line holding a JSON array contributes each element.
  - One JSON document over many lines (a saved, pretty-printed API response).

  Anything else is named with ``column_map`` (``--map created_at=COL,...``): a
  CSV header name, a 1-based column number (for files without a header), or a
  dotted key path in JSON (``user.name``).
- **Fields.** ``text`` and ``id`` are required. ``created_at`` comes from the
  time column (RFC 3339, ``Wed Oct 10 20:19:24 +0000 2018``,
  ``Mon May 11 03:17:40 UTC 2009`` with US zone names, ``2015-02-24 11:35:52
  -0800``, epoch seconds or ms, or ``time_format``); when a record has no time
  its id is read as a Twitter snowflake (``(id >> 22) + 1288834974657`` ms),
  and an id too small to be one makes the record malformed. A missing user is
  ``unknown``, a missing ``lang`` is ``und`` (X's "undetermined"). Hashtags
  listed in ``entities.hashtags`` but absent from a truncated text are appended
  to it, so the hashtags job counts what the API says the tweet carries.
- **Bytes.** Lines end in LF, CRLF or a lone CR. With ``encoding="auto"`` a
  line that is not valid UTF-8 is read as Latin-1 (Sentiment140 is Latin-1)
  and counted in the summary; with a named encoding a line it cannot decode
  makes its record malformed. ``.gz`` files are read transparently.
- **Pacing.** A record is emitted ``(created_at - first created_at) / speed``
  after the first; ``speed=0`` emits as fast as possible in batches. Records
  older than their predecessor go out at once.
- **Malformed records** are skipped, counted in
  ``streamwatch_replay_malformed_lines_total`` and logged once each with their
  line number (the first :data:`LOG_EACH` at warning level); they never stop
  the replay. At the end a summary is logged and the source returns; the
  producer keeps serving the feed.

Usage::

    source = ReplaySource(ReplayConfig(Path("tweets.csv"), speed=10), registry=registry)
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter

from streamwatch.contracts.events import EventError, Tweet, format_epoch_ms, format_ts, parse_ts
from streamwatch.feed.sources import Emit

log = logging.getLogger(__name__)

LOG_EACH = 1000  # malformed lines logged one by one; later ones only at debug level
BATCH = 1000  # records per emit when not waiting on the clock
FIELDS = ("id", "created_at", "user", "lang", "text")
UNKNOWN_USER = "unknown"

ALIASES: dict[str, tuple[str, ...]] = {
    # id_str first: tools in JavaScript round the numeric v1.1 id to a double
    "id": ("id_str", "id", "tweet_id", "status_id", "tweetid"),
    "created_at": ("created_at", "tweet_created", "tweet_created_at", "date", "timestamp",
                   "time", "created", "datetime"),
    # screen names before display names: ``name`` is the handle only in some datasets
    "user": ("user", "screen_name", "username", "user_screen_name", "author", "user_name",
             "name", "author_id", "user_id"),
    "lang": ("lang", "language"),
    "text": ("full_text", "text", "tweet", "content", "body"),
}

#: Sentiment140 (training.1600000.processed.noemoticon.csv): no header, these positions
SENTIMENT140 = {"id": 1, "created_at": 2, "user": 4, "text": 5}
SENTIMENT140_WIDTH = 6

TWITTER_EPOCH_MS = 1288834974657
#: sequential ids of before Nov 2010 are far below this; a snowflake id is at least one day
#: past the Twitter epoch
SNOWFLAKE_MIN = 86_400_000 << 22

# Wed Oct 10 20:19:24 +0000 2018 (X API v1.1), Mon May 11 03:17:40 UTC 2009 (Sentiment140,
# whose training file says PDT); matched by hand: strptime costs more than the rest of a record
_TWITTER_TIME = re.compile(r"^(?:[A-Za-z]{3},? )?([A-Za-z]{3}) +(\d{1,2}) (\d{1,2}):(\d{2}):"
                           r"(\d{2}) ([+-]\d{4}|[A-Za-z]{1,5}) (\d{4})$")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
                                       "sep", "oct", "nov", "dec"), 1)}
_ZONES = {"UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
          "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10}
_EOL = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


class ReplayFileError(ValueError):
    """The file as a whole cannot be replayed (missing, unreadable, no usable columns)."""


class MalformedRecord(ValueError):
    """One record cannot become a tweet; the message names the field."""


def parse_column_map(text: str) -> dict[str, str]:
    """``"created_at=posted,text=body"`` -> ``{"created_at": "posted", "text": "body"}``."""
    mapping: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, column = (s.strip() for s in part.partition("="))
        if not sep or not column:
            raise ValueError(f"{part!r} is not FIELD=COLUMN, e.g. text=tweet_body")
        if name not in FIELDS:
            raise ValueError(f"{name!r} is not a tweet field; map one of {', '.join(FIELDS)}")
        if name in mapping:
            raise ValueError(f"{name} is mapped twice")
        if column.isdigit() and int(column) < 1:
            raise ValueError(f"{name}={column}: column numbers start at 1")
        mapping[name] = column
    return mapping


def check_encoding(name: str) -> str:
    """``auto`` or a codec that keeps ASCII bytes as they are (lines are split on bytes)."""
    if name == "auto":
        return name
    try:
        codec = codecs.lookup(name)
    except LookupError:
        raise ValueError(f"{name!r} is not an encoding Python knows; try utf-8, latin-1 "
                         "or cp1252") from None
    if codec.encode("\r\n,\"{}az09")[0] != b"\r\n,\"{}az09":
        raise ValueError(f"{name} does not keep ASCII bytes as they are; convert the file "
                         f"first, e.g. iconv -f {name} -t utf-8 FILE > FILE.utf8")
    return codec.name


@dataclass(frozen=True, slots=True)
class ReplayConfig:
    path: Path
    speed: float = 1.0  # 0 = as fast as possible
    rebase_time: bool = False  # shift created_at so the replay looks live
    column_map: dict[str, str] = field(default_factory=dict)  # field -> column, number or key
    time_format: str | None = None  # strptime format of the time column
    encoding: str = "auto"
    #: tweets of the file the feed already holds (a restart continues after them)
    skip: int = 0
    #: epoch ms that --rebase-time maps the file's first tweet to (None: the start)
    rebase_anchor_ms: float | None = None

    def __post_init__(self) -> None:
        if self.skip < 0:
            raise ValueError("skip must be >= 0")
        if self.speed < 0:
            raise ValueError("speed must be >= 0")
        for name in self.column_map:
            if name not in FIELDS:
                raise ValueError(f"column_map: {name!r} is not a tweet field")
        check_encoding(self.encoding)


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
        head = f.read(4096).lstrip(_BOM + b" \t\r\n")
    return "jsonl" if head[:1] in (b"{", b"[") else "csv"


def _open_binary(path: Path) -> gzip.GzipFile | io.BufferedReader:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


# --- times -----------------------------------------------------------------------------


def snowflake_time(tweet_id: Any) -> str | None:
    """The creation time a Twitter snowflake id carries, or None if it is not one."""
    text = str(tweet_id).strip() if isinstance(tweet_id, int | str) else ""
    if not text.isdigit() or len(text) > 19:
        return None
    number = int(text)
    if not SNOWFLAKE_MIN <= number < 1 << 63:
        return None
    return format_epoch_ms((number >> 22) + TWITTER_EPOCH_MS)


def _twitter_time(text: str) -> datetime | None:
    m = _TWITTER_TIME.match(text)
    if not m:
        return None
    month, day, hour, minute, second, zone, year = m.groups()
    if zone[0] in "+-":
        minutes = int(zone[1:3]) * 60 + int(zone[3:5])
        offset = timedelta(minutes=-minutes if zone[0] == "-" else minutes)
    elif zone.upper() in _ZONES:
        offset = timedelta(hours=_ZONES[zone.upper()])
    else:
        return None
    if month.lower() not in _MONTHS:
        return None
    try:
        return datetime(int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute),
                        int(second), tzinfo=timezone(offset))
    except ValueError:
        return None


def parse_time(value: Any, time_format: str | None = None) -> str:
    """A timestamp in any common tweet-data shape -> ``2026-11-20T10:15:03.120Z``.

    With ``time_format`` (strptime) only that format is accepted for strings; a
    time without a zone is UTC.
    """
    if isinstance(value, bool) or value is None or value == "":
        raise MalformedRecord("created_at: is required")
    if isinstance(value, str) and time_format is not None:
        try:
            dt = datetime.strptime(value.strip(), time_format)
        except ValueError:
            raise MalformedRecord(f"created_at: {value[:40]!r} does not match --time-format "
                                  f"{time_format!r}") from None
        return format_ts(dt if dt.tzinfo else dt.replace(tzinfo=UTC))
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        number = float(value)
        seconds = number / 1000 if number > 1e11 else number  # epoch ms vs epoch s
        try:
            return format_ts(datetime.fromtimestamp(seconds, UTC))
        except (OverflowError, OSError, ValueError):
            raise MalformedRecord(f"created_at: {value!r} is out of range") from None
    if not isinstance(value, str):
        raise MalformedRecord("created_at: must be a string or a number")
    text = value.strip()
    try:
        return format_ts(parse_ts(text))
    except ValueError:
        pass
    parsed = _twitter_time(text)
    if parsed is None:
        try:  # also 2015-02-24 11:35:52 -0800 (the Airline Sentiment CSV)
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise MalformedRecord(f"created_at: {text[:40]!r} is not a recognised timestamp; "
                                  "name its format with --time-format") from None
    return format_ts(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


# --- one record ------------------------------------------------------------------------


def _path(doc: dict[str, Any], key: str) -> Any:
    value: Any = doc
    for part in key.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _first(doc: dict[str, Any], name: str) -> Any:
    for key in ALIASES[name]:
        value = doc.get(key)
        if value not in (None, ""):
            return value
    return None


def _entity_tags(entities: Any) -> list[str]:
    """Tags of ``entities.hashtags``: v1.1 ``{"text": ...}``, v2 ``{"tag": ...}``."""
    tags = entities.get("hashtags") if isinstance(entities, dict) else None
    out = []
    for item in tags if isinstance(tags, list) else ():
        tag = item.get("tag") or item.get("text") if isinstance(item, dict) else None
        if isinstance(tag, str) and tag:
            out.append(tag)
    return out


def _with_entity_tags(text: str, tags: list[str]) -> str:
    """``text`` plus ``#tag`` for each listed tag it does not show (truncated texts)."""
    folded = text.casefold().replace("\uff03", "#")
    missing = [t for t in dict.fromkeys(tags)
               if not re.search(f"#{re.escape(t.casefold())}(?!\\w)", folded)]
    return " ".join([text, *(f"#{t}" for t in missing)]) if missing else text


def build_tweet(values: dict[str, Any], time_format: str | None = None) -> dict[str, Any]:
    """Raw field values (``id``, ``created_at``, ``user``, ``lang``, ``text``) -> a tweet.

    Raises :class:`MalformedRecord` naming the first bad field.
    """
    tweet_id = values.get("id")
    if isinstance(tweet_id, bool):
        tweet_id = None
    tweet_id = str(tweet_id).strip() if isinstance(tweet_id, int | str) else tweet_id
    created = values.get("created_at")
    if created in (None, "") or (isinstance(created, str) and not created.strip()):
        created_at = snowflake_time(tweet_id)
        if created_at is None:
            raise MalformedRecord(
                f"created_at: missing, and the id {str(tweet_id)[:24]!r} is not a snowflake "
                "id that carries a time; name the time column with --map created_at=COLUMN")
    else:
        created_at = parse_time(created, time_format)
    user = values.get("user")
    if isinstance(user, int) and not isinstance(user, bool):
        user = str(user)
    if user is None or (isinstance(user, str) and not user.strip()):
        user = UNKNOWN_USER
    lang = values.get("lang")
    candidate = {"id": tweet_id or None, "created_at": created_at,
                 "user": user.strip() if isinstance(user, str) else user,
                 "lang": lang.strip() if isinstance(lang, str) and lang.strip() else "und",
                 "text": values.get("text")}
    try:
        Tweet.from_dict(candidate)  # validates; the candidate is already in schema order
    except EventError as exc:
        raise MalformedRecord(str(exc)) from None
    return candidate


def _json_values(doc: dict[str, Any], users: dict[str, str],
                 column_map: dict[str, str]) -> dict[str, Any]:
    """Field values of one JSON tweet object (any of the shapes in the module docstring)."""
    values = {name: _path(doc, column_map[name]) if name in column_map else _first(doc, name)
              for name in FIELDS}
    if "text" not in column_map:
        # the complete text of a long tweet: v1.1 extended_tweet, v2 note_tweet
        for holder in ("extended_tweet", "note_tweet"):
            extended = doc.get(holder)
            if not isinstance(extended, dict):
                continue
            full = extended.get("full_text") or extended.get("text")
            if isinstance(full, str) and full:
                values["text"] = full
                doc = {**doc, "entities": extended.get("entities") or doc.get("entities")}
                break
        if isinstance(values["text"], str):
            values["text"] = _with_entity_tags(values["text"], _entity_tags(doc.get("entities")))
    user = values["user"]
    if isinstance(user, dict):  # v1.1 statuses nest the author
        user = user.get("screen_name") or user.get("username") or user.get("id_str")
    if "user" not in column_map and isinstance(doc.get("author_id"), str | int):
        user = users.get(str(doc["author_id"]), user)  # v2: username from includes.users
    values["user"] = user
    return values


def json_tweets(doc: Any, column_map: dict[str, str] | None = None,
                time_format: str | None = None) -> list[dict[str, Any] | MalformedRecord]:
    """One parsed JSON value -> its tweets (a v2 response or an array holds several)."""
    cmap = column_map or {}
    if isinstance(doc, list):
        out: list[dict[str, Any] | MalformedRecord] = []
        for i, item in enumerate(doc):
            if isinstance(item, dict):  # not nested arrays: no recursion on a hostile file
                out.extend(json_tweets(item, cmap, time_format))
            else:
                out.append(MalformedRecord(f"[{i}]: must be a JSON object"))
        return out
    if not isinstance(doc, dict):
        return [MalformedRecord("(root): must be a JSON object")]
    users: dict[str, str] = {}
    data = doc.get("data")
    unpack = isinstance(data, dict | list) and not any(
        c.startswith("data.") for c in cmap.values())
    if unpack:
        includes = doc.get("includes")
        listed = includes.get("users") if isinstance(includes, dict) else None
        for u in listed if isinstance(listed, list) else ():
            if isinstance(u, dict) and u.get("id") is not None and u.get("username"):
                users[str(u["id"])] = u["username"]
        items = data if isinstance(data, list) else [data]
    else:
        items = [doc]
    out = []
    for i, item in enumerate(items):
        where = f"data[{i}]: " if unpack and isinstance(data, list) else ""
        if not isinstance(item, dict):
            out.append(MalformedRecord(f"{where}must be a JSON object"))
            continue
        try:
            out.append(build_tweet(_json_values(item, users, cmap), time_format))
        except MalformedRecord as exc:
            out.append(MalformedRecord(f"{where}{exc}") if where else exc)
    return out


# --- lines and layouts -----------------------------------------------------------------


def _raw_lines(f: gzip.GzipFile | io.BufferedReader) -> Iterator[bytes]:
    """Lines with their terminator, split at LF, CRLF or a lone CR."""
    rest = b""
    while chunk := f.read(1 << 20):
        buf = rest + chunk
        start = 0
        for m in _EOL.finditer(buf):
            if m.end() == len(buf) and m.group() == b"\r":
                break  # the LF of a CRLF may start the next chunk
            yield buf[start:m.end()]
            start = m.end()
        rest = buf[start:]
    if rest:
        yield rest


class LineReader:
    """Decoded lines of a file, numbered from 1, remembering which ones failed to decode."""

    def __init__(self, path: Path, encoding: str = "auto") -> None:
        self.path = path
        self.encoding = encoding
        self.line_no = 0
        self.latin1_lines = 0  # auto: lines that were not UTF-8
        self.undecodable: dict[int, str] = {}  # named encoding: line -> error

    def _decode(self, raw: bytes) -> str:
        if self.line_no == 1 and self.encoding in ("auto", "utf-8", "utf-8-sig"):
            raw = raw.removeprefix(_BOM)
        if self.encoding == "auto":
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                self.latin1_lines += 1
                return raw.decode("latin-1")
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError as exc:
            self.undecodable[self.line_no] = f"not valid {self.encoding}: {exc.reason} at " \
                                             f"byte {exc.start}"
            return raw.decode(self.encoding, errors="replace")

    def __iter__(self) -> Iterator[str]:
        with _open_binary(self.path) as f:
            for raw in _raw_lines(f):
                self.line_no += 1
                yield self._decode(raw)

    def bad_in(self, first: int, last: int) -> str | None:
        """The decode error of a line in ``first..last``, if any."""
        for n in range(first, last + 1):
            if n in self.undecodable:
                return self.undecodable.pop(n)
        return None


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """Where each field sits in a CSV row (0-based), and whether row 1 is a header."""

    name: str  # "header" or "sentiment140" or "numbered"
    index: dict[str, int]
    width: int
    header: list[str] | None

    def describe(self) -> dict[str, Any]:
        cols = {n: (self.header[i] if self.header else i + 1) for n, i in self.index.items()}
        return {"layout": self.name, "columns": cols}


def _numbered(column: str) -> int | None:
    return int(column) - 1 if column.isdigit() else None


def _looks_like_sentiment140(row: list[str]) -> bool:
    if len(row) != SENTIMENT140_WIDTH or row[0].strip() not in ("0", "1", "2", "3", "4"):
        return False
    if not row[1].strip().isdigit():
        return False
    try:
        parse_time(row[2])
    except MalformedRecord:
        return False
    return True


def csv_layout(first_row: list[str], column_map: dict[str, str] | None = None) -> CsvLayout:
    """The layout of a CSV file from its first row; raise with the fix if none fits."""
    cmap = column_map or {}
    lowered: dict[str, int] = {}
    for i, h in enumerate(first_row):
        lowered.setdefault(h.strip().lower().removeprefix("\ufeff"), i)
    by_alias = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                by_alias[name] = lowered[alias]
                break
    named = {n: c for n, c in cmap.items() if _numbered(c) is None}
    has_header = bool(named) or bool(by_alias)
    if not has_header and not cmap and _looks_like_sentiment140(first_row):
        return CsvLayout("sentiment140", dict(SENTIMENT140), SENTIMENT140_WIDTH, None)
    index = dict(by_alias) if has_header else {}
    for name, column in cmap.items():
        number = _numbered(column)
        if number is None:
            if column.strip().lower() not in lowered:
                raise ReplayFileError(f"--map {name}={column}: the CSV header {first_row} "
                                      f"has no column {column!r}")
            index[name] = lowered[column.strip().lower()]
        elif number >= len(first_row):
            raise ReplayFileError(f"--map {name}={column}: rows have only {len(first_row)} "
                                  "columns")
        else:
            index[name] = number
    missing = [n for n in ("id", "text") if n not in index]
    if missing:
        accepted = "; ".join(f"{n}: {', '.join(ALIASES[n])}" for n in missing)
        what = f"the CSV header {first_row}" if has_header else \
            f"the first row {first_row[:8]} is not a header I know (nor Sentiment140) and"
        raise ReplayFileError(
            f"{what} has no column for {', '.join(missing)}. Accepted names: {accepted}. "
            f"Or name them: --map {','.join(f'{n}=COLUMN' for n in missing)} (a header name, "
            "or a column number from 1 for a file without a header)")
    name = "header" if has_header else "numbered"
    return CsvLayout(name, index, len(first_row), first_row if has_header else None)


def _delimiter(path: Path) -> str:
    return "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","


Records = Iterator[tuple[int, dict[str, Any] | MalformedRecord]]


class TweetFile:
    """One replay file: its layout (found once) and its records with line numbers."""

    def __init__(self, path: Path, column_map: dict[str, str] | None = None,
                 time_format: str | None = None, encoding: str = "auto") -> None:
        self.path = path
        self.column_map = dict(column_map or {})
        self.time_format = time_format
        self.encoding = check_encoding(encoding)
        self.format = detect_format(path)
        self.lines: LineReader | None = None

    @property
    def latin1_lines(self) -> int:
        return self.lines.latin1_lines if self.lines else 0

    def check(self) -> dict[str, Any]:
        """What the file is read as; raise :class:`ReplayFileError` if it cannot be."""
        if not self.path.is_file():
            raise ReplayFileError(f"{self.path} does not exist or is not a file")
        try:
            if self.format == "csv":
                rows = csv.reader(LineReader(self.path, self.encoding),
                                  delimiter=_delimiter(self.path))
                first = next((r for r in rows if any(c.strip() for c in r)), None)
                if first is None:
                    raise ReplayFileError(f"{self.path} has no rows")
                return {"format": "csv", **csv_layout(first, self.column_map).describe()}
            with _open_binary(self.path) as f:
                f.read(1)
        except (OSError, EOFError, gzip.BadGzipFile, csv.Error) as exc:
            raise ReplayFileError(f"cannot read {self.path}: {exc}") from None
        return {"format": "json", "columns": self.column_map or "detected per record"}

    def records(self) -> Records:
        """``(line number, tweet dict or why it is malformed)`` for each record."""
        self.lines = LineReader(self.path, self.encoding)
        return self._csv() if self.format == "csv" else self._json()

    def _csv(self) -> Records:
        assert self.lines is not None
        lines = self.lines
        reader = csv.reader(lines, delimiter=_delimiter(self.path))
        layout: CsvLayout | None = None
        start = 1
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
            if layout is None:
                layout = csv_layout(row, self.column_map)
                if layout.header is not None:
                    continue
            bad = lines.bad_in(line_no, reader.line_num)
            if bad is not None:
                yield line_no, MalformedRecord(f"(line): {bad}")
                continue
            if len(row) != layout.width:
                yield line_no, MalformedRecord(
                    f"(line): has {len(row)} fields, the "
                    f"{'header' if layout.header else 'first row'} has {layout.width}")
                continue
            values = {name: row[i] for name, i in layout.index.items()}
            try:
                yield line_no, build_tweet(values, self.time_format)
            except MalformedRecord as exc:
                yield line_no, exc

    def _json_line(self, line_no: int, text: str) -> list[dict[str, Any] | MalformedRecord]:
        assert self.lines is not None
        bad = self.lines.bad_in(line_no, line_no)
        if bad is not None:
            return [MalformedRecord(f"(line): {bad}")]
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            return [MalformedRecord(f"(line): not valid JSON: {exc}")]
        return json_tweets(doc, self.column_map, self.time_format)

    def _json(self) -> Records:
        assert self.lines is not None
        numbered = enumerate(self.lines, 1)
        first = True
        for line_no, line in numbered:
            text = line.strip()
            if not text:
                continue
            items = self._json_line(line_no, text)
            if first and text.endswith(("{", "[", ",", ":")) and len(items) == 1 \
                    and str(items[0]).startswith("(line): not valid JSON"):
                # the first line of one JSON document over many lines (a saved,
                # pretty-printed API response), not a broken JSON line
                yield from self._document(line_no, line, numbered)
                return
            first = False
            for item in items:
                yield line_no, item

    def _document(self, first: int, head: str, rest: Iterable[tuple[int, str]]) -> Records:
        assert self.lines is not None
        body = [(first, head), *rest]
        try:
            doc = orjson.loads("".join(line for _, line in body))
        except orjson.JSONDecodeError:
            # not one document: JSON lines whose first line is broken
            for line_no, line in body:
                if line.strip():
                    for item in self._json_line(line_no, line.strip()):
                        yield line_no, item
            return
        bad = self.lines.bad_in(first, body[-1][0])
        if bad is not None:
            yield first, MalformedRecord(f"(document from this line): {bad}")
            return
        for item in json_tweets(doc, self.column_map, self.time_format):
            yield first, item


def read_records(path: Path, column_map: dict[str, str] | None = None,
                 time_format: str | None = None, encoding: str = "auto") -> Records:
    """``(line number, tweet dict or the reason it is malformed)`` for each record."""
    return TweetFile(path, column_map, time_format, encoding).records()


def check_file(path: Path, column_map: dict[str, str] | None = None,
               time_format: str | None = None, encoding: str = "auto") -> dict[str, Any]:
    """What ``path`` is read as; raise :class:`ReplayFileError` with a fix if it cannot be."""
    if not path.is_file():
        raise ReplayFileError(f"{path} does not exist or is not a file")
    return TweetFile(path, column_map, time_format, encoding).check()


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
                 clock: Callable[[], float] = time.monotonic) -> None:
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
        wall_start_ms = (cfg.rebase_anchor_ms if cfg.rebase_anchor_ms is not None
                         else time.time() * 1000)
        first_ms: float | None = None
        to_skip = cfg.skip
        pending: list[bytes] = []

        def flush() -> None:
            if pending:
                emit("tweets", pending.copy())
                self.metrics.records.inc(len(pending))
                st.records += len(pending)
                pending.clear()

        source = TweetFile(cfg.path, cfg.column_map, cfg.time_format, cfg.encoding)
        try:
            shape = source.check()
        except ReplayFileError as exc:
            log.error("replay file cannot be read", extra={"file": str(cfg.path),
                                                           "reason": str(exc)})
            return
        log.info("replay started", extra={"file": str(cfg.path), "speed": cfg.speed,
                                          "encoding": cfg.encoding, **shape})
        for line_no, item in source.records():
            if stop.is_set():
                break
            st.lines = line_no
            if isinstance(item, MalformedRecord):
                if to_skip == 0:  # the start that emitted the lines before logged them
                    self._malformed(line_no, str(item))
                continue
            # build_tweet wrote it as 2026-11-20T10:15:03.120Z
            event_ms = datetime.fromisoformat(
                item["created_at"][:-1] + "+00:00").timestamp() * 1000
            if first_ms is None:
                first_ms = event_ms
            offset_s = (event_ms - first_ms) / 1000
            if to_skip:
                to_skip -= 1
                if to_skip == 0 and cfg.speed > 0:
                    # pace the rest from here, as the start that stopped would have
                    started = self._clock() - offset_s / cfg.speed
                continue
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
            "skipped_as_already_in_the_feed": cfg.skip - to_skip,
            "malformed": st.malformed, "malformed_line_numbers": st.malformed_lines[:50],
            "latin1_lines": source.latin1_lines,
            "seconds": round(self._clock() - started, 3), "stopped_early": stop.is_set()})
