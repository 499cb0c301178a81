"""The card bucket count of a fraud checkpoint: default, record, flag."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamwatch.processor.fraud import buckets


def _used_checkpoint(root: Path) -> None:
    (root / buckets.QUERY_DIR / "offsets").mkdir(parents=True)
    (root / buckets.QUERY_DIR / "offsets" / "0").write_text("v1\n")


def test_a_new_checkpoint_gets_the_default_and_keeps_it(tmp_path: Path) -> None:
    ck = str(tmp_path / "ck")
    assert buckets.resolve(ck, None) == buckets.DEFAULT
    buckets.record(ck, buckets.DEFAULT)
    _used_checkpoint(tmp_path / "ck")
    assert buckets.resolve(ck, None) == buckets.DEFAULT


def test_the_flag_wins_and_a_recorded_count_is_used_without_it(tmp_path: Path) -> None:
    ck = str(tmp_path)
    assert buckets.resolve(ck, 16) == 16
    buckets.record(ck, 16)
    _used_checkpoint(tmp_path)
    assert buckets.resolve(ck, None) == 16
    assert buckets.resolve(ck, 4) == 4  # the processor refuses it if the state disagrees
    buckets.record(ck, 4)  # recorded only after a batch ran with it
    assert buckets.resolve(ck, None) == 4


def test_object_store_checkpoints_get_the_default_and_record_nothing() -> None:
    assert buckets.resolve("s3a://bucket/ck", None) == buckets.DEFAULT
    assert buckets.resolve("s3a://bucket/ck", 16) == 16
    buckets.record("s3a://bucket/ck", 16)  # no local file to write: nothing happens
    assert buckets.resolve("s3a://bucket/ck", None) == buckets.DEFAULT


@pytest.mark.parametrize("content", ['{"buckets": 0}', '{"buckets": "8"}', "not json", "{}"])
def test_a_broken_record_is_a_clear_error(tmp_path: Path, content: str) -> None:
    (tmp_path / buckets.RECORD).write_text(content)
    with pytest.raises(ValueError, match=r"fraud-buckets\.json.*--buckets N"):
        buckets.resolve(str(tmp_path), None)
