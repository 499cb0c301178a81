"""Invariants of the feed log: contiguous offsets, byte-exact reads, crash repair, retention."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamwatch.feed.log import (
    HEADER,
    FeedLog,
    FeedLogError,
    OffsetOutOfRange,
    frame,
)

# JSON-ish payloads without newlines, of varied sizes, so segments roll at odd places
payload = st.binary(min_size=1, max_size=300).map(lambda b: b.replace(b"\n", b" "))
batches = st.lists(st.lists(payload, min_size=1, max_size=20), min_size=1, max_size=15)
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@contextmanager
def fresh_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as d:
        yield Path(d)


def open_log(directory: Path, **kw: object) -> FeedLog:
    opts: dict[str, object] = {"segment_bytes": 1024, "fsync": "never"}
    opts.update(kw)
    return FeedLog.open(directory, "feed", **opts)  # type: ignore[arg-type]


def active_segment(directory: Path) -> Path:
    return sorted((directory / "feed").glob("*.log"))[-1]


@FAST
@given(batches=batches)
def test_offsets_are_contiguous_and_reads_match_across_segments_and_reopen(batches):
    with fresh_dir() as d:
        expected: list[bytes] = []
        with open_log(d) as lg:
            for batch in batches:
                assert lg.append_many(batch) == len(expected)
                expected.extend(batch)
            assert (lg.earliest, lg.latest) == (0, len(expected))
            assert lg.read(0) == expected
            # every window, including ones that straddle segment boundaries
            for start in range(0, len(expected), 7):
                assert lg.read(start, start + 13) == expected[start:start + 13]
        with open_log(d) as lg:
            assert lg.latest == len(expected)
            assert lg.torn_truncations == 0
            assert lg.read(0) == expected
            body, end = lg.read_ndjson(0, None, 50)
            assert end == min(50, len(expected))
            assert body == b"".join(p + b"\n" for p in expected[:50])


@FAST
@given(records=st.lists(payload, min_size=1, max_size=40),
       tail=st.one_of(st.binary(min_size=1, max_size=40),
                      st.tuples(payload, st.integers(min_value=1)).map(
                          lambda t: frame([t[0]])[: 1 + t[1] % (len(frame([t[0]])) - 1)])))
def test_a_torn_tail_is_truncated_and_every_written_record_survives(records, tail):
    with fresh_dir() as d:
        with open_log(d, segment_bytes=1 << 20) as lg:
            lg.append_many(records)
        seg = active_segment(d)
        size = seg.stat().st_size
        with open(seg, "ab") as f:  # what kill -9 in the middle of os.write leaves
            f.write(tail)
        with open_log(d, segment_bytes=1 << 20) as lg:
            assert lg.read(0) == records
            assert lg.latest == len(records)
            # a forged tail can, by chance, be a complete valid record; then nothing is torn
            if lg.torn_truncations:
                assert lg.torn_bytes_truncated == len(tail)
                assert seg.stat().st_size == size
            assert lg.append_many([b"next"]) == len(records)
            assert lg.read(len(records)) == [b"next"]


def test_truncation_is_logged_with_offset_and_bytes(tmp_path, caplog):
    with open_log(tmp_path) as lg:
        lg.append_many([b'{"a":1}', b'{"a":2}'])
    with open(active_segment(tmp_path), "ab") as f:
        f.write(frame([b'{"a":3}'])[:-2])
    with caplog.at_level("WARNING"), open_log(tmp_path) as lg:
        assert lg.latest == 2
    rec = next(r for r in caplog.records if "torn" in r.getMessage())
    assert rec.offset == 2
    assert rec.bytes_truncated == HEADER.size + 7 - 2


def test_corrupt_checksum_in_the_tail_is_cut(tmp_path):
    with open_log(tmp_path, segment_bytes=1 << 20) as lg:
        lg.append_many([b"one", b"two", b"three"])
    seg = active_segment(tmp_path)
    data = bytearray(seg.read_bytes())
    data[-1] ^= 0xFF
    seg.write_bytes(bytes(data))
    with open_log(tmp_path, segment_bytes=1 << 20) as lg:
        assert lg.read(0) == [b"one", b"two"]
        assert lg.torn_truncations == 1


def test_sealed_segments_get_an_index_and_a_bad_index_is_rebuilt(tmp_path):
    records = [b"%05d" % i * 10 for i in range(300)]
    with open_log(tmp_path) as lg:
        lg.append_many(records[:150])
        for r in records[150:]:
            lg.append_many([r])
        assert lg.segment_count > 2
    indexes = sorted((tmp_path / "feed").glob("*.index"))
    assert len(indexes) == len(list((tmp_path / "feed").glob("*.log"))) - 1
    indexes[0].write_bytes(b"garbage")
    with open_log(tmp_path) as lg:
        assert lg.read(0) == records
    assert indexes[0].read_bytes().startswith(b"SWIX1")


@FAST
@given(batches=batches, limit=st.integers(min_value=1024, max_value=6000))
def test_size_retention_only_moves_earliest_forward_and_keeps_the_active_segment(
        batches, limit):
    with fresh_dir() as d, open_log(d, retention_bytes=limit) as lg:
        expected: list[bytes] = []
        earliest = 0
        for batch in batches:
            lg.append_many(batch)
            expected.extend(batch)
            assert lg.earliest >= earliest
            earliest = lg.earliest
            assert lg.latest == len(expected)
            assert lg.read(earliest) == expected[earliest:]
            lg.apply_retention()
            # sealed segments go while over the limit; the active one always stays
            assert lg.segment_count == 1 or lg.size_bytes <= limit
            assert lg.latest == len(expected)
        if earliest > 0:
            with pytest.raises(OffsetOutOfRange) as err:
                lg.read(earliest - 1)
            assert err.value.earliest == earliest


def test_age_retention_deletes_old_sealed_segments_only(tmp_path):
    with open_log(tmp_path, retention_seconds=60.0) as lg:
        for i in range(100):
            lg.append_many([b"x" * 100 + b"%d" % i])
        segments = lg.segment_count
        assert segments > 2
        assert lg.apply_retention(now=time.time() + 30) == 0
        assert lg.apply_retention(now=time.time() + 120) == segments - 1
        assert lg.segment_count == 1
        assert lg.read(lg.earliest) == [b"x" * 100 + b"%d" % i
                                        for i in range(lg.earliest, 100)]
    with open_log(tmp_path) as lg:  # the earliest offset survives a restart
        assert lg.earliest > 0
        assert lg.latest == 100


def test_interval_fsync_makes_records_visible_only_after_the_group_commit(tmp_path):
    seen: list[bytes] = []
    with open_log(tmp_path, fsync="interval", fsync_interval=3600.0) as lg:
        lg.subscribe(seen.extend)
        lg.append_many([b"a", b"b"])
        assert lg.latest == 0
        assert lg.read(0) == []
        lg.flush()
        assert lg.latest == 2
        assert seen == [b"a", b"b"]


@pytest.mark.parametrize("policy", ["always", "never"])
def test_always_and_never_make_records_visible_at_once(tmp_path, policy):
    fsyncs: list[float] = []
    seen: list[bytes] = []
    with open_log(tmp_path, fsync=policy, on_fsync=fsyncs.append) as lg:
        lg.subscribe(seen.extend)
        lg.append_many([b"a"])
        lg.append_many([b"b", b"c"])
        assert lg.latest == 3
        assert seen == [b"a", b"b", b"c"]
    assert (len(fsyncs) >= 2) == (policy == "always")


def test_payload_and_argument_validation(tmp_path):
    with open_log(tmp_path) as lg:
        with pytest.raises(ValueError):
            lg.append_many([b"two\nlines"])
        with pytest.raises(ValueError):
            lg.append_many([b""])
        assert lg.latest == 0
        with pytest.raises(ValueError):
            lg.read(-1)
    with pytest.raises(FeedLogError):
        FeedLog.open(tmp_path, "feed", fsync="sometimes")
    with pytest.raises(FeedLogError):
        FeedLog.open(tmp_path, "../escape")


def test_concurrent_readers_see_a_contiguous_prefix_while_the_writer_appends(tmp_path):
    total = 3000
    errors: list[str] = []
    with open_log(tmp_path, fsync="interval", fsync_interval=0.005,
                  segment_bytes=4096, retention_bytes=None) as lg:
        done = threading.Event()

        def reader() -> None:
            while not done.is_set() or lg.latest < total:
                latest = lg.latest
                got = lg.read(0, latest)
                if got != [b"%d" % i for i in range(len(got))] or len(got) != latest:
                    errors.append(f"bad read of {latest}: {len(got)} records")
                    return
                if latest >= total:
                    return

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        for i in range(0, total, 50):
            lg.append_many([b"%d" % j for j in range(i, i + 50)])
        lg.flush()
        done.set()
        for t in threads:
            t.join(timeout=30)
    assert errors == []
