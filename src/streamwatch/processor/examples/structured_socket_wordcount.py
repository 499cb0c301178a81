"""Structured Streaming word count over a TCP line socket (the course hands-on).

Key concepts: ``readStream.format("socket")``, ``explode(split(...))``,
a running ``groupBy("word").count()`` in complete output mode. The socket
source is NOT fault tolerant -- use the feed source for exactly-once.

Run locally (any line server works: ``nc -lk 9999`` or a producer's socket)::

    streamwatch tweets &        # its line socket is 127.0.0.1:7201
    python -m streamwatch.processor.examples.structured_socket_wordcount 127.0.0.1 7201

Expected output::

    -------------------------------------------
    Batch: 1
    -------------------------------------------
    +---------+-----+
    |     word|count|
    +---------+-----+
    |    spark|   12|
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: structured_socket_wordcount.py HOST PORT", file=sys.stderr)
        return 2
    from streamwatch.processor.session import build_session
    from streamwatch.processor.wordcount.job import word_counts

    spark = build_session("local[2]", "structured_socket_wordcount")
    lines = (spark.readStream.format("socket")
             .option("host", argv[0]).option("port", argv[1]).load())
    query = word_counts(lines).writeStream.outputMode("complete").format("console").start()
    try:
        query.awaitTermination()
    except KeyboardInterrupt:
        query.stop()
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
