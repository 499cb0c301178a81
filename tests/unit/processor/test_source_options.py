"""``jobs.source_options``: each per-trigger limit reaches only the source kind that has it."""

from __future__ import annotations

import pytest

from streamwatch.processor.cli import job_args
from streamwatch.processor.jobs import source_options


@pytest.mark.parametrize(("source", "want"), [
    ("feed:http://127.0.0.1:7101/tweets", {"maxRecordsPerTrigger": "500"}),
    ("file:/tmp/tweets", {"maxFilesPerTrigger": "2"}),
    ("socket:127.0.0.1:7201", {}),
])
def test_limits_go_to_their_source_kind(source: str, want: dict[str, str]) -> None:
    args = job_args("hashtags", ["--source", source, "--max-records-per-trigger", "500",
                                 "--max-files-per-trigger", "2"])
    assert source_options(args) == want


def test_no_limit_by_default() -> None:
    assert source_options(job_args("hashtags", ["--source", "file:/tmp/tweets"])) == {}
