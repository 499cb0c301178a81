"""A durable, append-only, offset-addressed log of one feed.

Layout under ``<directory>/<name>/``::

    00000000000000000000.log     records at offsets 0 .. (segments named by base offset)
    00000000000000000000.index   sparse index of that segment, written when it is sealed
    00000000000000262144.log     the active segment (always the last one)

A record is framed as ``length (u32 BE) | crc32 (u32 BE) | payload``, so a
torn or corrupt tail is recognised. Offsets are contiguous from 0: a record's
offset is its segment's base plus its position in the segment.

Durability and visibility. One writer appends batches with one ``os.write``
each. Readers see records up to the high-water mark ``latest``:

* ``always`` -- each batch is fsynced before it becomes visible;
* ``interval`` (default) -- a background flusher fsyncs at most every
  ``fsync_interval`` seconds (group commit) and then makes what it synced
  visible, so anything a reader saw survives even a power loss;
* ``never`` -- records are visible once written; they survive a process crash
  (the page cache holds them) but not a power loss.

Crash recovery. ``open`` scans the active segment (sealed ones have an index
written atomically at roll) and truncates a torn last record, logging the
bytes removed; ``torn_truncations`` counts such repairs. Because only written
records are ever visible, every record a reader saw keeps its offset and bytes.

Retention deletes whole sealed segments, oldest first, by total size and by
age; the active segment is never deleted, so ``earliest`` only moves forward.
Readers open segment files per read, so a segment deleted under a reader
turns into :class:`OffsetOutOfRange` rather than a crash.
"""

from __future__ import annotations

import bisect
import logging
import os
import struct
import sys
import threading
import time
import zlib
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

HEADER = struct.Struct(">II")  # payload length, crc32(payload)
INDEX_EVERY = 64  # one sparse-index entry per this many records
MAX_RECORD_BYTES = 16 << 20  # a length above this in a header means garbage
_INDEX_MAGIC = b"SWIX1\n"
_INDEX_HEAD = struct.Struct(">QQQI")  # base, count, byte_end, entries
FSYNC_POLICIES = ("always", "interval", "never")
_RETENTION_CHECK_S = 1.0


class FeedLogError(Exception):
    """The log cannot be opened or used (bad arguments, closed log)."""


class OffsetOutOfRange(FeedLogError):
    """A read started below ``earliest`` (deleted by retention)."""

    def __init__(self, start: int, earliest: int) -> None:
        super().__init__(f"offset {start} is below the earliest retained offset {earliest}")
        self.start = start
        self.earliest = earliest


@dataclass
class _Segment:
    base: int
    path: Path
    count: int = 0  # records written
    end: int = 0  # bytes written
    # positions[i] = byte position of record base + i * INDEX_EVERY
    positions: array[int] = field(default_factory=lambda: array("q"))
    last_write: float = field(default_factory=time.time)  # age of its newest record

    @property
    def next_offset(self) -> int:
        return self.base + self.count

    def index_path(self) -> Path:
        return self.path.with_suffix(".index")


def _seg_name(base: int) -> str:
    return f"{base:020d}.log"


def _scan(data: bytes | memoryview) -> tuple[int, int, array[int], str | None]:
    """Parse framed records: (count, valid_end, positions, reason the scan stopped early)."""
    positions = array("q")
    pos = 0
    count = 0
    size = len(data)
    unpack = HEADER.unpack_from
    crc = zlib.crc32
    while pos < size:
        if size - pos < HEADER.size:
            return count, pos, positions, "incomplete header"
        length, checksum = unpack(data, pos)
        if length > MAX_RECORD_BYTES or pos + HEADER.size + length > size:
            return count, pos, positions, "incomplete record"
        start = pos + HEADER.size
        if crc(data[start:start + length]) != checksum:
            return count, pos, positions, "checksum mismatch"
        if count % INDEX_EVERY == 0:
            positions.append(pos)
        count += 1
        pos = start + length
    return count, pos, positions, None


