"""Serve existing feed logs again without generating anything new.

``python -m bench.faults.serve_feed --data-dir D --http-port P --socket-port Q``
runs the producer runtime of ``streamwatch txns`` (``streamwatch.feed.producer``:
feed log, HTTP feed API, line socket) over the ``transactions`` and ``labels``
logs already under ``D``. The fault run uses it to restart the feed producer
after a ``kill -9``: the simulator itself is not resumable mid-sequence (a new
process reseeds and would append different records), so the restarted process
serves exactly the durable records the killed one wrote.
"""

from __future__ import annotations

import argparse
import sys
import threading
from dataclasses import dataclass

from streamwatch.feed.producer import run_producer
from streamwatch.feed.settings import ProducerSettings, http_port, socket_port
from streamwatch.feed.sources import Emit
from streamwatch.producers.txns.settings import HTTP_PORT, SOCKET_PORT


@dataclass(frozen=True)
class ServeFeedSettings(ProducerSettings):
    """The feed runtime's flags only, with the transaction simulator's ports and env twins:
    this process stands in for it."""

    service = "TXNS"
    command = "python -m bench.faults.serve_feed"

    http_port: int = http_port(HTTP_PORT)
    socket_port: int = socket_port(SOCKET_PORT)


class ServeOnly:
    """A source that emits nothing and returns when the producer stops."""

    feeds = ("transactions", "labels")

    def run(self, emit: Emit, stop: threading.Event) -> None:
        stop.wait()


def main(argv: list[str] | None = None) -> int:
    from prometheus_client import CollectorRegistry

    from streamwatch.core.settings import SettingsError

    parser = argparse.ArgumentParser(prog=ServeFeedSettings.command, description=__doc__)
    ServeFeedSettings.add_arguments(parser)
    try:
        settings = ServeFeedSettings.from_args(parser.parse_args(argv))
    except SettingsError as exc:
        print(f"{ServeFeedSettings.command}: {exc}", file=sys.stderr)
        return 2
    return run_producer("txn-simulator", ServeOnly(), settings, socket_feed="transactions",
                        registry=CollectorRegistry())


if __name__ == "__main__":
    sys.exit(main())
