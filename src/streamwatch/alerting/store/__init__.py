"""Persistence of the alerting service: SQLite by default, PostgreSQL by URL.

``open_store(config)`` picks the dialect, creates or migrates the schema and
returns a ``SqlStore``; see ``sql.py`` for the guarantees it gives.
"""

from __future__ import annotations

from pathlib import Path

from streamwatch.alerting.store.dialects import PostgresDialect, SQLiteDialect
from streamwatch.alerting.store.sql import SqlStore, message_id

__all__ = ["SqlStore", "message_id", "open_store"]


def open_store(*, database_url: str | None = None, sqlite_path: Path | None = None) -> SqlStore:
    if database_url:
        if not database_url.startswith(("postgresql://", "postgres://")):
            raise ValueError("--database-url must start with postgresql://")
        store = SqlStore(PostgresDialect(database_url))
    elif sqlite_path is not None:
        store = SqlStore(SQLiteDialect(sqlite_path))
    else:
        raise ValueError("either a database URL or a SQLite path is needed")
    store.migrate()
    return store
