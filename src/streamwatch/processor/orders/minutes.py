"""Orders per event-time minute and status, final once the watermark passes the minute.

Key concepts:
- **One batch in, final minutes out.** :meth:`MinuteStore.commit` takes one
  micro-batch of order events as an Arrow table (parsed and projected in the
  JVM) and returns the rows of every minute that became final in it. A
  minute ``[m, m + 1 min)`` is final once the watermark (the largest event
  time seen so far minus ``delay_ms``, never moving back) reaches ``m + 1
  min``; its rows are written then, once.
- **Late is judged by the watermark before the batch.** An event whose minute
  was already final when its batch began is *late*: it is not counted (its
  minute's rows are out), it is returned for the dead-letter file and counted
  in ``late_total``. A resend of an event whose minute is final is late too.
  Events of open minutes wait in ``pending``.
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
  per batch an Arrow IPC file of its on-time events and a JSON record of the
  watermark and the running totals, written atomically before the caller
  writes any output. A batch Spark replays (a crash before its commit)
  finds the files of the batches before it, rebuilds the state from them and
  emits exactly the rows of its first attempt; sinks are idempotent per batch
  id. Files no later batch can need (every minute final, purchases older than
  the horizon) are deleted.

Usage::

    store = MinuteStore(Path(ck) / "minutes", delay_ms=60_000, horizon_ms=3_600_000)
    out = store.commit(batch_id, arrow_table)   # columns of ``INPUT_COLUMNS``
    out.rows, out.late, out.invalid, store.late_total
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from streamwatch.contracts.events import AFTER_PURCHASE, ORDER_STATUSES
from streamwatch.processor.io.files import write_atomically

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
#: columns of the table ``commit`` takes (``orders/job.py`` selects them in the JVM)
INPUT_COLUMNS = ("event_id", "order_id", "status", "event_time", "region", "ts", "items")
QUANTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0}
#: what the store keeps of an on-time event
_KEPT = pa.schema([("event_id", pa.string()), ("order_id", pa.string()),
                   ("status", pa.string()), ("region", pa.string()), ("ts", pa.int64()),
                   ("units", pa.int64()), ("categories", pa.list_(pa.string())),
                   ("quantities", pa.list_(pa.int64()))])
_STATUS_ORDER = {s: i for i, s in enumerate(ORDER_STATUSES)}


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
    #: of this batch's own file: its latest minute and latest purchase (None: none)
    max_minute: int | None = None
    max_purchase: int | None = None


def _empty() -> pa.Table:
    return _KEPT.empty_table()


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
        self._pending = _empty()
        self._purchases = pa.table({"order_id": pa.array([], pa.string()),
                                    "purchased": pa.array([], pa.int64())})

    @property
    def watermark(self) -> int | None:
        return self._watermark

    # -- durable state ------------------------------------------------------------
    def _arrow(self, batch_id: int) -> Path:
        return self.directory / f"{batch_id}.arrow"

    def _json(self, batch_id: int) -> Path:
        return self.directory / f"{batch_id}.json"

    def _load(self, before: int) -> None:
        """Rebuild the state after the last batch before ``before`` from the files, and
        delete what batches at or after it left (a replay redoes them)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._records = {}
        for path in self.directory.glob("*.json"):
            if not path.stem.isdigit():
                continue
            batch_id = int(path.stem)
            if batch_id >= before:
                path.unlink()
                self._arrow(batch_id).unlink(missing_ok=True)
                continue
            doc = json.loads(path.read_bytes())
            self._records[batch_id] = _Record(**doc)
        for path in self.directory.glob("*.arrow"):
            if path.stem.isdigit() and int(path.stem) not in self._records:
                path.unlink()  # written by a batch that did not get to its record
        last = max(self._records, default=None)
        rec = self._records[last] if last is not None else None
        self._watermark = rec.watermark if rec else None
        self.late_total = rec.late_total if rec else 0
        self.invalid_total = rec.invalid_total if rec else 0
        tables = []
        for batch_id in sorted(self._records):
            path = self._arrow(batch_id)
            if path.exists():
                with ipc.open_file(path) as reader:
                    tables.append(reader.read_all())
        kept = pa.concat_tables(tables) if tables else _empty()
        final = _final_through(self._watermark)
        if final is None:
            self._pending = kept
        else:
            self._pending = kept.filter(pc.greater_equal(kept["ts"], final))
        self._purchases = _empty_purchases()
        self._add_purchases(kept)
        self._loaded_through = before - 1

    def _add_purchases(self, table: pa.Table) -> None:
        # the two columns first: filtering the whole table would copy its items lists
        bought = pa.table({"order_id": table["order_id"], "purchased": table["ts"]}).filter(
            pc.equal(table["status"], "purchased"))
        if bought.num_rows:
            self._purchases = pa.concat_tables([self._purchases, bought])
        if self._watermark is not None and self._purchases.num_rows:
            oldest = self._watermark - self.horizon_ms
            if pc.min(self._purchases["purchased"]).as_py() < oldest:
                self._purchases = self._purchases.filter(
                    pc.greater_equal(self._purchases["purchased"], oldest))

    def _prune(self, before: int) -> None:
        """Delete the files of batches before ``before`` that nothing can need any more:
        every minute of theirs was final and every purchase past the horizon before
        batch ``before`` began (so a replay of that batch finds what it needs)."""
        final = _final_through(self._watermark)
        if final is None:
            return
        oldest = self._watermark - self.horizon_ms  # type: ignore[operator]
        last = max((b for b in self._records if b < before), default=None)
        for batch_id, rec in list(self._records.items()):
            if batch_id >= before or batch_id == last:
                continue  # the latest record holds the totals and the watermark
            if (rec.max_minute is None or rec.max_minute < final) and (
                    rec.max_purchase is None or rec.max_purchase < oldest):
                self._arrow(batch_id).unlink(missing_ok=True)
                self._json(batch_id).unlink(missing_ok=True)
                del self._records[batch_id]

    # -- one batch ----------------------------------------------------------------
    def commit(self, batch_id: int, batch: pa.Table) -> Committed:
        """Apply one micro-batch (columns ``INPUT_COLUMNS``); see the module docstring."""
        if self._loaded_through != batch_id - 1:
            # a new store, or Spark runs a batch again (its first attempt failed before
            # the commit): the state after the batch before it comes from the files
            self._load(batch_id)
        self._prune(batch_id)
        events, invalid = _split_valid(batch)
        final_in = _final_through(self._watermark)
        late = events.slice(0, 0)
        if final_in is not None and events.num_rows:
            late_mask = pc.less(events["ts"], final_in)
            # filtering copies the items lists: only when there is a late event
            if pc.any(late_mask).as_py():
                late = events.filter(late_mask)
                events = events.filter(pc.invert(late_mask))
        if events.num_rows:
            newest = pc.max(events["ts"]).as_py() - self.delay_ms
            self._watermark = newest if self._watermark is None else max(self._watermark,
                                                                           newest)
        kept = _kept(events)
        self._pending = pa.concat_tables([self._pending, kept])
        self._add_purchases(kept)
        final_out = _final_through(self._watermark)
        rows: list[dict[str, Any]] = []
        if final_out is not None and (final_in is None or final_out > final_in):
            done_mask = pc.less(self._pending["ts"], final_out)
            rows = self._rows(_dedup(self._pending.filter(done_mask)))
            self._pending = self._pending.filter(pc.invert(done_mask))
        self.late_total += late.num_rows
        self.invalid_total += invalid.num_rows
        record = _Record(batch_id, self._watermark, self.late_total, self.invalid_total)
        if kept.num_rows:
            record.max_minute = _minute(pc.max(kept["ts"]).as_py())
            record.max_purchase = pc.max(kept["ts"].filter(
                pc.equal(kept["status"], "purchased"))).as_py()
            sink = pa.BufferOutputStream()
            with ipc.new_file(sink, _KEPT) as writer:
                writer.write_table(kept)
            self.directory.mkdir(parents=True, exist_ok=True)
            write_atomically(self._arrow(batch_id), sink.getvalue().to_pybytes())
        # the record last: without it the batch's file is ignored and deleted on a reload
        write_atomically(self._json(batch_id), json.dumps(record.__dict__).encode())
        self._records[batch_id] = record
        self._loaded_through = batch_id
        return Committed(rows, _events(late, "late: its minute was final before this batch"),
                         _events(invalid))

    # -- final rows ---------------------------------------------------------------
    def _rows(self, final: pa.Table) -> list[dict[str, Any]]:
        if not final.num_rows:
            return []
        minutes = pa.array(np.asarray(final["ts"]) // MINUTE_MS * MINUTE_MS)
        keyed = pa.table({"minute": minutes, "status": final["status"],
                          "region": final["region"], "units": final["units"]})
        totals = _grouped(keyed, ["minute", "status"])
        regions = _grouped(keyed, ["minute", "status", "region"])
        categories = _category_groups(final, minutes)
        timed = self._since_purchase(final, minutes)
        out: list[dict[str, Any]] = []
        for m in sorted({k[0] for k in totals}):
            bounds = {"minute_start": iso(m), "minute_end": iso(m + MINUTE_MS)}
            for s in ORDER_STATUSES:
                n, u = totals.get((m, s), (0, 0))
                out.append({**bounds, "status": s, "category": None, "region": None,
                            "orders": n, "units": u, "since_purchase_s": timed.get((m, s))})
            for (_m, s, c), (n, u) in sorted(
                    ((k, v) for k, v in categories.items() if k[0] == m),
                    key=lambda kv: (_STATUS_ORDER[kv[0][1]], kv[0][2])):
                out.append({**bounds, "status": s, "category": c, "region": None,
                            "orders": n, "units": u, "since_purchase_s": None})
            for (_m, s, r), (n, u) in sorted(
                    ((k, v) for k, v in regions.items() if k[0] == m),
                    key=lambda kv: (_STATUS_ORDER[kv[0][1]], kv[0][2])):
                out.append({**bounds, "status": s, "category": None, "region": r,
                            "orders": n, "units": u, "since_purchase_s": None})
        return out

    def _since_purchase(self, final: pa.Table, minutes: pa.Array
                        ) -> dict[tuple[int, str], dict[str, float | int]]:
        """(minute, status) -> exact percentiles of seconds since the order's purchase."""
        later = pc.is_in(final["status"], pa.array(AFTER_PURCHASE))
        rows = pa.table({"order_id": final["order_id"], "status": final["status"],
                         "minute": minutes, "ts": final["ts"]}).filter(later)
        if not rows.num_rows or not self._purchases.num_rows:
            return {}
        # only the purchases of these orders (a hash lookup) go through the aggregation
        wanted = self._purchases.filter(pc.is_in(self._purchases["order_id"],
                                                 value_set=_arr(rows["order_id"])))
        bought = wanted.group_by("order_id", use_threads=False).aggregate(
            [("purchased", "min")]).rename_columns(["order_id", "purchased"])
        joined = rows.join(bought, "order_id", join_type="inner", use_threads=False)
        joined = joined.filter(pc.greater_equal(joined["ts"], joined["purchased"]))
        if not joined.num_rows:
            return {}
        # group boundaries by numpy over (minute, status code): a Python loop over every
        # timed event cost more than the join itself
        codes = np.asarray(pc.fill_null(pc.index_in(joined["status"],
                                                    value_set=pa.array(ORDER_STATUSES)), -1))
        minutes_of = np.asarray(joined["minute"])
        seconds = (np.asarray(joined["ts"]) - np.asarray(joined["purchased"])) / 1000.0
        order = np.lexsort((codes, minutes_of))
        minutes_of, codes, seconds = minutes_of[order], codes[order], seconds[order]
        cuts = np.flatnonzero((np.diff(minutes_of) != 0) | (np.diff(codes) != 0)) + 1
        out = {}
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(order)], strict=True):
            qs = np.percentile(seconds[a:b], list(QUANTILES.values()))
            out[(int(minutes_of[a]), ORDER_STATUSES[int(codes[a])])] = {
                **{name: round(float(q), 3) for name, q in zip(QUANTILES, qs, strict=True)},
                "n": b - a}
        return out


