"""Replay parsing: published dataset shapes, aliases, --map/--time-format/--encoding,
snowflake times, malformed lines with their line numbers, pacing."""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streamwatch.contracts.events import format_ts, parse_ts
from streamwatch.producers.tweets.replay import (
    MalformedRecord,
    ReplayConfig,
    ReplayFileError,
    ReplaySource,
    TweetFile,
    check_encoding,
    check_file,
    parse_column_map,
    parse_time,
    read_records,
    snowflake_time,
)
from tests.tweet_shapes import AIRLINE_HEADER, SHAPES, Src, snowflake, tags_of, v11_status

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
    '"just a string"',  # 7: not an object
    '{"id": 6, "timestamp": 1795000000123, "author": "fay", "content": "epoch ms"}',
    '{"id": "7", "created_at": "2026-11-20T10:15:08Z", "user": "gus"}',  # 9: no text
])


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def split(path: Path, **options: Any) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    good, bad = [], []
    for line_no, item in read_records(path, **options):
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
    with caplog.at_level(logging.INFO, logger="streamwatch.producers.tweets.replay"):
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


def test_a_resumed_replay_skips_the_tweets_the_feed_holds_and_keeps_their_times(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "t.jsonl", JSONL)
    anchor = 1_795_000_000_000.0
    whole = [t for b in run_source(ReplaySource(
        ReplayConfig(path, speed=0, rebase_time=True, rebase_anchor_ms=anchor),
        registry=CollectorRegistry())) for t in b]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="streamwatch.producers.tweets.replay"):
        rest = [t for b in run_source(ReplaySource(
            ReplayConfig(path, speed=0, rebase_time=True, rebase_anchor_ms=anchor, skip=2),
            registry=CollectorRegistry())) for t in b]
    assert rest == whole[2:]
    # the malformed lines before the second tweet were logged by the start that read them
    logged = [r.line for r in caplog.records if r.msg == "malformed line skipped"]
    assert logged == [6, 7, 9]


# --- published dataset shapes ------------------------------------------------------------

T0 = datetime(2026, 11, 20, 10, 15, 3, tzinfo=UTC)
SHARED = [
    Src(snowflake(T0, 1), T0, "ada", "en", "Launch day! #Spark #streaming #spark"),
    Src(snowflake(T0 + timedelta(seconds=7), 2), T0 + timedelta(seconds=7), "bob", "es",
        'He said "hi, there" #Spark'),
    Src(snowflake(T0 + timedelta(minutes=3), 3), T0 + timedelta(minutes=3), "cy", "fr",
        "Café crème #Café #data, 50% off"),
    Src(snowflake(T0 + timedelta(minutes=4), 4), T0 + timedelta(minutes=4), "dora", "de",
        "no tags here, #2026 is no tag but #x_y is"),
]


def tag_counts(tweets: list[dict]) -> Counter[str]:
    return Counter(tag for t in tweets for tag in tags_of(t["text"]))


@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_published_shape_replays_as_written(tmp_path: Path, shape: str) -> None:
    name, writer = SHAPES[shape]
    path = tmp_path / name
    expected = writer(path, SHARED)
    check_file(path)  # accepted as it is
    good, bad = split(path)
    assert bad == []
    got = [t for _, t in good]
    assert [t["id"] for t in got] == [str(s.id) for s in SHARED]
    assert [t["text"] for t in got] == [s.text for s in SHARED]
    assert [t["created_at"] for t in got] == [format_ts(s.when) for s in SHARED]
    assert got == expected
    assert tag_counts(got) == Counter({"spark": 2, "streaming": 1, "café": 1, "data": 1,
                                       "x_y": 1})


def test_airline_sentiment_csv_columns_and_pacific_times(tmp_path: Path) -> None:
    path = tmp_path / "Tweets.csv"
    path.write_text(
        ",".join(AIRLINE_HEADER) + "\n"
        "570306133677760513,neutral,1.0,,,Virgin America,,cairdin,,0,"
        "@VirginAmerica What @dhepburn said.,,2015-02-24 11:35:52 -0800,,"
        "Eastern Time (US & Canada)\n")
    assert check_file(path)["columns"] == {"id": "tweet_id", "created_at": "tweet_created",
                                           "user": "name", "text": "text"}
    good, bad = split(path)
    assert bad == [] and good == [(2, {
        "id": "570306133677760513", "created_at": "2015-02-24T19:35:52.000Z",
        "user": "cairdin", "lang": "und", "text": "@VirginAmerica What @dhepburn said."})]


