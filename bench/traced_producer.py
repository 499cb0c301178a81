"""A real producer CLI (``streamwatch txns ...``) that also writes when its source handed each
batch of one feed to the runtime: the moment a transaction is *accepted*, before the feed log
appends it and before the group commit makes it readable.

Usage (what ``bench.faults.harness.Pipeline.start_sim`` runs when given a trace path)::

    python -m bench.traced_producer --trace accept.txt txns --rate 5000 ...

Everything after ``--trace FILE`` is ``streamwatch``'s own command line, run in-process by
``streamwatch.cli.main``: the same flags, feed log, group commit and HTTP API. The only change
is a wrapper around the ``emit`` the runtime passes to the source: for each non-empty batch of
``--trace-feed`` (``transactions``) it takes ``time.time()``, calls the real ``emit``, then writes
one line ``<time> <end>`` where ``[previous end, end)`` are the offsets of that batch in the
feed (records the feed held at start + records emitted since). Lines are written line-buffered
(one per pacer tick, ~100 a second), so a reader sees each one at once.

:func:`read_trace` and :func:`accepted_at` turn the file into the accept time of an offset.
"""

from __future__ import annotations

import bisect
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def read_trace(path: Path) -> tuple[list[float], list[int]]:
    """``(times, ends)`` of a trace file; a torn last line (the producer was killed mid-write)
    is skipped, and so is any line whose end does not grow (it cannot happen; it would break
    the bisection)."""
    times: list[float] = []
    ends: list[int] = []
    try:
        text = Path(path).read_text()
    except OSError:
        return times, ends
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        try:
            t, end = float(parts[0]), int(parts[1])
        except ValueError:
            continue
        if ends and end <= ends[-1]:
            continue
        times.append(t)
        ends.append(end)
    return times, ends


def accepted_at(times: Sequence[float], ends: Sequence[int], offset: int) -> float | None:
    """When the batch holding ``offset`` was handed to ``emit``: the first line whose end
    (exclusive) passes ``offset``; None for an offset not (yet) in the trace."""
    if offset < 0:
        return None
    i = bisect.bisect_right(ends, offset)
    return times[i] if i < len(times) else None


class _Traced:
    """The source as the runtime sees it, with ``run`` getting a tracing ``emit``."""

    def __init__(self, source: Any, path: Path, feed: str) -> None:
        self._source = source
        self._path = path
        self._feed = feed

    def __getattr__(self, name: str) -> Any:
        return getattr(self._source, name)

    def run(self, emit: Callable[[str, list[bytes]], None], stop: Any) -> None:
        # records the feed already holds (a restart continues the world): offsets start there
        end = int((getattr(self._source, "held", None) or {}).get(self._feed, 0))
        with open(self._path, "a", buffering=1) as out:  # line-buffered: each line at once

            def traced(feed: str, payloads: list[bytes]) -> None:
                nonlocal end
                if feed != self._feed or not payloads:
                    emit(feed, payloads)
                    return
                accepted = time.time()
                emit(feed, payloads)
                end += len(payloads)
                out.write(f"{accepted:.6f} {end}\n")

            self._source.run(traced, stop)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    feed = "transactions"
    trace: Path | None = None
    while argv and argv[0] in ("--trace", "--trace-feed"):
        if len(argv) < 2:
            print(f"bench.traced_producer: {argv[0]} needs a value", file=sys.stderr)
            return 2
        if argv[0] == "--trace":
            trace = Path(argv[1])
        else:
            feed = argv[1]
        argv = argv[2:]
    if trace is None:
        print("usage: python -m bench.traced_producer --trace FILE [--trace-feed FEED] "
              "<streamwatch command line>", file=sys.stderr)
        return 2
    trace.parent.mkdir(parents=True, exist_ok=True)

    from streamwatch import cli
    from streamwatch.feed import producer

    real = producer.run_producer

    def run_producer(service: str, source: Any, settings: Any, **kwargs: Any) -> int:
        return real(service, _Traced(source, trace, feed), settings, **kwargs)

    # the CLIs import run_producer inside their run(), so they pick this one up
    producer.run_producer = run_producer  # type: ignore[assignment]
    return cli.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
