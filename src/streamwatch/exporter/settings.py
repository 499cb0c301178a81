"""Settings of the exporter: each declared once, as flag and env twin.

``STREAMWATCH_EXPORTER_<FLAG>`` twins every flag (``STREAMWATCH_<FLAG>`` is still read
for one release); the ingest token keeps its one shared name, ``STREAMWATCH_INGEST_TOKEN``,
the same secret the processor sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from streamwatch.core.flags import (
    byte_size,
    duration_seconds,
    port,
    positive_duration,
    positive_int,
)
from streamwatch.core.settings import MIN_TOKEN_LENGTH, Settings, setting, text_or_none

LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclass(frozen=True)
class ExporterSettings(Settings):
    service = "EXPORTER"
    command = "streamwatch exporter"

    host: str = setting("127.0.0.1", help="address to listen on (0.0.0.0 in containers)")
    port: int = setting(7104, parser=port, help="HTTP port (0 = any free)")
    # Upstreams polled in the background; None switches the poller off.
    alerting_url: str | None = setting(
        None, parser=text_or_none, metavar="URL",
        help="alerting service base URL to poll for alerts (e.g. http://127.0.0.1:7103); "
             "unset: no alert metrics")
    labels_url: str | None = setting(
        None, parser=text_or_none, metavar="URL",
        help="labels feed URL for live precision/recall "
             "(e.g. http://127.0.0.1:7102/v1/feeds/labels); unset: no quality metrics")
    poll_interval: float = setting(2.0, parser=positive_duration, metavar="DURATION",
                                   help="pause between polls of alerts and labels")
    # Ceiling of the exponential backoff after failed polls.
    max_backoff: float = setting(30.0, parser=duration_seconds, metavar="DURATION",
                                 help="longest pause after repeated poll failures")
    request_timeout: float = setting(5.0, parser=duration_seconds, metavar="DURATION",
                                     help="timeout of each upstream HTTP request")
    # Label-cardinality bounds: hashtags on /metrics, windows and queries kept.
    top_n: int = setting(10, parser=positive_int,
                         help="hashtags of the newest window exposed on /metrics")
    max_windows: int = setting(12, parser=positive_int,
                               help="trend windows kept for GET /v1/trends")
    max_rows_per_window: int = 100
    max_queries: int = setting(
        20, parser=positive_int,
        help="streaming queries tracked; the stalest is dropped beyond this")
    # Memory bounds of the quality report (fraud incidents and alerts kept live).
    quality_max_incidents: int = setting(
        20_000, parser=positive_int,
        help="fraud incidents kept for the quality report; older ones are retired with "
             "their figures final (bounds memory)")
    quality_max_alerts: int = setting(
        50_000, parser=positive_int,
        help="alerts kept for the quality report and duplicate checks; older ones are "
             "retired with their figures final (bounds memory)")
    ingest_token: str = setting(
        "", secret=True, env="STREAMWATCH_INGEST_TOKEN",
        help="bearer token the processor sends with POST /v1/progress, /v1/trends and "
             f"/v1/orders (at least {MIN_TOKEN_LENGTH} characters)")
    max_body_bytes: int = setting(1 << 20, parser=byte_size, flag="--max-body",
                                  metavar="SIZE", help="largest POST body accepted")
    log_level: str = setting("info", choices=LOG_LEVELS, help="log level")

    def validate(self) -> None:
        self.check_token("ingest_token", "ingest")
