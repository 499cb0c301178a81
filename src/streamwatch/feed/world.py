"""A producer's *world*: the seed and parameters its feed was generated with.

A simulated feed is only replayable if a restart continues the same world. A
restart that drew a fresh seed would build a new population under the same
ids (card ``c-000042`` living in another city with another phone), and every
stateful consumer resumed from its checkpoint would see those ids jump — the
fraud job raised thousands of false alerts that way.

So a producer records its world next to its feed logs, in
``<data-dir>/feeds/<producer>.world.json``, before it emits anything:

- the first start writes the record (a fresh seed is drawn here, ``now`` is
  resolved to a fixed time), and everything it generates derives from it;
- a restart reads it: flags left unset (``--seed``, ``--start-time now``) take
  the recorded values, flags that differ from the record are refused with a
  message naming each one, unless ``--new-world`` asks for a new feed;
- a new world — ``--new-world``, or feed logs that hold data no record
  describes (written before worlds were recorded) — gets the next *epoch*.
  Producers put the epoch into their entity ids (``c-e2-000042``), so state
  built from another world can never match one of its ids. Epoch 1 ids carry
  no tag, so the first world of a data directory keeps the plain ids.

The record also holds ``first_offsets``: the offset (from 0, as the feed API
counts) of the world's first record in each of the producer's feeds. A
producer resumes by regenerating the world from its seed and skipping the
records each feed already holds (the generators are deterministic in the count
of records, not in time), so a restarted producer emits what an uninterrupted
one would have.

The file is replaced atomically (temporary file, fsync, rename), so a crash
leaves either the old record or the new one.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: bumped when the meaning of a record's fields changes
FORMAT = 1


class WorldError(ValueError):
    """The record and the flags disagree, or the record cannot be read."""


@dataclass(frozen=True)
class World:
    producer: str
    epoch: int
    #: flag name (``--rate``) -> value, as JSON values
    params: dict[str, Any]
    #: feed -> offset of this world's first record in it (the feed's ``latest`` then)
    first_offsets: dict[str, int]
    format: int = FORMAT

    @property
    def first_number(self) -> int:
        """Where the world numbers its records (``t-000000101``) from: past every feed's
        earlier records, so ids stay unique across worlds."""
        return max(self.first_offsets.values(), default=0) + 1

    def held(self, feed: str, latest_offset: int) -> int:
        """Records of this world that ``feed`` already holds, its latest offset given."""
        return max(0, latest_offset - self.first_offsets[feed])


def id_tag(prefix: str, epoch: int) -> str:
    """The id prefix of an entity kind: ``c-`` in epoch 1, ``c-e2-`` in epoch 2."""
    return f"{prefix}-" if epoch == 1 else f"{prefix}-e{epoch}-"


def record_path(data_dir: str | os.PathLike[str], producer: str) -> Path:
    return Path(data_dir) / "feeds" / f"{producer}.world.json"


def fresh_seed() -> int:
    return secrets.randbelow(2**31)


def read(data_dir: str | os.PathLike[str], producer: str) -> World | None:
    path = record_path(data_dir, producer)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise WorldError(
            f"cannot read {path}: {exc}. It records the seed and flags the feeds under "
            f"{path.parent} were generated with; restore it, or start a new world with "
            "--new-world (a stateful job should then get a new --checkpoint too)") from None
    try:
        world = World(producer=doc["producer"], epoch=int(doc["epoch"]),
                      params=dict(doc["params"]),
                      first_offsets={str(k): int(v) for k, v in doc["first_offsets"].items()},
                      format=int(doc.get("format", FORMAT)))
    except (KeyError, TypeError, ValueError) as exc:
        raise WorldError(f"{path} is not a world record ({exc!r} missing or wrong); restore "
                         "it or start a new world with --new-world") from None
    if world.format > FORMAT:
        raise WorldError(f"{path} was written by a newer streamwatch (format {world.format}); "
                         "upgrade, or start a new world with --new-world")
    return world


def write(data_dir: str | os.PathLike[str], world: World) -> None:
    path = record_path(data_dir, world.producer)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(asdict(world), fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def differences(recorded: dict[str, Any], asked: dict[str, Any]) -> list[str]:
    """``--flag RECORDED (this run: ASKED)`` for every flag whose values differ."""
    out = []
    for flag in sorted(set(recorded) | set(asked)):
        if flag in asked and asked[flag] is not None and _norm(recorded.get(flag)) != _norm(
                asked[flag]):
            out.append(f"{flag} {_show(recorded.get(flag))} (this run: {_show(asked[flag])})")
    return out


def _norm(value: Any) -> Any:
    # compared as the record holds them: JSON values (a tuple is a list)
    return json.loads(json.dumps(value, sort_keys=True))


def _show(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, dict):
        return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in value.items())
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def resume_or_create(data_dir: str | os.PathLike[str], producer: str, asked: dict[str, Any], *,
                     defaults: dict[str, Any], latest: dict[str, int], new_world: bool = False
                     ) -> tuple[World, bool]:
    """The world this start continues (and True), or a new one it recorded (and False).

    ``asked``: flag -> value from this run's command line, None where the flag was left
    to the record (``--seed`` unset, ``--start-time now``). ``defaults``: the value a
    *new* world takes for each of those (a fresh seed, the current time).
    ``latest``: feed -> its latest offset (0 when empty), for each of the producer's feeds.
    Raises :class:`WorldError` with the fix when the flags differ from the record.
    """
    recorded = read(data_dir, producer)
    if recorded is not None and not new_world:
        diff = differences(recorded.params, asked)
        if diff:
            path = record_path(data_dir, producer)
            raise WorldError(
                "the feeds under " + str(path.parent) + " continue a world generated with "
                "other flags: " + "; ".join(diff) + ". Restart with the recorded flags (they "
                f"are in {path}) to continue it, or pass --new-world to start a new one "
                "(its ids get a new epoch; the feeds keep their earlier records)")
        for feed, offset in latest.items():
            first = recorded.first_offsets.get(feed)
            if first is None or offset < first:
                raise WorldError(
                    f"the feed {feed!r} under {record_path(data_dir, producer).parent} ends at "
                    f"offset {offset}, before the recorded world's first record ({first}): "
                    "the feed logs were replaced or truncated. Restore them, or start a new "
                    "world with --new-world")
        return recorded, True
    # feeds that hold records but no world record (it was removed): a new world after them
    epoch = recorded.epoch + 1 if recorded is not None else 2 if any(latest.values()) else 1
    params = {flag: (defaults.get(flag) if value is None else value)
              for flag, value in asked.items()}
    world = World(producer=producer, epoch=epoch, params=_norm(params),
                  first_offsets=dict(latest))
    write(data_dir, world)
    return world, False
