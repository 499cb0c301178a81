"""How many card buckets a fraud checkpoint uses, and where that is recorded.

Key concepts:
- The bucket count is part of the plan (``pmod(xxhash64(card_id), N)`` groups
  the transactions) and of every bucket's state, so it is fixed for a
  checkpoint; the processor refuses a state built with another count.
- The default for a new checkpoint is 8. Each bucket costs the stateful
  operator a fixed ~10 ms of Python per micro-batch (a state round trip, the
  detector's per-call work, an output frame), so 32 buckets spent ~0.3 s of
  Python work a batch (summed over its tasks) on overhead; at 5,000 tx/s, 8
  buckets cut the median end-to-end alert latency from 1.37 s to 0.96 s
  (docs/benchmarks.md).
- ``<checkpoint>/fraud-buckets.json`` records the count once a micro-batch
  has run with it, so a restart without ``--buckets`` uses the checkpoint's
  own count. A checkpoint on an object store (a URI) cannot be read from
  Python: a restart of one made with another count than the default must
  repeat ``--buckets`` (the processor refuses a mismatch by name).

Usage::

    n = resolve(settings.checkpoint_path, settings.buckets)   # None = not given
    ...                                                       # after the first micro-batch:
    record(settings.checkpoint_path, n)
"""

from __future__ import annotations

import json

from streamwatch.processor.io.files import local_path, write_atomically

DEFAULT = 8
RECORD = "fraud-buckets.json"
QUERY_DIR = "alerts"  # the fraud query's own checkpoint, under the job's --checkpoint


def recorded(checkpoint: str) -> int | None:
    """The count recorded in ``checkpoint``, or None."""
    root = local_path(checkpoint)
    if root is None or not (root / RECORD).exists():
        return None
    try:
        value = json.loads((root / RECORD).read_bytes())["buckets"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{root / RECORD} is unreadable ({exc}); it records the checkpoint's "
                         "card buckets: fix it to {\"buckets\": N} or pass --buckets N") from exc
    if not isinstance(value, int) or value < 1:
        raise ValueError(f"{root / RECORD}: buckets must be a positive integer, got {value!r}; "
                         "fix it to {\"buckets\": N} or pass --buckets N")
    return value


def resolve(checkpoint: str, given: int | None) -> int:
    """``given`` (``--buckets``) if set, else the checkpoint's count, else ``DEFAULT``."""
    if given is not None:
        return given
    stored = recorded(checkpoint)
    return DEFAULT if stored is None else stored


def record(checkpoint: str, buckets: int) -> None:
    """Record ``buckets`` for ``checkpoint`` (a no-op when it is recorded already)."""
    root = local_path(checkpoint)
    if root is None or recorded(checkpoint) == buckets:
        return
    root.mkdir(parents=True, exist_ok=True)
    write_atomically(root / RECORD, json.dumps({"buckets": buckets}).encode() + b"\n")