def _grouped(table: pa.Table, keys: list[str]) -> dict[tuple[Any, ...], tuple[int, int]]:
    """keys -> (events, units), by Arrow's hash aggregation."""
    done = table.group_by(keys, use_threads=False).aggregate(
        [("units", "count"), ("units", "sum")])
    columns = [done[k].to_pylist() for k in keys]
    return {tuple(int(v) if k == "minute" else v for k, v in zip(keys, key, strict=True)):
            (n, u) for *key, n, u in zip(*columns, done["units_count"].to_pylist(),
                                         done["units_sum"].to_pylist(), strict=True)}


def _category_groups(final: pa.Table, minutes: pa.Array
                     ) -> dict[tuple[Any, ...], tuple[int, int]]:
    """(minute, status, category) -> (events with an item of it, their units of it)."""
    parents = pc.list_parent_indices(final["categories"])
    items = pa.table({"parent": parents,
                      "category": pc.list_flatten(final["categories"]),
                      "units": pc.list_flatten(final["quantities"])})
    # an event with two items of one category is one event of it
    per_event = items.group_by(["parent", "category"], use_threads=False).aggregate(
        [("units", "sum")])
    index = per_event["parent"]
    keyed = pa.table({"minute": pc.take(minutes, index),
                      "status": pc.take(final["status"], index),
                      "category": per_event["category"], "units": per_event["units_sum"]})
    return _grouped(keyed, ["minute", "status", "category"])


