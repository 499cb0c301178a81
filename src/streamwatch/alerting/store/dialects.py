"""Connections, transactions and the few SQL differences of SQLite and PostgreSQL.

SQLite runs in WAL mode so readers never block the single writer; write
transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the lock
instead of failing halfway. ``synchronous`` is FULL on connections that
acknowledge alerts (the commit is on disk before the 200 answer) and NORMAL on
the delivery workers' connections: in WAL mode NORMAL still survives a killed
process, and losing a delivery-state update to a power cut only means one more
(at-least-once) delivery. The next FULL commit syncs the WAL including them.

Connections are pooled and handed to one thread at a time, never shared
concurrently.
"""

from __future__ import annotations

import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol

# Key of the PostgreSQL advisory locks taken while migrating and while ingesting.
_MIGRATE_LOCK = 7_103_001
_INGEST_LOCK = 7_103_002


class Tx:
    """A connection inside a transaction; ``?`` placeholders work on both dialects."""

    def __init__(self, conn: Any, translate: Callable[[str], str]) -> None:
        self.conn = conn
        self._translate = translate

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self.conn.execute(self._translate(sql), params)

    def fetchall(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        return list(self.execute(sql, params).fetchall())

    def fetchone(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self.execute(sql, params).fetchone()


class Dialect(Protocol):
    name: str
    serial: str
    skip_locked: str

    def connect(self, *, durable: bool) -> Any: ...
    def translate(self, sql: str) -> str: ...
    def begin(self, conn: Any, *, write: bool) -> Any: ...
    def lock_ingest(self, tx: Tx) -> None: ...
    def lock_migrations(self, tx: Tx) -> None: ...
    def is_broken(self, conn: Any) -> bool: ...


class Pool:
    """A LIFO pool of connections created on demand; broken ones are dropped."""

    def __init__(self, dialect: Dialect, *, durable: bool, max_idle: int = 16) -> None:
        self._dialect = dialect
        self._durable = durable
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue(maxsize=max_idle)
        self._lock = threading.Lock()
        self._all: list[Any] = []

    @contextmanager
    def connection(self) -> Iterator[Any]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._dialect.connect(durable=self._durable)
            with self._lock:
                self._all.append(conn)
        try:
            yield conn
        except BaseException:
            if self._dialect.is_broken(conn):
                self._discard(conn)
                raise
            self._release(conn)
            raise
        self._release(conn)

    def _release(self, conn: Any) -> None:
        try:
            self._idle.put_nowait(conn)
        except queue.Full:
            self._discard(conn)

    def _discard(self, conn: Any) -> None:
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        # Closing a broken connection may fail; it is gone either way.
        with suppress(Exception):
            conn.close()

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with suppress(Exception):
                conn.close()


class SQLiteDialect:
    name = "sqlite"
    serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    skip_locked = ""

    def __init__(self, path: Path, busy_timeout_ms: int = 30_000) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        path.parent.mkdir(parents=True, exist_ok=True)

    def connect(self, *, durable: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                               timeout=self.busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout = {self.busy_timeout_ms}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def translate(self, sql: str) -> str:
        return sql

    @contextmanager
    def begin(self, conn: sqlite3.Connection, *, write: bool) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN DEFERRED")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def lock_ingest(self, tx: Tx) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already serializes writers."""

    def lock_migrations(self, tx: Tx) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already serializes writers."""

    def is_broken(self, conn: sqlite3.Connection) -> bool:
        return False


class PostgresDialect:
    name = "postgresql"
    serial = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    skip_locked = "FOR UPDATE OF m SKIP LOCKED"

    def __init__(self, url: str, connect_timeout: float = 10.0) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._cache: dict[str, str] = {}

    def connect(self, *, durable: bool) -> Any:
        import psycopg

        conn = psycopg.connect(self.url, autocommit=True,
                               connect_timeout=max(1, int(self.connect_timeout)))
        if not durable:
            # Same reasoning as SQLite's NORMAL: a lost delivery-state commit after a
            # server crash only causes one more delivery.
            conn.execute("SET synchronous_commit = off")
        return conn

    def translate(self, sql: str) -> str:
        out = self._cache.get(sql)
        if out is None:
            out = self._cache[sql] = sql.replace("?", "%s")
        return out

    @contextmanager
    def begin(self, conn: Any, *, write: bool) -> Iterator[None]:
        with conn.transaction():
            yield

    def lock_ingest(self, tx: Tx) -> None:
        # Serializing ingest transactions makes ``seq`` order equal commit order, so
        # a poller tailing GET /v1/alerts by cursor never skips a late-committing row.
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_INGEST_LOCK,))

    def lock_migrations(self, tx: Tx) -> None:
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATE_LOCK,))

    def is_broken(self, conn: Any) -> bool:
        return bool(conn.closed or conn.broken)
