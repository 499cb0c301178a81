"""Kafka settings every Kafka client here shares: bootstrap servers and properties files.

The jobs' ``kafka:`` source (``streamwatch.processor.io.kafka``) and the producers'
``--kafka`` publisher (``streamwatch.feed.kafka_publisher``) read the same spellings,
so a properties file written for one works for the other.
"""

from __future__ import annotations

import re
from pathlib import Path

_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")


class KafkaConfigError(ValueError):
    """A Kafka spec, option or properties file that cannot be used; the message says why."""


def parse_servers(text: str, *, where: str, example: str) -> str:
    """``HOST:PORT[,HOST:PORT...]`` normalised (no spaces), or ``KafkaConfigError`` whose
    message starts with ``where`` (the flag and the value given)."""
    hosts = [h.strip() for h in text.split(",")]
    if not text.strip() or not all(_HOST_PORT.match(h) for h in hosts):
        raise KafkaConfigError(
            f"{where}: bootstrap servers must be HOST:PORT, comma separated; "
            f"e.g. {example}")
    for h in hosts:
        port = int(h.rsplit(":", 1)[1])
        if not 0 < port <= 65535:
            raise KafkaConfigError(f"{where}: port {port} is outside 1..65535")
    return ",".join(hosts)


def read_properties(path: str | Path, *, flag: str = "--kafka-properties") -> dict[str, str]:
    """A Kafka client properties file: ``key=value`` (or ``key: value``) lines, ``#`` comments,
    a trailing backslash continuing the value (``sasl.jaas.config`` is often split)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise KafkaConfigError(f"{flag} {path}: cannot read it ({exc.strerror or exc})") from exc
    props: dict[str, str] = {}
    lines = iter(text.splitlines())
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#!":
            continue
        while stripped.endswith("\\"):
            stripped = stripped[:-1] + next(lines, "").strip()
        m = re.match(r"^([^=:\s]+)\s*[=:]\s*(.*)$", stripped)
        if not m:
            raise KafkaConfigError(
                f"{flag} {path}: line {number} is not key=value: {stripped[:80]!r}")
        props[m.group(1)] = m.group(2)
    return props
