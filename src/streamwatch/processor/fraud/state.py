"""The state of one bucket of cards, and its compact serialisation.

A bucket (``pmod(xxhash64(card_id), buckets)``) holds the profiles of all its
cards in three small tables, so the Python stateful operator pays its per-key
cost once per bucket, not once per card (see PERFORMANCE-NOTES.md):

- ``recent``: the transactions that a windowed rule may still look back at
  (newer than the card's last transaction minus the longest rule window),
  plus each card's last *located* transaction (where the owner was: card
  present, or online from a device the card has used for a while), for
  impossible travel;
- ``cards``: one row per card: first and last event time, the amount baseline (count
  and sum of the log of category-normalised amounts, winsorised), where the
  card was last used from a device (that device, and the last use of the device
  before it: time and place), and per rule the event time of the last alert
  (cooldown);
- ``seen``: hashes of the (card, device) and (card, country) pairs the card
  has used, with the event time of the first use.

Cards, devices and countries are 64-bit hashes (``xxhash64`` in Spark), so
the tables are mostly integers: cheap to look up and to serialise.

The tables travel through the state store as (LZ4-compressed) Arrow IPC
bytes. A micro-batch changes only the rows of the cards it touched (and drops
the cards whose TTL ran out): :class:`StateDelta` is that change, and
``delta.apply(state)`` gives the next state. The processor stores a bucket as
a compacted *base* plus a log of deltas, so a batch writes what it changed,
not the whole bucket (``processor.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from streamwatch.contracts.events import SCENARIOS

#: input columns of a transaction as the detector sees it: ``ts`` = event time (epoch ms);
#: ``card``, ``country_h``, ``device_h`` = 64-bit hashes (0 = no device), so that joins
#: and set look-ups run on integers; ``present`` = card-present channel (pos, atm)
TXN_COLUMNS: dict[str, str] = {
    "txn_id": "object", "card": "int64", "card_id": "object", "ts": "int64",
    "amount": "float64", "merchant_category": "object", "present": "bool", "lat": "float64",
    "lon": "float64", "country": "object", "country_h": "int64", "device_id": "object",
    "device_h": "int64",
}
#: what the bucket keeps of a recent transaction
RECENT_COLUMNS: dict[str, str] = {
    **{c: TXN_COLUMNS[c] for c in
       ("txn_id", "card", "ts", "amount", "present", "lat", "lon", "country")},
    "located": "bool",
}
ALERT_TS = {rule: f"alert_ts_{rule}" for rule in SCENARIOS}
CARD_COLUMNS: dict[str, str] = {
    "card": "int64", "first_ts": "int64", "last_ts": "int64", "n_txns": "int64", "n_norm": "int64",
    "sum_lnorm": "float64",
    # the card's last use from a device (``dev_h``), and the last use before that from
    # another device (``prev_*``): where the owner was, for account_takeover
    "dev_h": "int64", "dev_ts": "int64", "dev_lat": "float64", "dev_lon": "float64",
    "prev_ts": "int64", "prev_lat": "float64", "prev_lon": "float64",
    **dict.fromkeys(ALERT_TS.values(), "int64"),
}
#: the whereabouts columns of ``CARD_COLUMNS`` and their "none" values
WHEREABOUTS: dict[str, float] = {
    "dev_h": 0, "dev_ts": -(1 << 50), "dev_lat": float("nan"), "dev_lon": float("nan"),
    "prev_ts": -(1 << 50), "prev_lat": float("nan"), "prev_lon": float("nan"),
}
#: ``key`` = hash of (card, device) or (card, country) the card has used, since ``first_ts``
SEEN_COLUMNS: dict[str, str] = {"card": "int64", "key": "int64", "first_ts": "int64"}

#: the state variables of a bucket (see processor.py): ``meta`` says which base and how
#: many log entries make the bucket's state, ``token`` names the state they produce
META_SCHEMA = "buckets INT, epoch STRING, seq LONG, token STRING"
LOG_KEY_SCHEMA = "seq LONG"
#: log entry: one micro-batch's change (``prev`` = token of the state it applies to), or
#: at seq 0 the base (``prev`` empty, no touched/expired cards, the tables in full)
LOG_SCHEMA = ("prev STRING, token STRING, touched BINARY, expired BINARY, recent BINARY, "
              "cards BINARY, seen BINARY")

#: "never" for int64 event-time columns (far enough in the past for any subtraction)
NEVER = -(1 << 50)


#: a table as column name -> numpy array, all of one length
Columns = dict[str, np.ndarray]


def _empty_columns(columns: dict[str, str]) -> Columns:
    return {c: np.empty(0, dtype=t) for c, t in columns.items()}


def _frame(cols: Columns, columns: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({c: np.asarray(cols[c], dtype=t) for c, t in columns.items()},
                        copy=False)


@dataclass
class BucketState:
    """The three tables of a bucket, kept as numpy columns (what the detector works on);
    ``recent``, ``cards`` and ``seen`` show them as DataFrames."""

    recent_cols: Columns
    cards_cols: Columns
    seen_cols: Columns

    @classmethod
    def new(cls) -> BucketState:
        return cls(_empty_columns(RECENT_COLUMNS), _empty_columns(CARD_COLUMNS),
                   _empty_columns(SEEN_COLUMNS))

    @property
    def recent(self) -> pd.DataFrame:
        return _frame(self.recent_cols, RECENT_COLUMNS)

    @property
    def cards(self) -> pd.DataFrame:
        return _frame(self.cards_cols, CARD_COLUMNS)

    @property
    def seen(self) -> pd.DataFrame:
        return _frame(self.seen_cols, SEEN_COLUMNS)

    @property
    def n_cards(self) -> int:
        return len(self.cards_cols["card"])

    @property
    def n_recent(self) -> int:
        return len(self.recent_cols["card"])

    def columns(self) -> tuple[Columns, Columns, Columns]:
        return self.recent_cols, self.cards_cols, self.seen_cols

    @classmethod
    def from_columns(cls, recent: Columns, cards: Columns, seen: Columns) -> BucketState:
        return cls(recent, cards, seen)

    def to_tables(self) -> tuple[bytes, bytes, bytes]:
        """The three tables as Arrow IPC bytes: ``recent, cards, seen``."""
        return (_to_ipc(self.recent_cols, RECENT_COLUMNS), _to_ipc(self.cards_cols, CARD_COLUMNS),
                _to_ipc(self.seen_cols, SEEN_COLUMNS))

    @classmethod
    def from_tables(cls, recent: bytes, cards: bytes, seen: bytes) -> BucketState:
        return cls(_from_ipc(recent, RECENT_COLUMNS), _from_ipc(cards, CARD_COLUMNS),
                   _from_ipc(seen, SEEN_COLUMNS))


def member(values: np.ndarray, of: np.ndarray) -> np.ndarray:
    """``np.isin(values, of)`` through a hash table: a bucket's card column against the
    few cards of a batch, several times a batch. numpy sorts both arrays for 64-bit ids
    (their range is too wide for its lookup table), the single largest cost of the
    detector at 5,000 rows a batch (bench/component-figures.md, "fraud: the previous
    commit beside this one")."""
    if len(values) == 0 or len(of) == 0:
        return np.zeros(len(values), dtype=bool)
    return pd.Series(values, copy=False).isin(of).to_numpy()


def rows_of(table: Columns, mask: np.ndarray) -> Columns:
    return {c: v[mask] for c, v in table.items()}


def _concat(a: Columns, b: Columns) -> Columns:
    return {c: np.concatenate([a[c], b[c]]) for c in a}


def _card_bytes(cards: np.ndarray) -> bytes:
    return np.ascontiguousarray(cards, dtype="<i8").tobytes()


def _card_array(data: bytes) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype="<i8").astype(np.int64)


