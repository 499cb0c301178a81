"""Parsers of flag values (ports, counts, durations, sizes, probabilities).

Each turns the text of a flag or its env twin into a value or raises
``argparse.ArgumentTypeError`` with what is expected; the typed settings
(``streamwatch.core.settings``) declare them as a setting's ``parser``.
"""

from __future__ import annotations

import argparse


def port(text: str) -> int:
    """A TCP port, 0 meaning 'any free port'."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port {value} is outside 0..65535")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be >= 1")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (counts and seeds, where 0 often means 'none')."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0")
    return value


def positive_duration(text: str) -> float:
    """A duration (see :func:`duration_seconds`) that must be > 0."""
    value = duration_seconds(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be a duration > 0")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text} must be > 0")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} must be >= 0")
    return value


def probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} must be within 0..1")
    return value


def duration_seconds(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``2h``, ``500ms`` -> seconds."""
    t = text.strip().lower()
    units = (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0))
    for suffix, factor in units:
        if t.endswith(suffix) and t[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(t[: -len(suffix)]) * factor
    try:
        return float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; use e.g. 90, 90s, 5m, 2h or 500ms"
        ) from None


def byte_size(text: str) -> int:
    """``1048576``, ``64MiB``, ``1GiB``, ``512KiB`` -> bytes."""
    t = text.strip()
    units = (("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("TiB", 1 << 40))
    for suffix, factor in units:
        if t.endswith(suffix):
            return int(float(t[: -len(suffix)]) * factor)
    try:
        return int(t)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size; use bytes or e.g. 64MiB, 1GiB"
        ) from None
