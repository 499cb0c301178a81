"""Transactions as columns of numpy arrays, and their JSON serialisation.

Legit traffic is generated a block at a time as columns; fraud incidents add a
few rows each. ``Columns.concat`` merges both, ``sort_by_time`` puts them in
event-time order, and ``serialise`` turns a block into the compact JSON bytes
of the ``transactions`` and ``labels`` feeds (``streamwatch.contracts.events``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import orjson

from streamwatch.contracts.events import SCENARIOS
from streamwatch.feed.world import id_tag
from streamwatch.producers.txns import geo
from streamwatch.producers.txns.config import CATEGORIES
from streamwatch.producers.txns.population import CHANNEL_NAMES, device_name

NO_DEVICE = np.uint64(0)


@dataclass
class Columns:
    time_ms: np.ndarray  # int64, relative to the anchor
    slot: np.ndarray  # customer index
    card_no: np.ndarray
    amount_cents: np.ndarray
    merchant: np.ndarray
    category: np.ndarray
    channel: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    city: np.ndarray  # gives the country
    device: np.ndarray  # uint64, NO_DEVICE when the transaction carries none
    scenario: np.ndarray  # index into SCENARIOS, -1 for legit
    incident: np.ndarray  # incident number, -1 for legit

    def __len__(self) -> int:
        return len(self.time_ms)

    @classmethod
    def empty(cls) -> Columns:
        return cls.from_rows([])

    @classmethod
    def from_rows(cls, rows: list[tuple[Any, ...]]) -> Columns:
        """Rows in field order (as tuples) -> columns; used for the few fraud rows."""
        dtypes = (np.int64, np.int64, np.int64, np.int64, np.int64, np.int64, np.int64,
                  np.float64, np.float64, np.int64, np.uint64, np.int64, np.int64)
        cols = list(zip(*rows, strict=True)) if rows else [()] * len(dtypes)
        return cls(*(np.array(c, dtype=d) for c, d in zip(cols, dtypes, strict=True)))

    @classmethod
    def concat(cls, parts: list[Columns]) -> Columns:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def take(self, index: np.ndarray) -> Columns:
        return Columns(*(getattr(self, f.name)[index] for f in fields(self)))

    def sort_by_time(self) -> Columns:
        return self.take(np.argsort(self.time_ms, kind="stable"))


def serialise(cols: Columns, anchor_ms: int, first_txn_no: int,
              incident_name: Callable[[int, int], str], epoch: int = 1
              ) -> tuple[list[bytes], list[bytes], list[str]]:
    """JSON bytes of each transaction and its label, plus the txn ids, in row order.

    ``incident_name(incident, txn_no)`` names the incident of a fraud row; ``epoch`` is
    the world's (card and customer ids of epoch 2 on carry it).
    """
    n = len(cols)
    if n == 0:
        return [], [], []
    stamps = np.datetime_as_string(
        (cols.time_ms + anchor_ms).astype("datetime64[ms]"), unit="ms").tolist()
    cents = cols.amount_cents.tolist()
    countries = [geo.CITY_COUNTRY[c] for c in cols.city.tolist()]
    devices = cols.device.tolist()
    scenarios = cols.scenario.tolist()
    incidents = cols.incident.tolist()
    txns: list[bytes] = []
    labels: list[bytes] = []
    ids: list[str] = []
    dumps = orjson.dumps
    card_tag, customer_tag = id_tag("c", epoch), id_tag("u", epoch)
    rows = zip(stamps, cols.card_no.tolist(), cols.slot.tolist(), cents,
               cols.merchant.tolist(), cols.category.tolist(), cols.channel.tolist(),
               np.round(cols.lat, 4).tolist(), np.round(cols.lon, 4).tolist(),
               countries, devices, scenarios, incidents, strict=True)
    for i, (ts, card, slot, c, m, cat, ch, lat, lon, country, dev, sc, inc) in enumerate(rows):
        txn_no = first_txn_no + i
        txn_id = f"t-{txn_no:09d}"
        ids.append(txn_id)
        txns.append(dumps({
            "txn_id": txn_id,
            "event_time": ts + "Z",
            "card_id": f"{card_tag}{card:06d}",
            "customer_id": f"{customer_tag}{slot:06d}",
            "amount": f"{c // 100}.{c % 100:02d}",
            "currency": "USD",
            "merchant_id": f"m-{m:05d}",
            "merchant_category": CATEGORIES[cat],
            "channel": CHANNEL_NAMES[ch],
            "lat": lat,
            "lon": lon,
            "country": country,
            "device_id": device_name(dev) if dev else None,
        }))
        fraud = sc >= 0
        labels.append(dumps({
            "txn_id": txn_id,
            "is_fraud": fraud,
            "scenario": SCENARIOS[sc] if fraud else None,
            "incident_id": incident_name(inc, txn_no) if fraud else None,
        }))
    return txns, labels, ids