def frame(payloads: Sequence[bytes]) -> bytes:
    """The on-disk bytes of ``payloads`` (exposed for tests that forge torn tails)."""
    parts: list[bytes] = []
    pack = HEADER.pack
    crc = zlib.crc32
    for p in payloads:
        parts.append(pack(len(p), crc(p)))
        parts.append(p)
    return b"".join(parts)


class FeedLog:
    """One feed's log; one writer thread, any number of reader threads."""

    def __init__(self, path: Path, name: str, *, segment_bytes: int, fsync: str,
                 fsync_interval: float, retention_bytes: int | None,
                 retention_seconds: float | None,
                 on_fsync: Callable[[float], None] | None) -> None:
        self.path = path
        self.name = name
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.fsync_interval = fsync_interval
        self.retention_bytes = retention_bytes
        self.retention_seconds = retention_seconds
        self.torn_truncations = 0
        self.torn_bytes_truncated = 0
        self._on_fsync = on_fsync
        self._lock = threading.Lock()  # guards segments, counters and the high-water mark
        self._sync_lock = threading.Lock()  # serialises fsync with segment rolls
        self._segments: list[_Segment] = []
        self._bases: list[int] = []
        self._fd = -1  # active segment, O_WRONLY|O_APPEND
        self._visible = 0  # high-water mark (exclusive)
        self._visible_pos = 0  # byte end of the high-water mark in the active segment
        self._unsynced: list[Sequence[bytes]] = []
        self._subscribers: list[Callable[[Sequence[bytes]], None]] = []
        self._closed = False
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None

    # ----------------------------------------------------------------- open
    @classmethod
    def open(cls, directory: Path, name: str, *, segment_bytes: int = 64 << 20,
             fsync: str = "interval", fsync_interval: float = 0.1,
             retention_bytes: int | None = None, retention_seconds: float | None = None,
             on_fsync: Callable[[float], None] | None = None) -> FeedLog:
        """Open (creating if needed) the log ``directory/name``, repairing a torn tail."""
        if fsync not in FSYNC_POLICIES:
            raise FeedLogError(f"fsync must be one of {FSYNC_POLICIES}, got {fsync!r}")
        if segment_bytes < 1024:
            raise FeedLogError(f"segment_bytes must be >= 1024, got {segment_bytes}")
        if fsync_interval <= 0:
            raise FeedLogError(f"fsync_interval must be > 0, got {fsync_interval}")
        if not name or "/" in name or name.startswith("."):
            raise FeedLogError(f"invalid feed name {name!r}")
        path = Path(directory) / name
        path.mkdir(parents=True, exist_ok=True)
        self = cls(path, name, segment_bytes=segment_bytes, fsync=fsync,
                   fsync_interval=fsync_interval, retention_bytes=retention_bytes,
                   retention_seconds=retention_seconds, on_fsync=on_fsync)
        self._recover()
        self.apply_retention()
        self._flusher = threading.Thread(target=self._flush_loop, name=f"feedlog-{name}",
                                         daemon=True)
        self._flusher.start()
        return self

    def _recover(self) -> None:
        for tmp in self.path.glob("*.tmp"):
            tmp.unlink()
        bases = sorted(int(p.stem) for p in self.path.glob("*.log") if p.stem.isdigit())
        for p in self.path.glob("*.index"):
            if not p.stem.isdigit() or int(p.stem) not in bases:
                p.unlink()  # index of a segment that retention already removed
        if not bases:
            seg = _Segment(0, self.path / _seg_name(0))
            seg.path.touch()
            self._fsync_dir()
            bases = [0]
        segments: list[_Segment] = []
        for i, base in enumerate(bases):
            seg_path = self.path / _seg_name(base)
            sealed = i < len(bases) - 1
            seg = _Segment(base, seg_path, last_write=seg_path.stat().st_mtime)
            if segments and segments[-1].next_offset != base:
                # A gap can only come from losing data below the page cache (power loss
                # with fsync=never); keep the log contiguous by dropping what follows.
                log.error("feed log segments are not contiguous; dropping later segments",
                          extra={"feed": self.name, "expected": segments[-1].next_offset,
                                 "found": base})
                for later in bases[i:]:
                    (self.path / _seg_name(later)).unlink(missing_ok=True)
                    (self.path / _seg_name(later)).with_suffix(".index").unlink(
                        missing_ok=True)
                break
            if not (sealed and self._load_index(seg)):
                self._scan_segment(seg, sealed=sealed)
                if sealed:
                    self._write_index(seg)
            segments.append(seg)
        self._segments = segments
        self._bases = [s.base for s in segments]
        active = segments[-1]
        self._fd = os.open(active.path, os.O_WRONLY | os.O_APPEND)
        self._visible = active.next_offset
        self._visible_pos = active.end

    def _load_index(self, seg: _Segment) -> bool:
        try:
            raw = seg.index_path().read_bytes()
            size = seg.path.stat().st_size
        except FileNotFoundError:
            return False
        head = len(_INDEX_MAGIC) + _INDEX_HEAD.size
        if len(raw) < head + 4 or not raw.startswith(_INDEX_MAGIC):
            return False
        body, checksum = raw[:-4], int.from_bytes(raw[-4:], "big")
        if zlib.crc32(body) != checksum:
            return False
        base, count, byte_end, entries = _INDEX_HEAD.unpack_from(body, len(_INDEX_MAGIC))
        positions = array("q")
        positions.frombytes(body[head:])
        if (base != seg.base or byte_end != size or len(positions) != entries
                or entries != (count + INDEX_EVERY - 1) // INDEX_EVERY):
            return False
        if sys.byteorder != "big":
            positions.byteswap()
        seg.count, seg.end, seg.positions = count, byte_end, positions
        return True

    def _write_index(self, seg: _Segment) -> None:
        positions = array("q", seg.positions)
        if sys.byteorder != "big":
            positions.byteswap()
        body = (_INDEX_MAGIC + _INDEX_HEAD.pack(seg.base, seg.count, seg.end, len(positions))
                + positions.tobytes())
        tmp = seg.index_path().with_suffix(".index.tmp")
        with open(tmp, "wb") as f:
            f.write(body + zlib.crc32(body).to_bytes(4, "big"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, seg.index_path())

    def _scan_segment(self, seg: _Segment, *, sealed: bool) -> None:
        data = seg.path.read_bytes()
        count, end, positions, reason = _scan(data)
        seg.count, seg.end, seg.positions = count, end, positions
        if reason is None:
            return
        torn = len(data) - end
        self.torn_truncations += 1
        self.torn_bytes_truncated += torn
        log.warning("truncated a torn record at the end of the feed log", extra={
            "feed": self.name, "segment": seg.path.name, "offset": seg.next_offset,
            "bytes_truncated": torn, "reason": reason, "sealed_segment": sealed})
        with open(seg.path, "r+b") as f:
            f.truncate(end)
            os.fsync(f.fileno())

    # ----------------------------------------------------------- properties
    @property
    def earliest(self) -> int:
        with self._lock:
            return self._segments[0].base

    @property
    def latest(self) -> int:
        """Exclusive end of what readers can see (the next offset once visible)."""
        return self._visible

    @property
    def size_bytes(self) -> int:
        with self._lock:
            return sum(s.end for s in self._segments)

    @property
    def segment_count(self) -> int:
        with self._lock:
            return len(self._segments)

    # --------------------------------------------------------------- append
    def append_many(self, payloads: Sequence[bytes]) -> int:
        """Append ``payloads`` with one write; return the offset of the first one."""
        if self._closed:
            raise FeedLogError(f"feed log {self.name!r} is closed")
        for p in payloads:
            if not p or b"\n" in p:
                raise ValueError("payloads must be non-empty and contain no newline")
        active = self._segments[-1]
        if not payloads:
            return active.next_offset
        data = frame(payloads)
        if active.count and active.end + len(data) > self.segment_bytes:
            self._roll()
            active = self._segments[-1]
        first = active.next_offset
        written = 0
        while written < len(data):  # os.write may be partial on a full disk or a signal
            written += os.write(self._fd, data[written:] if written else data)
        new_positions = []
        pos = active.end
        for i, p in enumerate(payloads):
            if (active.count + i) % INDEX_EVERY == 0:
                new_positions.append(pos)
            pos += HEADER.size + len(p)
        with self._lock:
            active.positions.extend(new_positions)
            active.count += len(payloads)
            active.end = pos
            if self.fsync != "never":
                self._unsynced.append(payloads)
        if self.fsync == "always":
            self._sync()
        elif self.fsync == "never":
            self._publish(active.next_offset, active.end, [payloads])
        return first

    def _sync(self) -> None:
        """fsync what is written, then make it visible (group commit)."""
        with self._sync_lock:
            with self._lock:
                active = self._segments[-1]
                target, target_pos = active.next_offset, active.end
                batches, self._unsynced = self._unsynced, []
                fd = self._fd
            if target == self._visible:
                return
            t0 = time.perf_counter()
            os.fdatasync(fd)
            if self._on_fsync is not None:
                self._on_fsync(time.perf_counter() - t0)
            self._publish(target, target_pos, batches)

    def _publish(self, target: int, target_pos: int,
                 batches: list[Sequence[bytes]]) -> None:
        with self._lock:
            if target <= self._visible:
                return
            self._visible = target
            self._visible_pos = target_pos
            subscribers = list(self._subscribers)
        if subscribers and batches:
            for batch in batches:
                for cb in subscribers:
                    self._notify(cb, batch)

    def _notify(self, cb: Callable[[Sequence[bytes]], None], batch: Sequence[bytes]) -> None:
        try:
            cb(batch)
        except Exception:
            log.exception("feed log subscriber failed", extra={"feed": self.name})

    def _roll(self) -> None:
        with self._sync_lock:
            old = self._segments[-1]
            if self.fsync != "never":
                t0 = time.perf_counter()
                os.fdatasync(self._fd)
                if self._on_fsync is not None:
                    self._on_fsync(time.perf_counter() - t0)
            old.last_write = time.time()
            self._write_index(old)
            seg = _Segment(old.next_offset, self.path / _seg_name(old.next_offset))
            fd = os.open(seg.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
            if self.fsync != "never":
                self._fsync_dir()
            old_fd = self._fd
            with self._lock:
                batches, self._unsynced = self._unsynced, []
                self._segments.append(seg)
                self._bases.append(seg.base)
                self._fd = fd
            os.close(old_fd)
            # everything in the sealed segment is durable now
            self._publish(old.next_offset, 0, batches)
            with self._lock:
                self._visible_pos = 0
        log.info("feed log segment rolled", extra={
            "feed": self.name, "sealed": old.path.name, "records": old.count,
            "bytes": old.end, "next_offset": seg.base})
        self.apply_retention()

    def _fsync_dir(self) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ------------------------------------------------------------ retention
    def apply_retention(self, now: float | None = None) -> int:
        """Delete sealed segments beyond the size/age limits; return how many."""
        now = time.time() if now is None else now
        doomed: list[_Segment] = []
        with self._lock:
            total = sum(s.end for s in self._segments)
            while len(self._segments) > 1:
                oldest = self._segments[0]
                too_big = self.retention_bytes is not None and total > self.retention_bytes
                # a sealed segment's age is that of its newest record: its last write
                too_old = (self.retention_seconds is not None
                           and now - oldest.last_write > self.retention_seconds)
                if not (too_big or too_old):
                    break
                doomed.append(self._segments.pop(0))
                self._bases.pop(0)
                total -= oldest.end
        for seg in doomed:
            seg.path.unlink(missing_ok=True)
            seg.index_path().unlink(missing_ok=True)
            log.info("feed log segment deleted by retention", extra={
                "feed": self.name, "segment": seg.path.name, "records": seg.count,
                "bytes": seg.end, "earliest": seg.next_offset})
        return len(doomed)

    def _flush_loop(self) -> None:
        last_retention = 0.0
        while not self._stop.wait(self.fsync_interval):
            try:
                if self.fsync == "interval":
                    self._sync()
                if time.monotonic() - last_retention >= _RETENTION_CHECK_S:
                    last_retention = time.monotonic()
                    self.apply_retention()
            except OSError:
                log.exception("feed log background flush failed", extra={"feed": self.name})

    # ---------------------------------------------------------------- reads
    def subscribe(self, callback: Callable[[Sequence[bytes]], None]) -> Callable[[], None]:
        """Call ``callback(payloads)`` with each batch as it becomes visible.

        Runs on the thread that made the batch visible; keep it quick. Returns
        a function that unsubscribes.
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)
        return unsubscribe

    def read(self, start: int, end: int | None = None,
             max_records: int | None = None) -> list[bytes]:
        """Records ``[start, min(end, latest, start + max_records))``."""
        return self._read(start, end, max_records)[0]

    def read_ndjson(self, start: int, end: int | None = None,
                    max_records: int | None = None) -> tuple[bytes, int]:
        """Like :meth:`read` as newline-terminated lines; also the exclusive end read."""
        records, stop = self._read(start, end, max_records)
        if not records:
            return b"", stop
        records.append(b"")
        return b"\n".join(records), stop

    def _read(self, start: int, end: int | None,
              max_records: int | None) -> tuple[list[bytes], int]:
        if start < 0:
            raise ValueError("start must be >= 0")
        with self._lock:
            stop = self._visible
            if end is not None:
                stop = min(stop, end)
            if max_records is not None:
                stop = min(stop, start + max_records)
            earliest = self._segments[0].base
            if start < earliest:
                raise OffsetOutOfRange(start, earliest)
            if start >= stop:
                return [], start
            first = bisect.bisect_right(self._bases, start) - 1
            last = bisect.bisect_right(self._bases, stop - 1) - 1
            plan = []
            for seg in self._segments[first:last + 1]:
                lo, hi = max(start, seg.base), min(stop, seg.next_offset)
                k = (lo - seg.base) // INDEX_EVERY
                byte_lo = seg.positions[k]
                k_hi = (hi - seg.base + INDEX_EVERY - 1) // INDEX_EVERY
                if k_hi < len(seg.positions):
                    byte_hi = seg.positions[k_hi]
                elif seg is self._segments[-1]:
                    byte_hi = self._visible_pos
                else:
                    byte_hi = seg.end
                plan.append((seg.path, seg.base + k * INDEX_EVERY, lo, hi, byte_lo, byte_hi))
        out: list[bytes] = []
        for seg_path, idx_offset, lo, hi, byte_lo, byte_hi in plan:
            try:
                fd = os.open(seg_path, os.O_RDONLY)
            except FileNotFoundError:
                raise OffsetOutOfRange(start, self.earliest) from None
            try:
                data = os.pread(fd, byte_hi - byte_lo, byte_lo)
            finally:
                os.close(fd)
            _extract(data, lo - idx_offset, hi - lo, out)
        return out, stop

    # ---------------------------------------------------------------- close
    def flush(self) -> None:
        """Make everything written durable and visible now."""
        if self.fsync != "never":
            with self._sync_lock:
                t0 = time.perf_counter()
                os.fdatasync(self._fd)
                if self._on_fsync is not None:
                    self._on_fsync(time.perf_counter() - t0)
        with self._lock:
            active = self._segments[-1]
            target, pos = active.next_offset, active.end
            batches, self._unsynced = self._unsynced, []
        self._publish(target, pos, batches)

    def close(self) -> None:
        """Stop the flusher, fsync and close. Idempotent."""
        if self._closed:
            return
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        self._closed = True
        if self._fd >= 0:
            os.fsync(self._fd)
            with self._lock:
                active = self._segments[-1]
                self._visible, self._visible_pos = active.next_offset, active.end
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> FeedLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _extract(data: bytes, skip: int, count: int, out: list[bytes]) -> None:
    """Append ``count`` payloads to ``out`` after skipping ``skip`` framed records."""
    unpack = HEADER.unpack_from
    hsize = HEADER.size
    pos = 0
    for _ in range(skip):
        pos += hsize + unpack(data, pos)[0]
    for _ in range(count):
        length = unpack(data, pos)[0]
        start = pos + hsize
        out.append(data[start:start + length])
        pos = start + length
