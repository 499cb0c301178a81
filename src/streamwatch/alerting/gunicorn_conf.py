"""gunicorn settings for the alerting service (``-c python:streamwatch.alerting.gunicorn_conf``).

Threads serve the requests (the work is I/O on the database), and a worker that
exits finishes its in-flight webhook deliveries first.
"""

from __future__ import annotations

import os
from typing import Any

_host = os.environ.get("STREAMWATCH_HOST", "0.0.0.0")  # a container listens on all interfaces
bind = f"{_host}:{os.environ.get('STREAMWATCH_PORT', '7103')}"
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
graceful_timeout = 30
preload_app = False  # delivery threads and connections must start after the fork


def worker_exit(server: Any, worker: Any) -> None:
    from streamwatch.alerting import wsgi

    wsgi.shutdown()
