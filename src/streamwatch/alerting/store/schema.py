"""The database schema, one version per list entry; applied in order at start.

Both dialects run the same statements; ``{serial}`` becomes each dialect's
auto-increment primary key. Sequence numbers (``alerts.seq``, ``attempts.id``)
only grow, which is what makes them usable as pagination cursors.
"""

from __future__ import annotations

MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE IF NOT EXISTS alerts (
            seq {serial},
            alert_id TEXT NOT NULL UNIQUE,
            rule TEXT NOT NULL,
            severity TEXT NOT NULL,
            card_id TEXT NOT NULL,
            event_time_ms BIGINT NOT NULL,
            received_ms BIGINT NOT NULL,
            body TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule, seq)",
        "CREATE INDEX IF NOT EXISTS alerts_card ON alerts (card_id, seq)",
        "CREATE INDEX IF NOT EXISTS alerts_event_time ON alerts (event_time_ms)",
        "CREATE INDEX IF NOT EXISTS alerts_received ON alerts (received_ms)",
        """CREATE TABLE IF NOT EXISTS subscriptions (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            rules TEXT,
            min_severity TEXT,
            description TEXT,
            secret TEXT NOT NULL,
            previous_secret TEXT,
            previous_secret_until_ms BIGINT,
            enabled INTEGER NOT NULL,
            disabled_reason TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            created_ms BIGINT NOT NULL,
            updated_ms BIGINT NOT NULL)""",
        """CREATE TABLE IF NOT EXISTS messages (
            id TEXT PRIMARY KEY,
            subscription_id TEXT NOT NULL,
            alert_seq BIGINT NOT NULL,
            alert_id TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            round_start INTEGER NOT NULL DEFAULT 0,
            next_attempt_ms BIGINT NOT NULL,
            lease_owner TEXT,
            lease_until_ms BIGINT NOT NULL DEFAULT 0,
            last_status INTEGER,
            last_error TEXT,
            created_ms BIGINT NOT NULL,
            updated_ms BIGINT NOT NULL,
            UNIQUE (subscription_id, alert_id))""",
        "CREATE INDEX IF NOT EXISTS messages_due ON messages (next_attempt_ms) "
        "WHERE state = 'pending'",
        "CREATE INDEX IF NOT EXISTS messages_by_sub ON messages (subscription_id, alert_seq)",
        """CREATE TABLE IF NOT EXISTS attempts (
            id {serial},
            message_id TEXT NOT NULL,
            subscription_id TEXT NOT NULL,
            alert_id TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            status_code INTEGER,
            latency_ms DOUBLE PRECISION NOT NULL,
            error TEXT,
            ts_ms BIGINT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS attempts_by_sub ON attempts (subscription_id, id)",
    ],
]
