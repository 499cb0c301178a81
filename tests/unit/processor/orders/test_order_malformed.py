"""The orders job dead-letters malformed lines from its own batch (no side query)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa

from streamwatch.processor.io.sinks import JsonlSink
from streamwatch.processor.orders.job import MALFORMED, _MalformedLines


def test_malformed_lines_leave_the_batch_for_the_dead_letter_in_the_side_query_format(
        tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, prefix="dead-letter")
    lines = _MalformedLines("file:/data/orders", sink)
    batch = pa.table({"event_id": ["a", None, "b", None],
                      MALFORMED: [None, "{not json", None, '{"status": 1}']})
    events = lines.split(7, batch)
    assert events.column_names == ["event_id"]
    assert events["event_id"].to_pylist() == ["a", "b"]
    written = [orjson.loads(x) for x in sink.path_for(7).read_bytes().splitlines()]
    assert written == [
        {"source": "file:/data/orders", "value": "{not json", "batch_id": 7},
        {"source": "file:/data/orders", "value": '{"status": 1}', "batch_id": 7}]


def test_a_batch_without_malformed_lines_writes_no_dead_letter(tmp_path: Path) -> None:
    sink = JsonlSink(tmp_path, prefix="dead-letter")
    events = _MalformedLines("file:/data/orders", sink).split(
        3, pa.table({"event_id": ["a"], MALFORMED: pa.array([None], pa.string())}))
    assert events.column_names == ["event_id"] and events.num_rows == 1
    assert not sink.path_for(3).exists()