@dataclass
class StateDelta:
    """What one micro-batch changed in a bucket: the ``touched`` cards' rows are
    replaced by ``rows``, then the ``expired`` cards are dropped.

    The writer computes its next state with :meth:`apply` too, so a state
    rebuilt from a base and a log of deltas is the same, row for row, as the
    state that produced them.
    """

    touched: np.ndarray
    rows: BucketState
    expired: np.ndarray

    @classmethod
    def none(cls) -> StateDelta:
        empty = np.empty(0, dtype=np.int64)
        return cls(empty, BucketState.new(), empty)

    @property
    def is_empty(self) -> bool:
        return len(self.touched) == 0 and len(self.expired) == 0

    def apply(self, state: BucketState) -> BucketState:
        tables: tuple[Columns, ...] = state.columns()
        if len(self.touched):
            tables = tuple(_concat(rows_of(t, ~member(t["card"], self.touched)), upd)
                           for t, upd in zip(tables, self.rows.columns(), strict=True))
        if len(self.expired):
            tables = tuple(rows_of(t, ~member(t["card"], self.expired)) for t in tables)
        recent, cards, seen = tables
        return BucketState.from_columns(recent, cards, seen)

    def to_value(self) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        """``touched, expired, recent, cards, seen`` of ``LOG_SCHEMA``."""
        return (_card_bytes(self.touched), _card_bytes(self.expired), *self.rows.to_tables())

    @classmethod
    def from_value(cls, touched: bytes, expired: bytes, recent: bytes, cards: bytes,
                   seen: bytes) -> StateDelta:
        return cls(_card_array(touched), BucketState.from_tables(recent, cards, seen),
                   _card_array(expired))