def test_sentiment140_latin1_cr_lines_and_zone_names(tmp_path: Path) -> None:
    rows = [
        ["0", "1467810369", "Mon Apr 06 22:19:45 PDT 2009", "NO_QUERY", "_TheSpecialOne_",
         "@switchfoot Awww, that's a bummer. #fail"],
        ["4", "1467810672", "Mon May 11 03:17:40 UTC 2009", "NO_QUERY", "scotthamilton",
         "Très bien, #Café! \"quoted\""],
        ["4", "1467810917", "someday", "NO_QUERY", "mattycus", "bad date"],  # line 3
        ["2", "1467811184", "Mon May 11 03:17:41 UTC 2009", "NO_QUERY", "", "no user"],
    ]
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\r").writerows(rows)
    path = tmp_path / "training.1600000.processed.noemoticon.csv"
    path.write_bytes(buf.getvalue().encode("latin-1"))
    assert b"\xe8" in path.read_bytes() and b"\n" not in path.read_bytes()
    assert check_file(path)["layout"] == "sentiment140"
    good, bad = split(path)
    assert [(n, t["id"], t["created_at"], t["user"]) for n, t in good] == [
        (1, "1467810369", "2009-04-07T05:19:45.000Z", "_TheSpecialOne_"),
        (2, "1467810672", "2009-05-11T03:17:40.000Z", "scotthamilton"),
        (4, "1467811184", "2009-05-11T03:17:41.000Z", "unknown"),  # a missing user
    ]
    assert good[1][1]["text"] == 'Très bien, #Café! "quoted"'
    assert [n for n, _ in bad] == [3]
    source = TweetFile(path)
    list(source.records())
    assert source.latin1_lines == 1  # only the line with a non-ASCII byte


def test_crlf_and_cr_line_endings_number_lines_alike(tmp_path: Path) -> None:
    rows = ["id,created_at,text", "1,2026-11-20T10:15:03Z,a #x", "2,never,b",
            "3,2026-11-20T10:15:05Z,c"]
    for eol in ("\n", "\r\n", "\r"):
        path = tmp_path / "t.csv"
        path.write_bytes(eol.join(rows).encode() + eol.encode())
        good, bad = split(path)
        assert [(n, t["id"]) for n, t in good] == [(2, "1"), (4, "3")], repr(eol)
        assert [n for n, _ in bad] == [3]


def test_cr_split_across_read_chunks(tmp_path: Path) -> None:
    from streamwatch.producers.tweets import replay

    path = tmp_path / "t.jsonl"
    line = orjson.dumps({"id": "1", "created_at": "2026-11-20T10:15:03Z", "text": "x"})
    pad = (1 << 20) - len(line) - 1  # the CR of a CRLF ends the first 1 MiB read
    path.write_bytes(line + b" " * pad + b"\r\n" + line.replace(b'"1"', b'"2"') + b"\r\n")
    with path.open("rb") as f:
        lines = list(replay._raw_lines(f))
    assert len(lines) == 2 and lines[0].endswith(b"\r\n")
    assert [t["id"] for _, t in split(path)[0]] == ["1", "2"]


def test_v11_truncated_status_takes_the_extended_text_and_entity_tags(tmp_path: Path) -> None:
    status = {
        "created_at": "Wed Oct 10 20:19:24 +0000 2018", "id": 1050118621198921728,
        "id_str": "1050118621198921728", "truncated": True, "lang": "en",
        "text": "To make room for more expression, we will now count all emojis as equal"
                "\u2026 https://t.co/xyz",
        "user": {"id": 6253282, "screen_name": "TwitterAPI", "name": "Twitter API"},
        "entities": {"hashtags": []},
        "extended_tweet": {"full_text": "To make room for more expression #emoji #Twitter",
                           "entities": {"hashtags": [{"text": "emoji"}, {"text": "Twitter"},
                                                     {"text": "api"}]}},
    }
    cut = {**status, "id_str": "1050118621198921729", "extended_tweet": None,
           "text": "Cut short #one", "entities": {"hashtags": [{"text": "one"},
                                                              {"text": "onetwo"}]}}
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps(status) + b"\n" + orjson.dumps(cut) + b"\n")
    got = [t for _, t in split(path)[0]]
    assert got[0] == {"id": "1050118621198921728", "created_at": "2018-10-10T20:19:24.000Z",
                      "user": "TwitterAPI", "lang": "en",
                      "text": "To make room for more expression #emoji #Twitter #api"}
    assert got[1]["text"] == "Cut short #one #onetwo"  # a tag the truncation hid


