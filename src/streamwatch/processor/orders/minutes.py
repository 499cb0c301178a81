"""Orders per event-time minute and status, final once the watermark passes the minute.

Key concepts:
- **One batch in, final minutes out.** :meth:`MinuteStore.commit` takes one
  micro-batch of order events (a DataFrame with ``INPUT_COLUMNS``) and
  returns the rows of every minute that became final in it. A minute
  ``[m, m + 1 min)`` is final once the watermark (the largest event time
  seen so far minus ``delay_ms``, never moving back) reaches ``m + 1 min``;
  its rows are written then, once.
- **The JVM does the per-event work** (``orders/frames.py``): it judges each
  event, writes the batch once to ``<directory>/<batch>.parquet`` and, when
  minutes become final, counts them from those files. The store keeps the
  bookkeeping (watermark, totals, which files hold what) and builds the rows
  from the aggregates; only uncounted events and final counts reach Python.
- **Late is judged by the watermark before the batch.** An event whose minute
  was already final when its batch began is *late*: it is not counted (its
  minute's rows are out), it is returned for the dead-letter file and counted
  in ``late_total``. A resend of an event whose minute is final is late too.
  Events of open minutes wait in their batch's file.
- **Each event_id once.** Resends carry the original's ``event_id`` and event
  time, so they fall into the same minute: a final minute counts its distinct
  event ids, whichever batches delivered them.
- **Rows.** Per final minute, one row per status (all five, zeros included),
  one per status and category, one per status and region::

      {"minute_start", "minute_end", "status", "category": null, "region": null,
       "orders", "units", "since_purchase_s": {"p50", "p90", "p99", "n"} | null}

  ``orders`` counts events (an order's shipped event is one shipped order),
  ``units`` sums their item quantities; a category row counts the events with
  at least one item of the category and sums those items' quantities.
  ``since_purchase_s`` (status rows only, not purchased) holds exact
  percentiles of event time since the order's purchase: time to ship on
  shipped rows, time to deliver on delivered rows. A purchase is looked up
  among the on-time purchases of the last ``horizon_ms`` of event time.
- **Exactly once across restarts.** The store lives under the checkpoint:
  per batch its Parquet directory (written over on a replay) and then a
  JSON record of the watermark, the running totals and what the file holds,
  written atomically before the caller writes any output. A batch Spark
  replays (a crash before its commit) finds the records of the batches
  before it and emits exactly the rows of its first attempt; sinks are
  idempotent per batch id. Files no later batch can need (every minute
  final, purchases older than the horizon) are deleted.

Usage::

    store = MinuteStore(Path(ck) / "minutes", delay_ms=60_000, horizon_ms=3_600_000)
    out = store.commit(batch_id, batch_df)   # columns of ``INPUT_COLUMNS``
    out.rows, out.late, out.invalid, store.late_total
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.compute as pc
import pyarrow.dataset as ds

from streamwatch.contracts.events import ORDER_STATUSES
from streamwatch.processor.io.files import write_atomically
from streamwatch.processor.orders import frames
from streamwatch.processor.orders.frames import LATE, MINUTE_MS, Counts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

log = logging.getLogger(__name__)

#: columns of the DataFrame ``commit`` takes (``orders/job.py`` selects them in the JVM)
INPUT_COLUMNS = ("event_id", "order_id", "status", "event_time", "region", "ts", "items")
_STATUS_ORDER = {s: i for i, s in enumerate(ORDER_STATUSES)}
_EVENT_FIELDS = ("event_id", "order_id", "status", "event_time", "region", "items")


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Committed:
    """What one batch produced: final rows, and the events it did not count."""

    rows: list[dict[str, Any]]
    late: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Record:
    batch_id: int
    watermark: int | None
    late_total: int
    invalid_total: int
    #: of this batch's own file's on-time events: their minutes and latest purchase
    #: (None: none)
    max_minute: int | None = None
    max_purchase: int | None = None
    min_minute: int | None = None


def _final_through(watermark: int | None) -> int | None:
    return None if watermark is None else watermark - watermark % MINUTE_MS


class MinuteStore:
    """See the module docstring. One store per query; not thread-safe (one batch at a time)."""

    def __init__(self, directory: Path, *, delay_ms: int, horizon_ms: int) -> None:
        self.directory = directory
        self.delay_ms = delay_ms
        self.horizon_ms = horizon_ms
        self._loaded_through: int | None = None  # batch id the memory state is after
        self._records: dict[int, _Record] = {}
        self._watermark: int | None = None
        self.late_total = 0
        self.invalid_total = 0

    @property
    def watermark(self) -> int | None:
        return self._watermark

    # -- durable state ------------------------------------------------------------
    def _parquet(self, batch_id: int) -> Path:
        return self.directory / f"{batch_id}.parquet"

    def _json(self, batch_id: int) -> Path:
        return self.directory / f"{batch_id}.json"

    def _drop_files(self, batch_id: int) -> None:
        shutil.rmtree(self._parquet(batch_id), ignore_errors=True)
        self._json(batch_id).unlink(missing_ok=True)

    def _load(self, before: int) -> None:
        """Rebuild the state after the last batch before ``before`` from the records, and
        delete what batches at or after it left (a replay redoes them)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._records = {}
        for path in self.directory.glob("*.json"):
            if not path.stem.isdigit():
                continue
            batch_id = int(path.stem)
            if batch_id >= before:
                self._drop_files(batch_id)
                continue
            doc = json.loads(path.read_bytes())
            self._records[batch_id] = _Record(**doc)
        for batch_id, record in self._records.items():
            _migrate_arrow(self.directory, batch_id, record)
        for path in self.directory.glob("*.parquet"):
            if path.stem.isdigit() and int(path.stem) not in self._records:
                # written by a batch that did not get to its record
                shutil.rmtree(path, ignore_errors=True)
        last = max(self._records, default=None)
        rec = self._records[last] if last is not None else None
        self._watermark = rec.watermark if rec else None
        self.late_total = rec.late_total if rec else 0
        self.invalid_total = rec.invalid_total if rec else 0
        self._loaded_through = before - 1

    def _oldest_purchase(self) -> int | None:
        return None if self._watermark is None else self._watermark - self.horizon_ms

    def _prune(self, before: int) -> None:
        """Delete the files of batches before ``before`` that nothing can need any more:
        every minute of theirs was final and every purchase past the horizon before
        batch ``before`` began (so a replay of that batch finds what it needs)."""
        final = _final_through(self._watermark)
        oldest = self._oldest_purchase()
        if final is None or oldest is None:
            return
        last = max((b for b in self._records if b < before), default=None)
        for batch_id, rec in list(self._records.items()):
            if batch_id >= before or batch_id == last:
                continue  # the latest record holds the totals and the watermark
            if (rec.max_minute is None or rec.max_minute < final) and (
                    rec.max_purchase is None or rec.max_purchase < oldest):
                self._drop_files(batch_id)
                del self._records[batch_id]

    # -- one batch ----------------------------------------------------------------
    def commit(self, batch_id: int, batch: DataFrame) -> Committed:
        """Apply one micro-batch (columns ``INPUT_COLUMNS``); see the module docstring."""
        if self._loaded_through != batch_id - 1:
            # a new store, or Spark runs a batch again (its first attempt failed before
            # the commit): the state after the batch before it comes from the records
            self._load(batch_id)
        # until this batch's record is written, a failure leaves the memory state unsure:
        # the next attempt reloads it from the records
        self._loaded_through = None
        self._prune(batch_id)
        final_in = _final_through(self._watermark)
        path = self._parquet(batch_id)
        figures = frames.write_batch(batch, final_in=final_in, path=str(path.resolve()))
        late, invalid = _uncounted(path) if figures.late + figures.invalid else ([], [])
        if figures.newest is not None:
            newest = figures.newest - self.delay_ms
            self._watermark = newest if self._watermark is None else max(self._watermark,
                                                                           newest)
        record = _Record(batch_id, self._watermark, self.late_total + figures.late,
                         self.invalid_total + figures.invalid, figures.max_minute,
                         figures.max_purchase, figures.min_minute)
        self._records[batch_id] = record
        final_out = _final_through(self._watermark)
        rows: list[dict[str, Any]] = []
        if final_out is not None and (final_in is None or final_out > final_in):
            rows = self._final_rows(batch, final_in, final_out)
        self.late_total, self.invalid_total = record.late_total, record.invalid_total
        # the record last: without it the batch's file is ignored and deleted on a reload
        write_atomically(self._json(batch_id), json.dumps(record.__dict__).encode())
        self._loaded_through = batch_id
        return Committed(rows, late, invalid)

    # -- final rows ---------------------------------------------------------------
    def _final_rows(self, batch: DataFrame, lo: int | None, hi: int) -> list[dict[str, Any]]:
        """Rows of the minutes in ``[lo, hi)`` (every on-time event of them is in a file)."""
        oldest = self._oldest_purchase()
        assert oldest is not None  # a minute became final, so there is a watermark
        kept = [str(self._parquet(b).resolve()) for b, r in sorted(self._records.items())
                if r.max_minute is not None and r.min_minute is not None
                and r.min_minute < hi and (lo is None or r.max_minute >= lo)]
        if not kept:
            return []
        bought = [str(self._parquet(b).resolve()) for b, r in sorted(self._records.items())
                  if r.max_purchase is not None and r.max_purchase >= oldest]
        counts = frames.final_counts(batch.sparkSession, kept, bought, lo=lo, hi=hi,
                                     oldest=oldest)
        return _rows(counts)


