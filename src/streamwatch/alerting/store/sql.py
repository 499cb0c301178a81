"""The alerting store: one implementation over the SQLite and PostgreSQL dialects.

Invariants the rest of the service relies on:

* ``ingest`` stores each ``alert_id`` once and, in the same transaction, adds one
  outbox row per matching enabled subscription — so an acknowledged alert always
  has its pending deliveries, whatever is killed afterwards.
* ``claim_due`` leases due outbox rows to one worker (``SKIP LOCKED`` on
  PostgreSQL, the single-writer lock on SQLite); a lease that runs out (a killed
  worker) makes the row due again: at-least-once delivery.
* ``record_attempt`` writes the attempt, the message's next state and the
  subscription's failure streak in one transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson

from streamwatch.alerting.store.dialects import Dialect, Pool, Tx
from streamwatch.alerting.store.models import (
    AttemptResult,
    Claimed,
    Decision,
    IngestResult,
    Page,
    StoredAlert,
    Subscription,
)
from streamwatch.alerting.store.schema import MIGRATIONS
from streamwatch.contracts.events import Alert, format_epoch_ms, parse_ts

Decide = Callable[[Claimed, AttemptResult, int], Decision]

_SUB_COLUMNS = ("id, url, rules, min_severity, description, enabled, disabled_reason, "
                "created_ms, consecutive_failures, previous_secret_until_ms")
# rows read per query of a listing bounded in bytes (stored alerts are at most 256 KiB)
_BYTES_STEP_ROWS = 32


def message_id(subscription_id: str, alert_id: str) -> str:
    """Deterministic, so a subscription sees one webhook-id per alert whoever enqueues it."""
    digest = hashlib.sha256(f"{subscription_id}|{alert_id}".encode()).hexdigest()
    return "msg_" + digest[:32]


def _subscription(row: Sequence[Any]) -> Subscription:
    return Subscription(
        id=row[0], url=row[1],
        rules=tuple(orjson.loads(row[2])) if row[2] is not None else None,
        min_severity=row[3], description=row[4], enabled=bool(row[5]),
        disabled_reason=row[6], created_ms=int(row[7]), consecutive_failures=int(row[8]),
        previous_secret_until_ms=int(row[9]) if row[9] is not None else None,
    )


class SqlStore:
    """Alerts, subscriptions, the outbox and delivery attempts."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._durable = Pool(dialect, durable=True)
        self._fast = Pool(dialect, durable=False)
        self._migrated = threading.Event()

    # -- plumbing ---------------------------------------------------------------

    @contextmanager
    def _tx(self, *, write: bool, durable: bool = True) -> Iterator[Tx]:
        pool = self._durable if durable else self._fast
        with pool.connection() as conn, self.dialect.begin(conn, write=write):
            yield Tx(conn, self.dialect.translate)

    @contextmanager
    def _read(self) -> Iterator[Tx]:
        with self._fast.connection() as conn:
            yield Tx(conn, self.dialect.translate)

    def migrate(self) -> int:
        """Create or upgrade the schema; returns the version now in place."""
        with self._tx(write=True) as tx:
            self.dialect.lock_migrations(tx)
            tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = tx.fetchone("SELECT MAX(version) FROM schema_version")
            current = int(row[0]) if row and row[0] is not None else 0
            for version, statements in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                for stmt in statements:
                    tx.execute(stmt.format(serial=self.dialect.serial))
                tx.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
                current = version
        self._migrated.set()
        return current

    def ping(self) -> bool:
        with self._read() as tx:
            return bool(tx.fetchone("SELECT 1")[0] == 1)

    def close(self) -> None:
        self._durable.close()
        self._fast.close()

    # -- alerts -----------------------------------------------------------------

    def ingest(self, alerts: Sequence[Alert], now_ms: int) -> IngestResult:
        accepted: list[str] = []
        duplicates: list[str] = []
        enqueued = 0
        with self._tx(write=True) as tx:
            self.dialect.lock_ingest(tx)
            subs = [_subscription(r) for r in tx.fetchall(
                f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE enabled = 1")]
            for alert in alerts:
                doc = alert.to_dict()
                row = tx.fetchone(
                    "INSERT INTO alerts (alert_id, rule, severity, card_id, event_time_ms,"
                    " received_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (alert_id) DO NOTHING RETURNING seq",
                    (alert.alert_id, alert.rule, alert.severity, alert.card_id,
                     int(parse_ts(alert.event_time).timestamp() * 1000), now_ms,
                     orjson.dumps(doc).decode()))
                if row is None:
                    duplicates.append(alert.alert_id)
                    continue
                accepted.append(alert.alert_id)
                for sub in subs:
                    if sub.matches(alert):
                        self._enqueue(tx, sub.id, int(row[0]), alert.alert_id, now_ms)
                        enqueued += 1
        return IngestResult(accepted, duplicates, enqueued)

    @staticmethod
    def _enqueue(tx: Tx, subscription_id: str, seq: int, aid: str, now_ms: int) -> None:
        tx.execute(
            "INSERT INTO messages (id, subscription_id, alert_seq, alert_id, state,"
            " next_attempt_ms, created_ms, updated_ms) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)"
            " ON CONFLICT (subscription_id, alert_id) DO NOTHING",
            (message_id(subscription_id, aid), subscription_id, seq, aid, now_ms, now_ms,
             now_ms))

    def query_alerts(self, *, rule: str | None = None, severity: str | None = None,
                     card_id: str | None = None, since_ms: int | None = None,
                     until_ms: int | None = None, after_seq: int = 0,
                     limit: int = 100, max_bytes: int | None = None) -> list[StoredAlert]:
        """Alerts after ``after_seq`` in ingest order: at most ``limit`` rows and, past
        the first row, at most ``max_bytes`` of bodies."""
        where: list[str] = ["seq > ?"]
        filters: list[str | int] = []
        for column, value in (("rule", rule), ("severity", severity), ("card_id", card_id)):
            if value is not None:
                where.append(f"{column} = ?")
                filters.append(value)
        if since_ms is not None:
            where.append("event_time_ms >= ?")
            filters.append(since_ms)
        if until_ms is not None:
            where.append("event_time_ms < ?")
            filters.append(until_ms)
        sql = f"SELECT seq, body FROM alerts WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        # Read in small steps when the page is bounded in bytes, so a run of large
        # alerts is never all in memory at once just to be cut off.
        step = limit if max_bytes is None else min(limit, _BYTES_STEP_ROWS)
        out: list[StoredAlert] = []
        size = 0
        with self._read() as tx:
            while len(out) < limit:
                want = min(step, limit - len(out))
                rows = tx.fetchall(sql, [after_seq, *filters, want])
                for seq, body in rows:
                    size += len(body.encode())
                    if out and max_bytes is not None and size > max_bytes:
                        return out
                    out.append(StoredAlert(int(seq), body))
                if len(rows) < want:
                    break
                after_seq = out[-1].seq
        return out

    def count_alerts(self) -> int:
        with self._read() as tx:
            return int(tx.fetchone("SELECT COUNT(*) FROM alerts")[0])

    # -- subscriptions ----------------------------------------------------------

    def create_subscription(self, *, url: str, rules: Sequence[str] | None,
                            min_severity: str | None, description: str | None,
                            secret: str, now_ms: int) -> Subscription:
        sid = "sub_" + secrets.token_hex(12)
        with self._tx(write=True) as tx:
            tx.execute(
                "INSERT INTO subscriptions (id, url, rules, min_severity, description, secret,"
                " enabled, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
                (sid, url, orjson.dumps(list(rules)).decode() if rules is not None else None,
                 min_severity, description, secret, now_ms, now_ms))
        sub = self.get_subscription(sid)
        assert sub is not None
        return sub

    def list_subscriptions(self) -> list[Subscription]:
        with self._read() as tx:
            rows = tx.fetchall(f"SELECT {_SUB_COLUMNS} FROM subscriptions ORDER BY created_ms, id")
        return [_subscription(r) for r in rows]

    def get_subscription(self, sid: str) -> Subscription | None:
        with self._read() as tx:
            row = tx.fetchone(f"SELECT {_SUB_COLUMNS} FROM subscriptions WHERE id = ?", (sid,))
        return _subscription(row) if row else None

    def delete_subscription(self, sid: str) -> bool:
        with self._tx(write=True) as tx:
            gone: int = tx.execute("DELETE FROM subscriptions WHERE id = ?", (sid,)).rowcount
            tx.execute("DELETE FROM messages WHERE subscription_id = ?", (sid,))
            tx.execute("DELETE FROM attempts WHERE subscription_id = ?", (sid,))
        return gone > 0

    def rotate_secret(self, sid: str, new_secret: str, grace_until_ms: int,
                      now_ms: int) -> Subscription | None:
        with self._tx(write=True) as tx:
            n = tx.execute(
                "UPDATE subscriptions SET previous_secret = secret, previous_secret_until_ms = ?,"
                " secret = ?, updated_ms = ? WHERE id = ?",
                (grace_until_ms, new_secret, now_ms, sid)).rowcount
        return self.get_subscription(sid) if n else None

    def set_enabled(self, sid: str, enabled: bool, reason: str | None,
                    now_ms: int) -> Subscription | None:
        with self._tx(write=True) as tx:
            n = tx.execute(
                "UPDATE subscriptions SET enabled = ?, disabled_reason = ?,"
                " consecutive_failures = 0, updated_ms = ? WHERE id = ?",
                (1 if enabled else 0, None if enabled else reason, now_ms, sid)).rowcount
        return self.get_subscription(sid) if n else None

    def subscription_counts(self) -> dict[str, int]:
        with self._read() as tx:
            rows = tx.fetchall("SELECT enabled, COUNT(*) FROM subscriptions GROUP BY enabled")
        counts = {"enabled": 0, "disabled": 0}
        for enabled, n in rows:
            counts["enabled" if enabled else "disabled"] += int(n)
        return counts

    # -- outbox -----------------------------------------------------------------

    def outbox_depth(self) -> int:
        with self._read() as tx:
            return int(tx.fetchone("SELECT COUNT(*) FROM messages WHERE state = 'pending'")[0])

    def next_due_ms(self) -> int | None:
        """When the earliest pending delivery of an enabled subscription falls due."""
        with self._read() as tx:
            row = tx.fetchone(
                "SELECT MIN(CASE WHEN m.lease_until_ms > m.next_attempt_ms"
                " THEN m.lease_until_ms ELSE m.next_attempt_ms END)"
                " FROM messages m JOIN subscriptions s ON s.id = m.subscription_id"
                " WHERE m.state = 'pending' AND s.enabled = 1")
        return int(row[0]) if row and row[0] is not None else None

    def claim_due(self, owner: str, now_ms: int, limit: int, lease_ms: int) -> list[Claimed]:
        with self._tx(write=True, durable=False) as tx:
            ids = [r[0] for r in tx.fetchall(
                "UPDATE messages SET lease_owner = ?, lease_until_ms = ? WHERE id IN ("
                " SELECT m.id FROM messages m JOIN subscriptions s ON s.id = m.subscription_id"
                " WHERE m.state = 'pending' AND s.enabled = 1 AND m.next_attempt_ms <= ?"
                " AND m.lease_until_ms <= ? ORDER BY m.next_attempt_ms LIMIT ?"
                f" {self.dialect.skip_locked}) RETURNING id",
                (owner, now_ms + lease_ms, now_ms, now_ms, limit))]
            if not ids:
                return []
            marks = ", ".join("?" for _ in ids)
            rows = tx.fetchall(
                "SELECT m.id, m.subscription_id, m.alert_id, m.attempts, m.round_start,"
                " m.created_ms, s.url, s.secret, s.previous_secret, s.previous_secret_until_ms,"
                " a.body FROM messages m JOIN subscriptions s ON s.id = m.subscription_id"
                f" JOIN alerts a ON a.seq = m.alert_seq WHERE m.id IN ({marks})"
                " ORDER BY m.next_attempt_ms", ids)
        out = []
        for r in rows:
            keys: tuple[str, ...] = (r[7],)
            if r[8] and r[9] is not None and int(r[9]) > now_ms:
                keys = (r[7], r[8])
            out.append(Claimed(
                message_id=r[0], subscription_id=r[1], alert_id=r[2], attempts=int(r[3]),
                round_start=int(r[4]), created_ms=int(r[5]), url=r[6], secrets=keys,
                alert_body=r[10], lease_owner=owner))
        return out

    def record_attempt(self, claimed: Claimed, result: AttemptResult, now_ms: int,
                       decide: Decide) -> Decision:
        attempt = claimed.attempts + 1
        with self._tx(write=True, durable=False) as tx:
            if result.ok:
                tx.execute("UPDATE subscriptions SET consecutive_failures = 0"
                           " WHERE id = ? AND consecutive_failures <> 0",
                           (claimed.subscription_id,))
                streak = 0
            else:
                row = tx.fetchone(
                    "UPDATE subscriptions SET consecutive_failures = consecutive_failures + 1"
                    " WHERE id = ? RETURNING consecutive_failures", (claimed.subscription_id,))
                streak = int(row[0]) if row else 0
            decision = decide(claimed, result, streak)
            tx.execute(
                "INSERT INTO attempts (message_id, subscription_id, alert_id, attempt, outcome,"
                " status_code, latency_ms, error, ts_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (claimed.message_id, claimed.subscription_id, claimed.alert_id, attempt,
                 decision.outcome, result.status_code, result.latency_ms, result.error, now_ms))
            # Only the lease holder moves the message on. A worker that lost its lease
            # (it ran out and someone re-claimed the row, or a replay reset the row
            # while the attempt was in flight) only counts its attempt.
            moved = tx.execute(
                "UPDATE messages SET state = ?, attempts = attempts + 1, next_attempt_ms = ?,"
                " lease_owner = NULL, lease_until_ms = 0, last_status = ?, last_error = ?,"
                " updated_ms = ? WHERE id = ? AND lease_owner = ?",
                (decision.state, decision.next_attempt_ms, result.status_code, result.error,
                 now_ms, claimed.message_id, claimed.lease_owner)).rowcount
            if not moved:
                tx.execute("UPDATE messages SET attempts = attempts + 1, updated_ms = ?"
                           " WHERE id = ?", (now_ms, claimed.message_id))
            if decision.disable_reason is not None:
                tx.execute(
                    "UPDATE subscriptions SET enabled = 0, disabled_reason = ?, updated_ms = ?"
                    " WHERE id = ? AND enabled = 1",
                    (decision.disable_reason, now_ms, claimed.subscription_id))
        return decision

    def list_attempts(self, sid: str, *, after_id: int = 0, limit: int = 100,
                      message_id: str | None = None) -> Page:
        where, params = ["subscription_id = ?", "id > ?"], [sid, after_id]
        if message_id is not None:
            where.append("message_id = ?")
            params.append(message_id)
        params.append(limit)
        with self._read() as tx:
            rows = tx.fetchall(
                "SELECT id, message_id, alert_id, attempt, outcome, status_code, latency_ms,"
                f" error, ts_ms FROM attempts WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",
                params)
        items = [{
            "message_id": r[1], "alert_id": r[2], "attempt": int(r[3]), "outcome": r[4],
            "status_code": r[5], "latency_ms": round(float(r[6]), 3), "error": r[7],
            "timestamp": format_epoch_ms(int(r[8])),
        } for r in rows]
        return Page(items, int(rows[-1][0]) if rows else None)

    def list_messages(self, sid: str, *, state: str | None = None, after_seq: int = 0,
                      limit: int = 100) -> Page:
        where, params = ["subscription_id = ?", "alert_seq > ?"], [sid, after_seq]
        if state is not None:
            where.append("state = ?")
            params.append(state)
        params.append(limit)
        with self._read() as tx:
            rows = tx.fetchall(
                "SELECT alert_seq, id, alert_id, state, attempts, next_attempt_ms, last_status,"
                f" last_error, created_ms, updated_ms FROM messages WHERE {' AND '.join(where)}"
                " ORDER BY alert_seq LIMIT ?", params)
        items = [{
            "message_id": r[1], "alert_id": r[2], "state": r[3], "attempts": int(r[4]),
            "next_attempt_at": format_epoch_ms(int(r[5])) if r[3] == "pending" else None,
            "last_status_code": r[6], "last_error": r[7],
            "created_at": format_epoch_ms(int(r[8])), "updated_at": format_epoch_ms(int(r[9])),
        } for r in rows]
        return Page(items, int(rows[-1][0]) if rows else None)

    def replay_message(self, sid: str, mid: str, now_ms: int) -> bool:
        """Make a message due now with a fresh retry round.

        Clearing the lease means a replay of a message whose attempt is still in
        flight sends it again rather than being overwritten by that attempt's result.
        """
        with self._tx(write=True) as tx:
            n = tx.execute(
                "UPDATE messages SET state = 'pending', next_attempt_ms = ?,"
                " round_start = attempts, lease_owner = NULL, lease_until_ms = 0, updated_ms = ?"
                " WHERE id = ? AND subscription_id = ?",
                (now_ms, now_ms, mid, sid)).rowcount
        return bool(n > 0)

    def replay_since(self, sub: Subscription, since_ms: int, now_ms: int) -> int:
        """Re-send every matching alert received since ``since_ms``; returns how many.

        Alerts that never had a message for this subscription (received before it
        existed, or while it was disabled) get one now.
        """
        count = 0
        with self._tx(write=True) as tx:
            rows = tx.fetchall("SELECT seq, body FROM alerts WHERE received_ms >= ? ORDER BY seq",
                               (since_ms,))
            for seq, body in rows:
                alert = Alert.from_dict(orjson.loads(body), check_id=False)
                if not sub.matches(alert):
                    continue
                tx.execute(
                    "INSERT INTO messages (id, subscription_id, alert_seq, alert_id, state,"
                    " next_attempt_ms, created_ms, updated_ms)"
                    " VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)"
                    " ON CONFLICT (subscription_id, alert_id) DO UPDATE SET state = 'pending',"
                    " next_attempt_ms = excluded.next_attempt_ms,"
                    " round_start = messages.attempts, lease_owner = NULL, lease_until_ms = 0,"
                    " updated_ms = excluded.updated_ms",
                    (message_id(sub.id, alert.alert_id), sub.id, int(seq), alert.alert_id,
                     now_ms, now_ms, now_ms))
                count += 1
        return count
