"""Replay parsing: formats, aliases, malformed lines with their line numbers, pacing."""

from __future__ import annotations

import gzip
import logging
import threading
import time
from pathlib import Path

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streamwatch.events import parse_ts
from tweet_ingester.replay import (
    MalformedRecord,
    ReplayConfig,
    ReplayFileError,
    ReplaySource,
    check_file,
    parse_time,
    read_records,
)

JSONL = "\n".join([
    '{"id": "1", "created_at": "2026-11-20T10:15:03.120Z", "user": "ada", "lang": "en", '
    '"text": "Launch day! #spark"}',
    "",  # blank lines are skipped, not malformed
    '{"id": "2", "created_at": "2026-11-20T10:15:04Z", "user": "bob", "lang": "es"',  # 3: cut
    '{"id_str": "3", "created_at": "Wed Nov 20 10:15:05 +0000 2026", '
    '"user": {"screen_name": "cy"}, "lang": "fr", "full_text": "v1.1 #Flink"}',
    '{"data": {"id": "4", "text": "v2 #kafka", "author_id": "9", "lang": "de", '
    '"created_at": "2026-11-20T10:15:06.000Z"}, "includes": {"users": '
    '[{"id": "9", "username": "dora"}]}}',
    '{"id": "5", "created_at": "yesterday", "user": "eve", "text": "bad time"}',  # 6
    '[1, 2]',  # 7: not an object
    '{"id": 6, "timestamp": 1795000000123, "author": "fay", "content": "epoch ms"}',
    '{"id": "7", "created_at": "2026-11-20T10:15:08Z", "user": "gus"}',  # 9: no text
])


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def split(path: Path) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    good, bad = [], []
    for line_no, item in read_records(path):
        if isinstance(item, MalformedRecord):
            bad.append((line_no, str(item)))
        else:
            good.append((line_no, item))
    return good, bad


def test_jsonl_shapes_and_malformed_line_numbers(tmp_path: Path) -> None:
    good, bad = split(write(tmp_path, "t.jsonl", JSONL))
    assert [(n, t["id"], t["user"], t["lang"]) for n, t in good] == [
        (1, "1", "ada", "en"), (4, "3", "cy", "fr"), (5, "4", "dora", "de"),
        (8, "6", "fay", "und"),
    ]
    assert good[1][1]["created_at"] == "2026-11-20T10:15:05.000Z"
    assert good[3][1]["created_at"] == "2026-11-18T11:06:40.123Z"
    assert [n for n, _ in bad] == [3, 6, 7, 9]
    reasons = dict(bad)
    assert "JSON" in reasons[3]
    assert reasons[6].startswith("created_at")
    assert reasons[9].startswith("text")


def test_csv_with_aliases_quotes_and_a_short_row(tmp_path: Path) -> None:
    csv_text = (
        "tweet_id,date,author,language,tweet\n"
        '10,2026-11-20 10:15:03,ada,en,"hello, world #Spark"\n'
        '11,2026-11-20T10:15:04Z,bob,es,"two\nlines #spark"\n'  # a quoted newline
        "12,2026-11-20T10:15:05Z,cy\n"  # line 5: too few fields
        "13,not a date,dan,en,text\n"  # line 6
        "14,1795000000,eve,,no language\n"
    )
    good, bad = split(write(tmp_path, "t.csv", csv_text))
    assert [(n, t["id"], t["user"], t["lang"]) for n, t in good] == [
        (2, "10", "ada", "en"), (3, "11", "bob", "es"), (7, "14", "eve", "und")]
    assert good[0][1]["text"] == "hello, world #Spark"
    assert good[0][1]["created_at"] == "2026-11-20T10:15:03.000Z"
    assert good[1][1]["text"] == "two\nlines #spark"
    assert [n for n, _ in bad] == [5, 6]


def test_csv_without_a_text_column_is_refused_with_the_accepted_names(tmp_path: Path) -> None:
    path = write(tmp_path, "t.csv", "id,created_at,user\n1,2026-11-20T10:15:03Z,ada\n")
    with pytest.raises(ReplayFileError, match=r"no column for text.*full_text, text, tweet"):
        check_file(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReplayFileError, match="does not exist"):
        check_file(tmp_path / "nope.jsonl")


def test_gzip_and_format_sniffing(tmp_path: Path) -> None:
    path = tmp_path / "recorded.data.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(JSONL)
    good, bad = split(path)
    assert len(good) == 4 and len(bad) == 4


@pytest.mark.parametrize("value", ["2026-11-20T10:15:03+02:00", "Fri Nov 20 08:15:03 +0000 2026",
                                   "2026-11-20 08:15:03", 1795162503, "1795162503000"])
def test_parse_time_accepts_common_shapes(value: object) -> None:
    assert parse_ts(parse_time(value)).strftime("%H:%M:%S") == "08:15:03"


def run_source(source: ReplaySource) -> list[list[dict]]:
    batches: list[list[dict]] = []
    stop = threading.Event()
    runner = threading.Thread(target=source.run, daemon=True, args=(
        lambda feed, p: batches.append([orjson.loads(x) for x in p]), stop))
    runner.start()
    runner.join(20)
    assert not runner.is_alive()
    return batches


def test_source_counts_and_logs_malformed_lines(tmp_path: Path,
                                                caplog: pytest.LogCaptureFixture) -> None:
    registry = CollectorRegistry()
    source = ReplaySource(ReplayConfig(write(tmp_path, "t.jsonl", JSONL), speed=0),
                          registry=registry)
    with caplog.at_level(logging.INFO, logger="tweet_ingester.replay"):
        batches = run_source(source)
    assert len(batches) == 1  # speed 0: as fast as possible, batched
    assert [t["id"] for t in batches[0]] == ["1", "3", "4", "6"]
    assert registry.get_sample_value("streamwatch_replay_malformed_lines_total") == 4
    assert registry.get_sample_value("streamwatch_replay_records_total") == 4
    logged = [r.line for r in caplog.records if r.msg == "malformed line skipped"]
    assert logged == [3, 6, 7, 9]
    summary = next(r for r in caplog.records if r.msg == "replay finished")
    assert summary.malformed_line_numbers == [3, 6, 7, 9] and summary.records == 4


def test_source_paces_by_created_at(tmp_path: Path) -> None:
    lines = [orjson.dumps({"id": str(i), "created_at": f"2026-11-20T10:15:{i:02d}.000Z",
                           "user": "u", "lang": "en", "text": f"t{i}"}).decode()
             for i in range(4)]
    path = write(tmp_path, "t.jsonl", "\n".join(lines))
    # 1 s apart in event time, replayed at 20x: three waits, so four separate emits
    source = ReplaySource(ReplayConfig(path, speed=20, rebase_time=True),
                          registry=CollectorRegistry())
    before = time.time()
    batches = run_source(source)
    assert [[t["id"] for t in b] for b in batches] == [["0"], ["1"], ["2"], ["3"]]
    first = parse_ts(batches[0][0]["created_at"]).timestamp()
    last = parse_ts(batches[3][0]["created_at"]).timestamp()
    assert first >= before - 1  # rebased to "now"
    assert last - first == pytest.approx(3 / 20, abs=0.01)  # event-time gaps scaled by speed
