"""Command-line flags with environment twins.

Every flag ``--some-flag`` can also be set with ``STREAMWATCH_SOME_FLAG``; the
flag wins over the environment, the environment wins over the default. The
help text of every flag names its twin and its default, so ``--help`` is the
reference for both.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

ENV_PREFIX = "STREAMWATCH_"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_name(flag: str) -> str:
    """``--http-port`` -> ``STREAMWATCH_HTTP_PORT``."""
    return ENV_PREFIX + flag.lstrip("-").replace("-", "_").upper()


class EnvValueError(SystemExit):
    """An environment twin holds a value its flag would refuse."""


def add_flag(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    flag: str,
    *,
    help: str,
    default: Any = None,
    type: Callable[[str], Any] = str,
    choices: list[str] | None = None,
    required: bool = False,
    metavar: str | None = None,
    aliases: tuple[str, ...] = (),
) -> None:
    """Add ``flag`` whose default comes from its ``STREAMWATCH_`` env twin.

    ``aliases`` are older spellings still accepted on the command line; only
    ``flag`` has an env twin.
    """
    name = env_name(flag)
    raw = os.environ.get(name)
    value = default
    if raw is not None:
        try:
            value = type(raw)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            raise EnvValueError(
                f"error: environment variable {name}={raw!r} is not valid for {flag}: {exc}. "
                f"Fix or unset {name}."
            ) from exc
        if choices is not None and value not in choices:
            raise EnvValueError(
                f"error: environment variable {name}={raw!r} must be one of {choices}. "
                f"Fix or unset {name}."
            )
    shown = "required" if required and value is None else f"default: {default!r}"
    parser.add_argument(
        flag,
        *aliases,  # argparse names the value after the first long option: ``flag``
        default=value,
        type=type,
        choices=choices,
        required=required and value is None,
        metavar=metavar,
        help=f"{help} [env {name}; {shown}]",
    )


def add_switch(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup, flag: str, *, help: str
) -> None:
    """A boolean flag; its env twin accepts 1/0, true/false, yes/no, on/off."""
    name = env_name(flag)
    raw = os.environ.get(name)
    value = False
    if raw is not None:
        low = raw.strip().lower()
        if low in _TRUE:
            value = True
        elif low not in _FALSE:
            raise EnvValueError(
                f"error: environment variable {name}={raw!r} must be 1/0, true/false, "
                f"yes/no or on/off. Fix or unset {name}."
            )
    parser.add_argument(
        flag, action="store_true", default=value, help=f"{help} [env {name}; default: off]"
    )


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
