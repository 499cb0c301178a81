"""WSGI entry point for gunicorn; settings come from the environment (``from_env``).

  gunicorn -c python:streamwatch.alerting.gunicorn_conf streamwatch.alerting.wsgi:app

The module is imported in each gunicorn worker (do not use ``--preload``: the
delivery threads and database connections must be created after the fork), so
each worker runs its own delivery threads; they share the outbox through the
database leases, like replicas do.
"""

from __future__ import annotations

import logging
import os

from streamwatch.alerting.app import create_app
from streamwatch.alerting.runtime import Runtime
from streamwatch.alerting.settings import AlertingSettings
from streamwatch.core import logs

settings = AlertingSettings.from_env()
logs.setup("alerting", settings.log_level)
app = create_app(settings)
Runtime.of(app).delivery.start()
# The pid tells the workers' log lines apart (gunicorn's own lines carry it too).
logging.getLogger(__name__).info("gunicorn worker ready",
                                 extra={"database": settings.database_label, "pid": os.getpid()})


def shutdown() -> None:
    """Finish in-flight deliveries; called from gunicorn's ``worker_exit`` hook."""
    rt = Runtime.of(app)
    rt.delivery.stop()
    rt.store.close()