def _rows(counts: Counts) -> list[dict[str, Any]]:
    totals: dict[tuple[int, str], tuple[int, int]] = {}
    for (m, s, _r), (n, u) in counts.regions.items():
        had = totals.get((m, s), (0, 0))
        totals[(m, s)] = (had[0] + n, had[1] + u)
    out: list[dict[str, Any]] = []
    for m in sorted({k[0] for k in totals}):
        bounds = {"minute_start": iso(m), "minute_end": iso(m + MINUTE_MS)}
        for s in ORDER_STATUSES:
            n, u = totals.get((m, s), (0, 0))
            out.append({**bounds, "status": s, "category": None, "region": None,
                        "orders": n, "units": u,
                        "since_purchase_s": counts.timed.get((m, s))})
        for (_m, s, c), (n, u) in sorted(
                ((k, v) for k, v in counts.categories.items() if k[0] == m),
                key=lambda kv: (_STATUS_ORDER[kv[0][1]], kv[0][2])):
            out.append({**bounds, "status": s, "category": c, "region": None,
                        "orders": n, "units": u, "since_purchase_s": None})
        for (_m, s, r), (n, u) in sorted(
                ((k, v) for k, v in counts.regions.items() if k[0] == m),
                key=lambda kv: (_STATUS_ORDER[kv[0][1]], kv[0][2])):
            out.append({**bounds, "status": s, "category": None, "region": r,
                        "orders": n, "units": u, "since_purchase_s": None})
    return out


