"""Settings of the exporter, filled from command-line flags (and their env twins)."""

from __future__ import annotations

from dataclasses import dataclass

from streamwatch.core.http import token_problem


class ConfigError(ValueError):
    """A setting is missing or unsafe; the message says which env var to set."""


@dataclass(frozen=True)
class ExporterConfig:
    host: str = "127.0.0.1"
    port: int = 7104
    # Upstreams polled in the background; None switches the poller off.
    alerting_url: str | None = None
    labels_url: str | None = None
    poll_interval: float = 2.0
    # Ceiling of the exponential backoff after failed polls.
    max_backoff: float = 30.0
    request_timeout: float = 5.0
    # Label-cardinality bounds: hashtags on /metrics, windows and queries kept.
    top_n: int = 10
    max_windows: int = 12
    max_rows_per_window: int = 100
    max_queries: int = 20
    max_body_bytes: int = 1 << 20
    # Bearer token the processor sends with POST /v1/progress and /v1/trends.
    ingest_token: str = ""
    # Memory bounds of the quality report (fraud incidents and alerts kept live).
    quality_max_incidents: int = 20_000
    quality_max_alerts: int = 50_000

    def __post_init__(self) -> None:
        problem = token_problem(self.ingest_token, "ingest", "--ingest-token")
        if problem:
            raise ConfigError(problem)
