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

from streamwatch.feed.producer import add_producer_flags, run_producer
from streamwatch.feed.sources import Emit


class ServeOnly:
    """A source that emits nothing and returns when the producer stops."""

    feeds = ("transactions", "labels")

    def run(self, emit: Emit, stop: threading.Event) -> None:
        stop.wait()


def main(argv: list[str] | None = None) -> int:
    from prometheus_client import CollectorRegistry

    parser = argparse.ArgumentParser(prog="python -m bench.faults.serve_feed",
                                     description=__doc__)
    add_producer_flags(parser, http_port=7102, socket_port=7202)
    args = parser.parse_args(argv)
    return run_producer("txn-simulator", ServeOnly(), args, socket_feed="transactions",
                        registry=CollectorRegistry())


if __name__ == "__main__":
    sys.exit(main())