def _uncounted(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(late, invalid) events of a batch file as they came in, with the reason."""
    table = ds.dataset(str(path), format="parquet").to_table(
        columns=[*_EVENT_FIELDS[:-1], "event_items", "reason", "row"],
        filter=pc.field("reason").is_valid())
    table = table.sort_by("row")
    late: list[dict[str, Any]] = []
    invalid: list[dict[str, Any]] = []
    for row in table.to_pylist():
        row["items"] = row.pop("event_items")
        event = {k: row[k] for k in _EVENT_FIELDS}
        (late if row["reason"] == LATE else invalid).append(
            {"reason": row["reason"], "event": event})
    return late, invalid


def _migrate_arrow(directory: Path, batch_id: int, rec: _Record) -> None:
    """Turn the Arrow file of a checkpoint written before the store kept Parquet into
    the batch's Parquet file, so that a restart on it counts its pending events."""
    path = directory / f"{batch_id}.arrow"
    if not path.exists():
        return
    import pyarrow as pa
    import pyarrow.ipc as ipc
    import pyarrow.parquet as pq

    with ipc.open_file(path) as reader:
        old = reader.read_all()
    if old.num_rows:
        ts = old["ts"].combine_chunks()
        minute = pc.multiply(pc.divide(ts, MINUTE_MS), MINUTE_MS)  # event times are > 0
        categories = old["categories"].combine_chunks()
        quantities = old["quantities"].combine_chunks()
        items = pa.ListArray.from_arrays(categories.offsets, pa.StructArray.from_arrays(
            [categories.values, pc.cast(quantities.values, pa.int32())],
            ["category", "quantity"]))
        nulls = pa.nulls(old.num_rows)
        table = pa.table({
            "event_id": old["event_id"], "order_id": old["order_id"],
            "status": old["status"], "region": old["region"], "ts": ts, "minute": minute,
            "units": old["units"], "items": items, "reason": nulls.cast(pa.string()),
            "row": nulls.cast(pa.int64()), "event_time": nulls.cast(pa.string())})
        out = directory / f"{batch_id}.parquet"
        out.mkdir(exist_ok=True)
        pq.write_table(table, out / "part-00000-arrow.parquet")
        rec.min_minute = pc.min(minute).as_py()
        write_atomically(directory / f"{batch_id}.json", json.dumps(rec.__dict__).encode())
    path.unlink()
