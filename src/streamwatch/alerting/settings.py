"""Settings of the alerting service: each declared once, as flag and env twin.

``STREAMWATCH_ALERTING_<FLAG>`` twins every flag (``STREAMWATCH_<FLAG>`` is still read
for one release); the two tokens keep their one shared name, ``STREAMWATCH_ADMIN_TOKEN``
and ``STREAMWATCH_INGEST_TOKEN``, because the launcher, compose and the chart hand the
same secret to every service that holds it. ``validate`` refuses insecure values: both
tokens are required, long enough and different from each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamwatch.alerting.schedule import DEFAULT_SCHEDULE, parse_schedule
from streamwatch.core.flags import (
    byte_size,
    duration_seconds,
    non_negative_float,
    non_negative_int,
    port,
    positive_int,
)
from streamwatch.core.settings import (
    MIN_TOKEN_LENGTH,
    Settings,
    SettingsError,
    path_or_none,
    setting,
    switch,
    text_or_none,
)

DEFAULT_PORT = 7103
LOG_LEVELS = ("debug", "info", "warning", "error")


def _host_list(text: str) -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in text.split(",") if h.strip())


@dataclass(frozen=True, slots=True)
class AlertingSettings(Settings):
    service = "ALERTING"
    command = "streamwatch alerting"

    host: str = setting("127.0.0.1", group="server", help="address to listen on")
    port: int = setting(DEFAULT_PORT, parser=port, group="server",
                        help="HTTP port (0 = any free)")
    data_dir: Path = setting(Path("./.streamwatch"), parser=Path, group="server",
                             help="directory for local state")
    log_level: str = setting("info", choices=LOG_LEVELS, group="server", help="log level")
    db_path: Path | None = setting(None, parser=path_or_none, flag="--db", metavar="PATH",
                                   group="storage",
                                   help="SQLite database file (default <data-dir>/alerting.db)")
    database_url: str | None = setting(
        None, parser=text_or_none, metavar="postgresql://...", secret=True, group="storage",
        help="PostgreSQL URL; takes precedence over --db so replicas can share it")
    admin_token: str = setting(
        "", secret=True, env="STREAMWATCH_ADMIN_TOKEN", group="API",
        help=f"bearer token for /v1/subscriptions (at least {MIN_TOKEN_LENGTH} characters)")
    ingest_token: str = setting(
        "", secret=True, env="STREAMWATCH_INGEST_TOKEN", group="API",
        help=f"bearer token for POST /v1/alerts (at least {MIN_TOKEN_LENGTH} characters; "
             "the processor sends it)")
    max_body_bytes: int = setting(4 << 20, parser=byte_size, flag="--max-body-size",
                                  group="API",
                                  help="largest accepted request body in bytes (e.g. 4MiB)")
    max_batch: int = setting(1000, parser=positive_int, group="API",
                             help="most alerts accepted in one POST /v1/alerts")
    retry_schedule: tuple[float, ...] = setting(
        parse_schedule(DEFAULT_SCHEDULE), parser=parse_schedule, metavar="DELAYS",
        group="webhooks", help="delays before each attempt, comma separated")
    retry_jitter: float = setting(0.2, parser=non_negative_float, group="webhooks",
                                  help="jitter fraction applied to every retry delay")
    delivery_workers: int = setting(8, parser=positive_int, group="webhooks",
                                    help="concurrent webhook deliveries per process")
    attempt_timeout: float = setting(
        15.0, parser=duration_seconds, group="webhooks",
        help="timeout of one delivery attempt (connect, send, each read)")
    disable_after_failures: int = setting(
        0, parser=non_negative_int, group="webhooks",
        help="disable a subscription after this many consecutive failed attempts "
             "(0 = only when a message exhausts the retry schedule)")
    secret_grace: float = setting(24 * 3600.0, parser=duration_seconds, group="webhooks",
                                  help="how long a rotated-out secret still signs deliveries")
    poll_interval: float = setting(
        1.0, parser=duration_seconds, group="webhooks",
        help="how often idle workers look for due deliveries (enqueues wake them at once)")
    allow_private: bool = switch(
        flag="--webhook-allow-private", group="webhooks",
        help="allow webhook URLs on loopback, private and link-local addresses")
    allowed_hosts: tuple[str, ...] = setting(
        (), parser=_host_list, flag="--webhook-allowed-hosts", group="webhooks",
        help="comma separated host names (or .suffixes) webhooks may target; empty = any")

    def validate(self) -> None:
        self.check_token("admin_token", "admin")
        self.check_token("ingest_token", "ingest")
        if self.admin_token == self.ingest_token:
            raise SettingsError(
                f"{self.where('admin_token')} and {self.where('ingest_token')} are the same; "
                "give them different values (whoever can post alerts must not manage "
                "webhooks)")
        if not self.retry_schedule:
            raise self.problem("retry_schedule", "the retry schedule needs at least one delay")

    @property
    def sqlite_path(self) -> Path:
        return self.db_path or self.data_dir / "alerting.db"

    @property
    def database_label(self) -> str:
        """Which database, without credentials — safe to log."""
        if self.database_url:
            from urllib.parse import urlsplit
            parts = urlsplit(self.database_url)
            return f"postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"
        return f"sqlite:{self.sqlite_path}"
