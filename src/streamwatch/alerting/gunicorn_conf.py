"""gunicorn settings for the alerting service (``-c python:streamwatch.alerting.gunicorn_conf``).

The address comes from the service's settings (``STREAMWATCH_ALERTING_HOST``,
``STREAMWATCH_ALERTING_PORT``), read here in the master, so bad settings stop the
master once with the message instead of every worker failing in turn.
Threads serve the requests (the work is I/O on the database), and a worker that
exits finishes its in-flight webhook deliveries first.
"""

from __future__ import annotations

import os
from typing import Any

from streamwatch.alerting.settings import AlertingSettings
from streamwatch.core.settings import SettingsError

try:
    _settings = AlertingSettings.from_env()
except SettingsError as exc:
    raise SystemExit(f"{AlertingSettings.command}: {exc}") from None

bind = f"{_settings.host}:{_settings.port}"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
graceful_timeout = 30
preload_app = False  # delivery threads and connections must start after the fork


def worker_exit(server: Any, worker: Any) -> None:
    from streamwatch.alerting import wsgi

    wsgi.shutdown()