def test_v2_lines_without_includes_and_a_response_per_line(tmp_path: Path) -> None:
    when = datetime(2026, 11, 20, 10, 15, 3, 250_000, tzinfo=UTC)
    bare = {"id": str(snowflake(when)), "text": "bare #v2", "author_id": "2244994945",
            "edit_history_tweet_ids": [str(snowflake(when))]}  # the default fields only
    response = {"data": [{"id": "1", "text": "a #x", "author_id": "7",
                          "created_at": "2026-11-20T10:15:04.000Z"},
                         {"id": "2", "author_id": "8", "created_at": "2026-11-20T10:15:05Z"},
                         {"id": "3", "text": "c #x", "author_id": "9",
                          "created_at": "2026-11-20T10:15:06.000Z"}],
                "includes": {"users": [{"id": "7", "username": "ada"}]}}
    path = tmp_path / "t.jsonl"
    path.write_bytes(orjson.dumps(bare) + b"\n" + orjson.dumps(response) + b"\n")
    good, bad = split(path)
    assert [(n, t["id"], t["user"], t["created_at"]) for n, t in good] == [
        (1, bare["id"], "2244994945", "2026-11-20T10:15:03.250Z"),  # time from the id
        (2, "1", "ada", "2026-11-20T10:15:04.000Z"), (2, "3", "9", "2026-11-20T10:15:06.000Z"),
    ]
    assert bad == [(2, "data[1]: text: must be a string")]


def test_snowflake_ids_give_the_time_when_there_is_no_time_column(tmp_path: Path) -> None:
    # Twitter's own example: id 1050118621198921728 was posted Wed Oct 10 20:19:24 +0000 2018
    assert snowflake_time(1050118621198921728) == "2018-10-10T20:19:24.211Z"
    # the Airline Sentiment CSV says tweet 570306133677760513 was created 2015-02-24 11:35:52 -0800
    assert snowflake_time("570306133677760513") == "2015-02-24T19:35:52.701Z"
    assert snowflake_time("1467810369") is None  # a 2009 id: sequential, carries no time
    assert snowflake_time("12abc") is None
    path = tmp_path / "ids.csv"
    path.write_text("tweet_id,text\n1050118621198921728,hello #a\n1467810369,old\n"
                    "570306133677760513,later #b\n")
    good, bad = split(path)
    assert [(n, t["created_at"], t["user"]) for n, t in good] == [
        (2, "2018-10-10T20:19:24.211Z", "unknown"), (4, "2015-02-24T19:35:52.701Z", "unknown")]
    assert [n for n, _ in bad] == [3] and "not a snowflake" in bad[0][1]


def test_map_time_format_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes("posted;who;msg;ref\n"
                     "20/11/2026 10:15,ada,Ol\xe1 #Mundo,77\n".replace(";", ",")
                     .encode("cp1252") + "21/11/2026 09:00,bob,\u20ac5 #deal,78\n"
                     .encode("cp1252") + b"xx/11/2026 09:00,cy,late,79\n")
    cmap = parse_column_map("created_at=posted, user=who,text=msg,id=ref")
    assert cmap == {"created_at": "posted", "user": "who", "text": "msg", "id": "ref"}
    good, bad = split(path, column_map=cmap, time_format="%d/%m/%Y %H:%M", encoding="cp1252")
    assert [(t["id"], t["created_at"], t["user"], t["text"]) for _, t in good] == [
        ("77", "2026-11-20T10:15:00.000Z", "ada", "Olá #Mundo"),
        ("78", "2026-11-21T09:00:00.000Z", "bob", "€5 #deal")]
    assert [n for n, _ in bad] == [4] and "--time-format" in bad[0][1]
    # auto reads a non-UTF-8 line as Latin-1, where 0x80 is a control character, not €
    good, _ = split(path, column_map=cmap, time_format="%d/%m/%Y %H:%M")
    assert good[1][1]["text"] == "\x805 #deal"


