"""Settings of the alerting service, built from flags and their env twins.

``add_arguments`` declares every flag (each has a ``STREAMWATCH_<FLAG>`` twin);
``AlertingConfig.from_args`` turns the parsed namespace into a frozen config and
refuses insecure values: the admin and ingest tokens are required, long enough
and different from each other.
``AlertingConfig.from_env`` builds the same config from the environment alone,
for ``gunicorn`` (see ``wsgi.py``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from streamwatch.alerting.schedule import DEFAULT_SCHEDULE, parse_schedule
from streamwatch.core.flags import (
    add_flag,
    add_switch,
    byte_size,
    duration_seconds,
    env_name,
    non_negative_float,
    non_negative_int,
    port,
    positive_int,
)
from streamwatch.core.http import MIN_TOKEN_LENGTH, token_problem

DEFAULT_PORT = 7103


class ConfigError(ValueError):
    """A setting is missing or unsafe; the message says which env var to set."""


def check_token(token: str, name: str, flag: str) -> None:
    problem = token_problem(token, name, flag)
    if problem:
        raise ConfigError(problem)






def _host_list(text: str) -> tuple[str, ...]:
    return tuple(h.strip().lower() for h in text.split(",") if h.strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag of ``streamwatch alerting``."""
    net = parser.add_argument_group("server")
    add_flag(net, "--host", default="127.0.0.1", help="address to listen on")
    add_flag(net, "--port", default=DEFAULT_PORT, type=port, help="HTTP port (0 = any free)")
    add_flag(net, "--data-dir", default="./.streamwatch", help="directory for local state")
    add_flag(net, "--log-level", default="info", choices=["debug", "info", "warning", "error"],
             help="log level")
    store = parser.add_argument_group("storage")
    add_flag(store, "--db", default=None, metavar="PATH",
             help="SQLite database file (default <data-dir>/alerting.db)")
    add_flag(store, "--database-url", default=None, metavar="postgresql://...",
             help="PostgreSQL URL; takes precedence over --db so replicas can share it")
    api = parser.add_argument_group("API")
    add_flag(api, "--admin-token", default=None,
             help=f"bearer token for /v1/subscriptions (at least {MIN_TOKEN_LENGTH} characters)")
    add_flag(api, "--ingest-token", default=None,
             help=f"bearer token for POST /v1/alerts (at least {MIN_TOKEN_LENGTH} characters; "
                  "the processor sends it)")
    add_flag(api, "--max-body-size", default=4 << 20, type=byte_size,
             help="largest accepted request body in bytes (e.g. 4MiB)")
    add_flag(api, "--max-batch", default=1000, type=positive_int,
             help="most alerts accepted in one POST /v1/alerts")
    hooks = parser.add_argument_group("webhooks")
    add_flag(hooks, "--retry-schedule", default=parse_schedule(DEFAULT_SCHEDULE),
             type=parse_schedule, metavar="DELAYS",
             help=f"delays before each attempt, comma separated ({DEFAULT_SCHEDULE})")
    add_flag(hooks, "--retry-jitter", default=0.2, type=non_negative_float,
             help="jitter fraction applied to every retry delay")
    add_flag(hooks, "--delivery-workers", default=8, type=positive_int,
             help="concurrent webhook deliveries per process")
    add_flag(hooks, "--attempt-timeout", default=15.0, type=duration_seconds,
             help="timeout of one delivery attempt (connect, send, each read)")
    add_flag(hooks, "--disable-after-failures", default=0, type=non_negative_int,
             help="disable a subscription after this many consecutive failed attempts "
                  "(0 = only when a message exhausts the retry schedule)")
    add_flag(hooks, "--secret-grace", default=24 * 3600.0, type=duration_seconds,
             help="how long a rotated-out secret still signs deliveries")
    add_flag(hooks, "--poll-interval", default=1.0, type=duration_seconds,
             help="how often idle workers look for due deliveries (enqueues wake them at once)")
    add_switch(hooks, "--webhook-allow-private",
               help="allow webhook URLs on loopback, private and link-local addresses")
    add_flag(hooks, "--webhook-allowed-hosts", default=(), type=_host_list,
             help="comma separated host names (or .suffixes) webhooks may target; empty = any")


@dataclass(frozen=True, slots=True)
class AlertingConfig:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = Path("./.streamwatch")
    db_path: Path | None = None
    database_url: str | None = None
    admin_token: str = ""
    ingest_token: str = ""
    max_body_bytes: int = 4 << 20
    max_batch: int = 1000
    retry_schedule: tuple[float, ...] = parse_schedule(DEFAULT_SCHEDULE)
    retry_jitter: float = 0.2
    delivery_workers: int = 8
    attempt_timeout: float = 15.0
    disable_after_failures: int = 0
    secret_grace: float = 24 * 3600.0
    poll_interval: float = 1.0
    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()
    log_level: str = "info"

    def __post_init__(self) -> None:
        for name, flag in (("admin", "--admin-token"), ("ingest", "--ingest-token")):
            check_token(getattr(self, f"{name}_token"), name, flag)
        if self.admin_token == self.ingest_token:
            raise ConfigError(
                f"{env_name('--admin-token')} and {env_name('--ingest-token')} are the same; "
                "give them different values (whoever can post alerts must not manage "
                "webhooks)")
        if not self.retry_schedule:
            raise ConfigError("the retry schedule needs at least one delay")

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

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> AlertingConfig:
        return cls(
            host=args.host, port=args.port, data_dir=Path(args.data_dir),
            db_path=Path(args.db) if args.db else None, database_url=args.database_url or None,
            admin_token=args.admin_token or "", ingest_token=args.ingest_token or "",
            max_body_bytes=args.max_body_size,
            max_batch=args.max_batch, retry_schedule=args.retry_schedule,
            retry_jitter=args.retry_jitter, delivery_workers=args.delivery_workers,
            attempt_timeout=args.attempt_timeout,
            disable_after_failures=args.disable_after_failures,
            secret_grace=args.secret_grace, poll_interval=args.poll_interval,
            allow_private=args.webhook_allow_private, allowed_hosts=args.webhook_allowed_hosts,
            log_level=args.log_level,
        )

    @classmethod
    def from_env(cls) -> AlertingConfig:
        parser = argparse.ArgumentParser(prog="alerting")
        add_arguments(parser)
        return cls.from_args(parser.parse_args([]))
