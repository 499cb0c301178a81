"""Atomic file writes for the processor's side outputs (sink files, rules snapshot, panes),
and the local path of a checkpoint.

Readers and a restarted driver must never see half a file: the bytes go to a
temporary file in the same directory, are fsynced, and replace the target by
rename, which is atomic on one filesystem.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step; a failed write leaves no temporary file."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def local_path(location: str) -> Path | None:
    """A checkpoint location as a local path; None for an object-store URI (``s3a://``...),
    which Python cannot read."""
    if "://" in location and not location.startswith("file://"):
        return None
    return Path(location.removeprefix("file://"))
