"""LEGACY: the DStream (``StreamingContext``) word count from the old Spark
Streaming guide, kept for people coming from it.

DStreams are deprecated since Spark 3.4 and get no new features; the
Structured Streaming version is ``structured_socket_wordcount.py``. Like
every socket example this is not fault tolerant.

Key concepts: ``StreamingContext(sc, batch_seconds)``, ``socketTextStream``,
``flatMap`` / ``map`` / ``reduceByKey``, ``pprint``.

Run locally::

    streamwatch tweets &
    python -m streamwatch.processor.examples.dstream_socket_wordcount 127.0.0.1 7201 [SECONDS]

Expected output every batch (1 s)::

    -------------------------------------------
    Time: 2026-11-20 10:15:04
    -------------------------------------------
    ('spark', 12)
    ('#streaming', 7)
"""

from __future__ import annotations

import contextlib
import json
import sys


def words_of(line: str) -> list[str]:
    """Words of the tweet's text when the line is a JSON tweet, else of the line."""
    text = line
    if line.startswith("{"):
        with contextlib.suppress(ValueError, AttributeError):
            text = str(json.loads(line).get("text", line))
    return text.lower().split()


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print("usage: dstream_socket_wordcount.py HOST PORT [SECONDS]", file=sys.stderr)
        return 2
    import warnings

    from pyspark.streaming import StreamingContext

    from streamwatch.processor.session import build_session

    sc = build_session("local[2]", "dstream_socket_wordcount").sparkContext
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "DStream is deprecated"
        ssc = StreamingContext(sc, 1)
    counts = (ssc.socketTextStream(argv[0], int(argv[1]))
              .flatMap(words_of).map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b))
    counts.pprint()
    ssc.start()
    if len(argv) == 3:
        # PySpark annotates int seconds but converts with int(timeout * 1000): fractions work
        ssc.awaitTerminationOrTimeout(float(argv[2]))  # type: ignore[arg-type]
    else:
        with contextlib.suppress(KeyboardInterrupt):
            ssc.awaitTermination()
    ssc.stop(stopSparkContext=True, stopGraceFully=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
