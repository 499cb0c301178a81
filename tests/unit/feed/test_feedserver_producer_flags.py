"""The producer flags every feed service shares: defaults, env twins, help text."""

from __future__ import annotations

import argparse

import pytest

from streamwatch.core.flags import EnvValueError
from streamwatch.feed.producer import add_producer_flags


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_producer_flags(p, http_port=7102, socket_port=7202)
    return p


def test_defaults_match_the_documented_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("STREAMWATCH_HTTP_PORT", "STREAMWATCH_DATA_DIR", "STREAMWATCH_FSYNC"):
        monkeypatch.delenv(name, raising=False)
    args = parser().parse_args([])
    assert (args.host, args.http_port, args.socket_port) == ("127.0.0.1", 7102, 7202)
    assert args.data_dir == "./.streamwatch"
    assert (args.fsync, args.fsync_interval) == ("interval", 0.1)
    assert args.segment_bytes == 64 << 20
    assert (args.max_records_per_request, args.socket_buffer) == (10_000, 10_000)


def test_env_twins_apply_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWATCH_FSYNC", "always")
    monkeypatch.setenv("STREAMWATCH_SEGMENT_BYTES", "1MiB")
    monkeypatch.setenv("STREAMWATCH_RETENTION_AGE", "2h")
    args = parser().parse_args(["--segment-bytes", "4096"])
    assert args.fsync == "always"
    assert args.segment_bytes == 4096
    assert args.retention_age == 7200.0


def test_a_bad_env_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMWATCH_FSYNC", "sometimes")
    with pytest.raises(EnvValueError, match="STREAMWATCH_FSYNC"):
        parser()


def test_every_flag_names_its_env_twin_in_help() -> None:
    text = parser().format_help()
    for flag in ("host", "http-port", "socket-port", "data-dir", "fsync", "fsync-interval",
                 "segment-bytes", "retention-bytes", "retention-age",
                 "max-records-per-request", "socket-buffer", "log-level"):
        assert f"--{flag}" in text
        assert "STREAMWATCH_" + flag.replace("-", "_").upper() in text