#: LZ4-compressed IPC buffers halve the state bytes that every micro-batch moves through
#: the state store (the mostly-"never" alert columns compress well) for ~1 ms per MB;
#: the reader decompresses transparently and reads uncompressed values of older versions
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(
    compression="lz4" if pa.Codec.is_available("lz4_frame") else None)


def _to_ipc(cols: Columns, columns: dict[str, str]) -> bytes:
    table = pa.Table.from_arrays([pa.array(cols[c], from_pandas=True) for c in columns],
                                 names=list(columns))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=_IPC_OPTIONS) as writer:
        writer.write_table(table)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def _from_ipc(data: bytes, columns: dict[str, str]) -> Columns:
    """The columns of one table in Arrow IPC stream bytes (as ``_to_ipc`` writes them)."""
    table = pa.ipc.open_stream(pa.py_buffer(bytes(data))).read_all()
    if table.num_rows == 0:
        return _empty_columns(columns)
    return {c: np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=t)
            for c, t in columns.items()}


_MIX = np.uint64(0x9E3779B97F4A7C15)
SALT_DEVICE = np.uint64(0x5DEECE66D)
SALT_COUNTRY = np.uint64(0xB5297A4D3F84D5B5)


def pair_key(card: np.ndarray, value: np.ndarray, salt: np.uint64) -> np.ndarray:
    """A 64-bit key for (card, value); wrapping arithmetic is intended."""
    c = card.astype(np.int64).view(np.uint64)
    v = value.astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        return ((c * _MIX) ^ (v + salt) * (_MIX + np.uint64(2))).view(np.int64)


def hash64(values: pd.Series) -> np.ndarray:
    """Stable 64-bit hashes of strings for pure-pandas callers (tests, benchmarks);
    Spark uses ``xxhash64``. Nulls hash to 0 ("none")."""
    h = pd.util.hash_array(values.fillna("").astype(str).to_numpy()).view(np.int64)
    return np.where(values.isna().to_numpy(), 0, h)


def with_keys(txns: pd.DataFrame) -> pd.DataFrame:
    """Add the detector's derived columns to plain transaction rows (``ts`` already set)."""
    out = txns.copy()
    out["card"] = hash64(out["card_id"])
    out["country_h"] = hash64(out["country"])
    out["device_h"] = hash64(out["device_id"]) if "device_id" in out else 0
    if "device_id" not in out:
        out["device_id"] = None
    out["present"] = out["channel"].isin(["pos", "atm"])
    return out[list(TXN_COLUMNS)].astype(TXN_COLUMNS)
