"""Event types exchanged between services, defined once.

Each type is a frozen dataclass with ``from_dict`` (validating, naming every
bad field), ``to_dict`` and the Spark DDL of the same shape in ``DDL``;
``tests/unit/contracts/test_events.py`` checks that the two agree.

Times are RFC 3339 UTC strings with millisecond precision and a ``Z`` suffix.
``amount`` is a decimal string so that no binary rounding happens on the wire.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

SEVERITIES = ("low", "medium", "high")
SCENARIOS = ("card_testing", "velocity", "impossible_travel", "amount_spike", "account_takeover")
CHANNELS = ("pos", "online", "atm")

#: detection times before this come from a broken clock (Spark's -1 processing time)
DETECTED_AT_MIN = datetime(2000, 1, 1, tzinfo=UTC)
#: how far the detector's clock may trail the clock that stamped the event
DETECTION_CLOCK_SKEW = timedelta(minutes=5)

_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


class EventError(ValueError):
    """Invalid event; ``errors`` lists ``{"field": ..., "error": ...}``."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['error']}" for e in errors))
        self.errors = errors


def format_ts(dt: datetime) -> str:
    """``datetime`` -> ``2026-11-20T10:15:03.120Z``."""
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def format_epoch_ms(ms: int) -> str:
    secs, milli = divmod(int(ms), 1000)
    return datetime.fromtimestamp(secs, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{milli:03d}Z"


def parse_ts(text: str) -> datetime:
    """Parse an RFC 3339 timestamp (``Z`` or offset) into an aware UTC datetime."""
    if not isinstance(text, str) or not _TS.match(text):
        raise ValueError(f"{text!r} is not an RFC 3339 timestamp like 2026-11-20T10:15:03.120Z")
    t = text[:-1] + "+00:00" if text.endswith("Z") else text
    m = re.match(r"^(.*?\.)(\d+)(.*)$", t)
    if m and len(m.group(2)) > 6:  # Python parses at most microseconds
        t = m.group(1) + m.group(2)[:6] + m.group(3)
    return datetime.fromisoformat(t).astimezone(UTC)


class _Checker:
    def __init__(self, doc: Any) -> None:
        self.doc = doc if isinstance(doc, dict) else {}
        self.errors: list[dict[str, str]] = []
        if not isinstance(doc, dict):
            self.errors.append({"field": "(root)", "error": "must be a JSON object"})

    def fail(self, name: str, error: str) -> None:
        self.errors.append({"field": name, "error": error})

    def str_(self, name: str, *, optional: bool = False, pattern: str | None = None,
             choices: tuple[str, ...] | None = None, max_len: int = 10_000) -> Any:
        v = self.doc.get(name)
        if v is None:
            if not optional:
                self.fail(name, "is required")
            return None
        if not isinstance(v, str) or not v:
            self.fail(name, "must be a non-empty string")
        elif len(v) > max_len:
            self.fail(name, f"must be at most {max_len} characters")
        elif pattern and not re.fullmatch(pattern, v):
            self.fail(name, f"must match {pattern}")
        elif choices and v not in choices:
            self.fail(name, f"must be one of {list(choices)}")
        return v

    def ts(self, name: str, *, optional: bool = False) -> Any:
        v = self.str_(name, optional=optional)
        if isinstance(v, str):
            try:
                parse_ts(v)
            except ValueError as exc:
                self.fail(name, str(exc))
        return v

    def detection_after(self, event_time: datetime, detected_at: datetime) -> None:
        """``detected_at`` is a wall-clock reading after the event: a detection time before
        2000 (a clock that reads -1 or 0) or earlier than the event allows for is wrong."""
        if detected_at < DETECTED_AT_MIN:
            self.fail("detected_at", f"must be after {format_ts(DETECTED_AT_MIN)}: a "
                      "detection time is the wall clock when the alert was raised")
        elif detected_at < event_time - DETECTION_CLOCK_SKEW:
            self.fail("detected_at", "must not be before event_time by more than "
                      f"{DETECTION_CLOCK_SKEW.total_seconds():g} s (clock skew allowed)")

    def num(self, name: str, lo: float, hi: float) -> Any:
        v = self.doc.get(name)
        if v is None:
            self.fail(name, "is required")
        elif isinstance(v, bool) or not isinstance(v, int | float):
            self.fail(name, "must be a number")
        elif not lo <= v <= hi:
            self.fail(name, f"must be within {lo}..{hi}")
        return v

    def bool_(self, name: str) -> Any:
        v = self.doc.get(name)
        if not isinstance(v, bool):
            self.fail(name, "must be true or false")
        return v

    def done(self) -> None:
        if self.errors:
            raise EventError(self.errors)


@dataclass(frozen=True, slots=True)
class Tweet:
    id: str
    created_at: str
    user: str
    lang: str
    text: str

    DDL: ClassVar[str] = "id STRING, created_at STRING, user STRING, lang STRING, text STRING"

    @classmethod
    def from_dict(cls, doc: Any) -> Tweet:
        c = _Checker(doc)
        c.str_("id", max_len=64)
        c.ts("created_at")
        c.str_("user", max_len=256)
        c.str_("lang", max_len=16)
        text = c.doc.get("text")
        if not isinstance(text, str):
            c.fail("text", "must be a string")
        c.done()
        return cls(**{f.name: doc[f.name] for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Transaction:
    txn_id: str
    event_time: str
    card_id: str
    customer_id: str
    amount: str
    currency: str
    merchant_id: str
    merchant_category: str
    channel: str
    lat: float
    lon: float
    country: str
    device_id: str | None = None

    DDL: ClassVar[str] = (
        "txn_id STRING, event_time STRING, card_id STRING, customer_id STRING, "
        "amount STRING, currency STRING, merchant_id STRING, merchant_category STRING, "
        "channel STRING, lat DOUBLE, lon DOUBLE, country STRING, device_id STRING"
    )

    @classmethod
    def from_dict(cls, doc: Any) -> Transaction:
        c = _Checker(doc)
        for name in ("txn_id", "card_id", "customer_id", "merchant_id", "merchant_category"):
            c.str_(name, max_len=128)
        c.ts("event_time")
        amount = c.str_("amount", pattern=r"-?\d+(\.\d+)?", max_len=32)
        if isinstance(amount, str):
            try:
                if Decimal(amount) < 0:
                    c.fail("amount", "must be >= 0")
            except InvalidOperation:
                c.fail("amount", "must be a decimal string such as 42.10")
        c.str_("currency", pattern=r"[A-Z]{3}")
        c.str_("channel", choices=CHANNELS)
        c.num("lat", -90, 90)
        c.num("lon", -180, 180)
        c.str_("country", pattern=r"[A-Z]{2}")
        c.str_("device_id", optional=True, max_len=128)
        c.done()
        return cls(**{f.name: doc.get(f.name) for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Label:
    txn_id: str
    is_fraud: bool
    scenario: str | None = None
    incident_id: str | None = None

    DDL: ClassVar[str] = "txn_id STRING, is_fraud BOOLEAN, scenario STRING, incident_id STRING"

    @classmethod
    def from_dict(cls, doc: Any) -> Label:
        c = _Checker(doc)
        c.str_("txn_id", max_len=128)
        is_fraud = c.bool_("is_fraud")
        c.str_("scenario", optional=not is_fraud, choices=SCENARIOS)
        c.str_("incident_id", optional=True, max_len=128)
        c.done()
        return cls(**{f.name: doc.get(f.name) for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def alert_id(rule: str, card_id: str, first_txn_id: str) -> str:
    """The deterministic alert id: sha256 hex of ``rule|card_id|first txn_id``."""
    return hashlib.sha256(f"{rule}|{card_id}|{first_txn_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    rule: str
    severity: str
    score: float
    card_id: str
    txn_ids: tuple[str, ...]
    event_time: str
    detected_at: str
    reason: str
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    DDL: ClassVar[str] = (
        "alert_id STRING, rule STRING, severity STRING, score DOUBLE, card_id STRING, "
        "txn_ids ARRAY<STRING>, event_time STRING, detected_at STRING, reason STRING"
    )

    @classmethod
    def from_dict(cls, doc: Any, *, check_id: bool = True) -> Alert:
        c = _Checker(doc)
        aid = c.str_("alert_id", pattern=r"[0-9a-f]{64}")
        rule = c.str_("rule", pattern=r"[a-z][a-z0-9_]{0,63}")
        c.str_("severity", choices=SEVERITIES)
        c.num("score", 0.0, 1.0)
        card = c.str_("card_id", max_len=128)
        txn_ids = c.doc.get("txn_ids")
        if (not isinstance(txn_ids, list) or not txn_ids
                or not all(isinstance(t, str) and t for t in txn_ids)):
            c.fail("txn_ids", "must be a non-empty list of strings")
            txn_ids = None
        elif len(txn_ids) > 10_000:
            c.fail("txn_ids", "must hold at most 10000 ids")
        event_time = c.ts("event_time")
        detected_at = c.ts("detected_at")
        if not c.errors:
            c.detection_after(parse_ts(event_time), parse_ts(detected_at))
        c.str_("reason", max_len=2000)
        if (check_id and not c.errors and txn_ids
                and aid != alert_id(rule, card, txn_ids[0])):
            c.fail("alert_id", "must be sha256 hex of rule|card_id|first txn_id")
        c.done()
        known = {f.name for f in fields(cls)}
        return cls(
            alert_id=doc["alert_id"], rule=doc["rule"], severity=doc["severity"],
            score=float(doc["score"]), card_id=doc["card_id"], txn_ids=tuple(doc["txn_ids"]),
            event_time=doc["event_time"], detected_at=doc["detected_at"], reason=doc["reason"],
            extra={k: v for k, v in doc.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id, "rule": self.rule, "severity": self.severity,
            "score": self.score, "card_id": self.card_id, "txn_ids": list(self.txn_ids),
            "event_time": self.event_time, "detected_at": self.detected_at,
            "reason": self.reason, **self.extra,
        }


ORDER_STATUSES = ("purchased", "shipped", "delivered", "cancelled", "returned")
#: statuses an order's purchase precedes; their rows carry the time since purchase
AFTER_PURCHASE = ORDER_STATUSES[1:]
MAX_ORDER_ITEMS = 100


@dataclass(frozen=True, slots=True)
class OrderItem:
    sku: str
    category: str
    quantity: int
    unit_price: str


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """One step of an order's life: purchased, then shipped and delivered (or cancelled,
    or returned after delivery). Every event of an order lists the order's items."""

    event_id: str
    order_id: str
    status: str
    event_time: str
    region: str
    items: tuple[OrderItem, ...]

    DDL: ClassVar[str] = (
        "event_id STRING, order_id STRING, status STRING, event_time STRING, region STRING, "
        "items ARRAY<STRUCT<sku: STRING, category: STRING, quantity: INT, unit_price: STRING>>"
    )

    @classmethod
    def from_dict(cls, doc: Any) -> OrderEvent:
        c = _Checker(doc)
        for name in ("event_id", "order_id", "region"):
            c.str_(name, max_len=128)
        c.str_("status", choices=ORDER_STATUSES)
        c.ts("event_time")
        items = c.doc.get("items")
        parsed: list[OrderItem] = []
        if not isinstance(items, list) or not items:
            c.fail("items", "must be a non-empty list of items")
        elif len(items) > MAX_ORDER_ITEMS:
            c.fail("items", f"must hold at most {MAX_ORDER_ITEMS} items")
        else:
            for i, item in enumerate(items):
                parsed.extend(_order_item(c, item, f"items[{i}]"))
        c.done()
        return cls(event_id=doc["event_id"], order_id=doc["order_id"], status=doc["status"],
                   event_time=doc["event_time"], region=doc["region"], items=tuple(parsed))

    def to_dict(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "order_id": self.order_id, "status": self.status,
                "event_time": self.event_time, "region": self.region,
                "items": [asdict(i) for i in self.items]}


def _order_item(c: _Checker, item: Any, path: str) -> list[OrderItem]:
    if not isinstance(item, dict):
        c.fail(path, "must be an object {sku, category, quantity, unit_price}")
        return []
    before = len(c.errors)
    for name in ("sku", "category"):
        v = item.get(name)
        if not isinstance(v, str) or not v or len(v) > 128:
            c.fail(f"{path}.{name}", "must be a non-empty string of at most 128 characters")
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        c.fail(f"{path}.quantity", "must be an integer >= 1")
    price = item.get("unit_price")
    if not isinstance(price, str) or not re.fullmatch(r"\d{1,12}(\.\d{1,4})?", price):
        c.fail(f"{path}.unit_price", "must be a decimal string >= 0 such as 12.99")
    # the isinstance checks repeat the ones above for the type checker
    if len(c.errors) > before or not isinstance(quantity, int) or not isinstance(price, str):
        return []
    return [OrderItem(item["sku"], item["category"], quantity, price)]