def _empty_purchases() -> pa.Table:
    return pa.table({"order_id": pa.array([], pa.string()),
                     "purchased": pa.array([], pa.int64())})


def _minute(ms: int) -> int:
    return ms - ms % MINUTE_MS


def _split_valid(batch: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(valid events, invalid ones with a ``reason`` column)."""
    n = batch.num_rows
    if n == 0:
        return batch, batch.append_column("reason", pa.array([], pa.string()))
    status_ok = pc.fill_null(pc.is_in(batch["status"], pa.array(ORDER_STATUSES)), False)
    checks = [
        ("event_time: not an RFC 3339 timestamp", pc.is_valid(batch["ts"])),
        (f"status: not one of {list(ORDER_STATUSES)}", status_ok),
        ("order_id: missing", pc.is_valid(batch["order_id"])),
        ("region: missing", pc.is_valid(batch["region"])),
        ("items: missing or empty",
         pc.fill_null(pc.greater(pc.list_value_length(batch["items"]), 0), False)),
    ]
    flat = _arr(pc.list_flatten(batch["items"]))
    if len(flat):
        parents = np.asarray(pc.list_parent_indices(batch["items"]))
        qty = pc.fill_null(pc.greater_equal(pc.struct_field(flat, "quantity"), 1), False)
        cat = pc.is_valid(pc.struct_field(flat, "category"))
        bad_items = np.unique(parents[~np.asarray(pc.and_(qty, cat))])
        ok = np.ones(n, dtype=bool)
        ok[bad_items] = False
        checks.append(("items: every item needs a category and a quantity >= 1",
                       pa.array(ok)))
    valid = np.ones(n, dtype=bool)
    for _reason, ok_mask in checks:
        valid &= np.asarray(ok_mask)
    if valid.all():
        return batch, batch.slice(0, 0).append_column("reason", pa.array([], pa.string()))
    bad_rows = np.flatnonzero(~valid)
    # the first failed check names the reason; only the few bad rows are looked at
    reasons = [next(reason for reason, ok_mask in checks if not np.asarray(ok_mask)[i])
               for i in bad_rows.tolist()]
    invalid = batch.take(pa.array(bad_rows)).append_column(
        "reason", pa.array(reasons, pa.string()))
    return batch.filter(pa.array(valid)), invalid


def _kept(events: pa.Table) -> pa.Table:
    if not events.num_rows:
        return _empty()
    items = _arr(events["items"])
    flat = _arr(pc.list_flatten(items))
    parents = np.asarray(pc.list_parent_indices(items))
    quantities = np.asarray(pc.struct_field(flat, "quantity"), dtype=np.int64)
    units = np.bincount(parents, weights=quantities, minlength=events.num_rows).astype(np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(np.asarray(
        pc.list_value_length(items), dtype=np.int32))]).astype(np.int32))
    return pa.table({
        "event_id": events["event_id"], "order_id": events["order_id"],
        "status": events["status"], "region": events["region"],
        "ts": pc.cast(events["ts"], pa.int64()), "units": pa.array(units),
        "categories": pa.ListArray.from_arrays(offsets, _arr(pc.struct_field(flat,
                                                                             "category"))),
        "quantities": pa.ListArray.from_arrays(offsets, pa.array(quantities)),
    }, schema=_KEPT)


def _dedup(table: pa.Table) -> pa.Table:
    """Each event_id once (the first delivered)."""
    if not table.num_rows:
        return table
    # a dictionary code per id (one hash pass), then the first row of each code
    codes = pc.fill_null(_arr(table["event_id"]).dictionary_encode().indices, -1)
    _, first = np.unique(np.asarray(codes), return_index=True)
    return table.take(pa.array(np.sort(first)))


def _events(table: pa.Table, reason: str | None = None) -> list[dict[str, Any]]:
    """Uncounted events as they came in (the event's fields) with the reason."""
    if not table.num_rows:
        return []
    out = []
    for row in table.to_pylist():
        event = {k: row.get(k) for k in ("event_id", "order_id", "status", "event_time",
                                         "region", "items")}
        out.append({"reason": row.get("reason", reason), "event": event})
    return out


def _arr(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