def test_map_by_column_number_for_a_headerless_file(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("x,1795000000,ada,first #a\nx,1795000001,bob,second\n")
    with pytest.raises(ReplayFileError, match=r"--map id=COLUMN,text=COLUMN"):
        check_file(path)
    cmap = parse_column_map("id=2,created_at=2,user=3,text=4")
    assert check_file(path, column_map=cmap)["layout"] == "numbered"
    good, bad = split(path, column_map=cmap)
    assert bad == []
    assert [(n, t["id"], t["user"], t["text"]) for n, t in good] == [
        (1, "1795000000", "ada", "first #a"), (2, "1795000001", "bob", "second")]
    with pytest.raises(ReplayFileError, match="rows have only 4 columns"):
        check_file(path, column_map={"text": "9", "id": "1"})


def test_map_on_json_keys_and_dotted_paths(tmp_path: Path) -> None:
    path = tmp_path / "scrape.jsonl"
    path.write_bytes(orjson.dumps({"url": "https://x.com/a/status/9", "tweetId": "9",
                                   "date": "2026-11-20T10:15:03Z", "body": {"t": "hi #x"},
                                   "author": {"handle": "ada"}}) + b"\n")
    good, bad = split(path, column_map=parse_column_map(
        "id=tweetId,text=body.t,user=author.handle"))
    assert bad == [] and good[0][1] == {"id": "9", "created_at": "2026-11-20T10:15:03.000Z",
                                        "user": "ada", "lang": "und", "text": "hi #x"}


def test_undecodable_lines_under_a_named_encoding_are_malformed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    good_line = orjson.dumps({"id": "1", "created_at": "2026-11-20T10:15:03Z", "text": "ok"})
    path.write_bytes(good_line + b"\n" + good_line.replace(b"ok", b"\xff") + b"\n")
    good, bad = split(path, encoding="utf-8")
    assert [n for n, _ in good] == [1]
    assert len(bad) == 1 and bad[0][0] == 2 and "not valid utf-8" in bad[0][1]


@pytest.mark.parametrize(("text", "error"), [
    ("text", "is not FIELD=COLUMN"), ("body=x", "'body' is not a tweet field"),
    ("text=a,text=b", "mapped twice"), ("text=0", "start at 1")])
def test_bad_map_is_refused_with_the_form(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_column_map(text)


def test_encodings_that_move_ascii_bytes_are_refused() -> None:
    assert check_encoding("LATIN-1") == "iso8859-1"
    with pytest.raises(ValueError, match="iconv -f utf-16"):
        check_encoding("utf-16")
    with pytest.raises(ValueError, match="not an encoding"):
        check_encoding("klingon")


def test_a_broken_first_line_is_not_taken_for_a_document(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"id": "1", "created_at": \n' + "\n".join(JSONL_GOOD) + "\n")
    good, bad = split(path)
    assert [n for n, _ in bad] == [1] and [n for n, _ in good] == [2, 3]


JSONL_GOOD = [orjson.dumps({"id": str(i), "created_at": "2026-11-20T10:15:03Z",
                            "text": f"t{i}"}).decode() for i in (2, 3)]


@pytest.mark.parametrize("first", ['{"id": "1", "crea', '{"id": "1", "created_at": '])
def test_a_cut_first_line_is_malformed_and_the_rest_is_read(tmp_path: Path, first: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(first + "\n" + "\n".join(JSONL_GOOD) + "\n")
    good, bad = split(path)
    assert [n for n, _ in bad] == [1] and [t["id"] for _, t in good] == ["2", "3"]


def test_a_pretty_printed_array_of_v11_statuses(tmp_path: Path) -> None:
    path = tmp_path / "timeline.json"
    statuses = [v11_status(s) for s in SHARED[:2]] + [{"id_str": "9", "text": "no time"}]
    path.write_text(json.dumps(statuses, indent=4))
    good, bad = split(path)
    assert [t["id"] for _, t in good] == [str(s.id) for s in SHARED[:2]]
    assert len(bad) == 1 and bad[0][0] == 1 and bad[0][1].startswith("created_at: missing")


def test_blank_lines_before_the_header(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("\n\ntweet_id,text\n1050118621198921728,hi\n")
    assert check_file(path)["layout"] == "header"
    assert [(n, t["id"]) for n, t in split(path)[0]] == [(4, "1050118621198921728")]


def test_an_array_line_gives_each_element_and_refuses_nesting(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    deep = "[" * 900 + "]" * 900  # within orjson's depth limit, beyond a recursive reader
    path.write_text(f'[{deep}, {{"id_str": "1050118621198921728", "text": "x #y"}}]\n')
    good, bad = split(path)
    assert [(n, t["id"], t["created_at"]) for n, t in good] == [
        (1, "1050118621198921728", "2018-10-10T20:19:24.211Z")]
    assert bad == [(1, "[0]: must be a JSON object")]
