"""``streamwatch process <job> --help`` answers without importing PySpark."""

from __future__ import annotations

import subprocess
import sys

import pytest

from streamwatch.processor import cli

PROBE = """
import contextlib, io, sys
from streamwatch import cli
with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
    cli.main(["process", sys.argv[1], "--help"])
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("pyspark", "py4j", "pandas"))
print(",".join(heavy) or "none")
"""


def _jobs() -> list[str]:
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return sorted(action.choices)
    raise AssertionError("streamwatch process has no job subcommands")


@pytest.mark.parametrize("job", _jobs())
def test_job_help_does_not_import_spark(job: str) -> None:
    # a fresh interpreter: this test process may have imported PySpark already
    out = subprocess.run([sys.executable, "-c", PROBE, job], capture_output=True, text=True,
                         timeout=60, check=True).stdout.strip()
    assert out == "none", f"`streamwatch process {job} --help` imported {out}"
