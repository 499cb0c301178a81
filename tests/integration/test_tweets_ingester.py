"""``streamwatch tweets`` as a real process on 127.0.0.1: synthetic, replay and x-api.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import requests

from streamwatch.contracts.events import Tweet
from streamwatch.producers.tweets.synthetic import SyntheticConfig, TweetGenerator
from tests.integration.fake_xapi import Episode, FakeXApi, tweet_message
from tests.procs import ServiceProcess, free_port
from tests.tweet_shapes import Src, snowflake, write_sentiment140

pytestmark = pytest.mark.slow

class TweetsProcess(ServiceProcess):
    """``streamwatch tweets ARGS``."""

    def command(self) -> list[str]:
        return [sys.executable, "-m", self.module, "tweets", *self.args]


@pytest.fixture
def ports() -> tuple[int, int]:
    return free_port(), free_port()


def start(tmp_path: Path, ports: tuple[int, int], *args: str,
          env: dict[str, str] | None = None, wait: bool = True) -> TweetsProcess:
    http, sock = ports
    proc = TweetsProcess([*args, "--http-port", str(http), "--socket-port", str(sock),
                          "--data-dir", str(tmp_path / "data")],
                         tmp_path / "tweets.log", env=env).start()
    if wait:
        proc.wait_http(f"http://127.0.0.1:{http}/healthz")
    return proc


@pytest.fixture
def running() -> Iterator[list[TweetsProcess]]:
    procs: list[TweetsProcess] = []
    yield procs
    for p in procs:
        p.stop()


def wait_until(cond: Callable[[], bool], proc: ServiceProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met in {timeout}s:\n{proc.log()}")


def latest(http: int) -> int:
    return requests.get(f"http://127.0.0.1:{http}/v1/feeds/tweets/offsets", timeout=5).json()[
        "latest"]


def records(http: int, start: int, end: int) -> list[dict]:
    resp = requests.get(f"http://127.0.0.1:{http}/v1/feeds/tweets/records",
                        params={"start": start, "end": end}, timeout=10)
    resp.raise_for_status()
    return [orjson.loads(line) for line in resp.content.splitlines() if line]


def test_synthetic_serves_the_seeded_sequence(tmp_path: Path, ports: tuple[int, int],
                                              running: list[TweetsProcess]) -> None:
    http, sock = ports
    proc = start(tmp_path, ports, "--seed", "7", "--rate", "500")
    running.append(proc)
    wait_until(lambda: latest(http) >= 300, proc)
    got = records(http, 0, 300)
    expected = [orjson.loads(p) for p in TweetGenerator(SyntheticConfig(rate=500), 7)
                .next_payloads(300, int(time.time() * 1000))]

    def key(t: dict) -> tuple:
        return t["id"], t["user"], t["lang"], t["text"]

    assert [key(t) for t in got] == [key(t) for t in expected]
    with socket.create_connection(("127.0.0.1", sock), timeout=10) as s:
        line = s.makefile("rb").readline()
    Tweet.from_dict(orjson.loads(line))
    assert proc.stop() == 0


def test_a_restart_continues_the_same_synthetic_world(
        tmp_path: Path, ports: tuple[int, int], running: list[TweetsProcess]) -> None:
    """No --seed: the first start draws one and records it; the second continues its
    sequence, so the feed holds what one uninterrupted run would have emitted."""
    from streamwatch.feed import world as worlds

    http, _ = ports
    first = start(tmp_path, ports, "--rate", "1000", "--max-events", "300")
    wait_until(lambda: latest(http) >= 300, first)
    assert first.stop() == 0
    second = start(tmp_path, ports, "--rate", "1000", "--max-events", "700")
    running.append(second)
    wait_until(lambda: latest(http) >= 700, second)
    got = records(http, 0, 700)
    world = worlds.read(tmp_path / "data", "tweets")
    assert world is not None and world.epoch == 1
    expected = [orjson.loads(p) for p in TweetGenerator(
        SyntheticConfig(rate=1000), world.params["--seed"]).next_payloads(700, 0)]

    def key(t: dict) -> tuple:
        return t["id"], t["user"], t["lang"], t["text"]

    assert [key(t) for t in got] == [key(t) for t in expected]
    assert second.stop() == 0
    running.clear()
    refused = start(tmp_path, ports, "--rate", "50", wait=False)
    assert refused.proc is not None and refused.proc.wait(timeout=60) == 2
    assert "--rate 1000 (this run: 50)" in refused.log()
    refused.stop()


JSONL_LINES = [
    orjson.dumps({"id": str(100 + i), "created_at": f"2026-11-20T10:{i // 60:02d}:{i % 60:02d}Z",
                  "user": f"u{i}", "lang": "en", "text": f"tweet {i} #Spark"}).decode()
    for i in range(40)
]


def test_replay_jsonl_reports_malformed_lines_and_keeps_serving(
        tmp_path: Path, ports: tuple[int, int], running: list[TweetsProcess]) -> None:
    http, _ = ports
    lines = [*JSONL_LINES[:5], "{broken", *JSONL_LINES[5:], '{"id": "x"}']
    path = tmp_path / "tweets.jsonl"
    path.write_text("\n".join(lines) + "\n")
    proc = start(tmp_path, ports, "--source", f"replay:{path}", "--speed", "0")
    running.append(proc)
    wait_until(lambda: "replay finished" in proc.log(), proc)
    wait_until(lambda: latest(http) >= 40, proc)  # records show once group-committed
    assert latest(http) == 40
    assert [t["id"] for t in records(http, 0, 40)] == [str(100 + i) for i in range(40)]
    metrics = requests.get(f"http://127.0.0.1:{http}/metrics", timeout=5).text
    assert "streamwatch_replay_malformed_lines_total 2.0" in metrics
    logged = [orjson.loads(raw) for raw in proc.log().splitlines() if raw.startswith("{")]
    assert sorted(d["line"] for d in logged if d.get("msg") == "malformed line skipped") == [
        6, 42]
    assert proc.proc is not None and proc.proc.poll() is None  # still serving
    assert proc.stop() == 0


def test_replay_csv_exits_at_end(tmp_path: Path, ports: tuple[int, int],
                                 running: list[TweetsProcess]) -> None:
    path = tmp_path / "tweets.csv"
    path.write_text("id,created_at,username,lang,text\n" + "".join(
        f'{i},2026-11-20T10:15:{i:02d}Z,u{i},de,"Hallo, Welt #{i}x"\n' for i in range(30)))
    # no health wait: a 30-line replay may be over before the first poll
    proc = start(tmp_path, ports, "--source", f"replay:{path}", "--speed", "0",
                 "--exit-at-end", wait=False)
    running.append(proc)
    assert proc.proc is not None
    assert proc.proc.wait(timeout=30) == 0
    summary = next(orjson.loads(raw) for raw in proc.log().splitlines()
                   if raw.startswith("{") and '"replay finished"' in raw)
    assert (summary["records"], summary["malformed"]) == (30, 0)


def test_a_restarted_replay_continues_after_what_the_feed_holds(
        tmp_path: Path, ports: tuple[int, int], running: list[TweetsProcess]) -> None:
    """Replaying again on the same data directory does not append the file a second time:
    the first start stops half way (--speed paces it), the second finishes the file."""
    from streamwatch.feed.log import FeedLog

    path = tmp_path / "tweets.csv"
    path.write_text("id,created_at,username,lang,text\n" + "".join(
        f'{i},2026-11-20T10:{i // 60:02d}:{i % 60:02d}Z,u{i},en,"t{i} #x"\n'
        for i in range(120)))
    http, _ = ports
    first = start(tmp_path, ports, "--source", f"replay:{path}", "--speed", "20")
    wait_until(lambda: latest(http) >= 40, first)  # 120 tweets, 1 s apart, at 20x: 6 s
    assert first.stop() == 0
    second = start(tmp_path, ports, "--source", f"replay:{path}", "--speed", "0",
                   "--exit-at-end", wait=False)
    running.append(second)
    assert second.proc is not None and second.proc.wait(timeout=60) == 0, second.log()
    feed = FeedLog.open(tmp_path / "data" / "feeds", "tweets", fsync="never")
    try:
        ids = [orjson.loads(x)["id"] for x in feed.read(0, feed.latest)]
    finally:
        feed.close()
    assert ids == [str(i) for i in range(120)]
    other = start(tmp_path, ports, "--rate", "10", wait=False)
    assert other.proc is not None and other.proc.wait(timeout=60) == 2
    assert "--source replay:" in other.log() and "this run: synthetic" in other.log()


def test_x_api_source_through_the_process(tmp_path: Path, ports: tuple[int, int],
                                          running: list[TweetsProcess]) -> None:
    http, _ = ports
    token = "proc-token-77ab"
    fake = FakeXApi(token=token).start()
    try:
        fake.add_rule("#stale")
        fake.episodes.extend([
            Episode(status=503),
            Episode(items=[tweet_message("201", "live #Spark", "9", "ada"),
                           tweet_message("202", "more #spark", "8", None)], end="drop"),
        ])
        proc = start(tmp_path, ports, "--source", "x-api", "--x-base-url", fake.url,
                     "--x-rules", "#spark", "--x-backoff-scale", "0.01",
                     "--x-stall-timeout", "2", env={"STREAMWATCH_X_BEARER_TOKEN": token})
        running.append(proc)
        wait_until(lambda: latest(http) >= 2, proc)
        got = records(http, 0, 2)
        assert [(t["id"], t["user"]) for t in got] == [("201", "ada"), ("202", "8")]
        assert [r["value"] for r in fake.rules.values()] == ["#spark"]
        wait_until(lambda: len(fake.stream_requests()) >= 3, proc)  # reconnected after drop
        assert proc.stop() == 0  # SIGTERM interrupts the open stream
        assert token not in proc.log()
    finally:
        fake.stop()


def _replayed(tmp_path: Path, ports: tuple[int, int], running: list[TweetsProcess],
              path: Path, *flags: str, expect: int) -> tuple[list[dict], list[dict]]:
    """Replay ``path`` through the process; the feed's records and the log's JSON lines."""
    http, _ = ports
    proc = start(tmp_path, ports, "--source", f"replay:{path}", "--speed", "0", *flags)
    running.append(proc)
    wait_until(lambda: "replay finished" in proc.log(), proc)
    wait_until(lambda: latest(http) >= expect, proc)  # records show once group-committed
    assert latest(http) == expect
    logged = [orjson.loads(raw) for raw in proc.log().splitlines() if raw.startswith("{")]
    return records(http, 0, expect), logged


def test_replay_sentiment140_as_downloaded(tmp_path: Path, ports: tuple[int, int],
                                           running: list[TweetsProcess]) -> None:
    """Headerless, Latin-1, CR line endings, zone-name dates: no flag needed."""
    when = datetime(2026, 11, 20, 10, 15, 3, tzinfo=UTC)
    src = [Src(snowflake(when + timedelta(seconds=i)), when + timedelta(seconds=i), f"u{i}",
               "en", f"Très bien #Café {i}") for i in range(20)]
    path = tmp_path / "training.1600000.processed.noemoticon.csv"
    expected = write_sentiment140(path, src)
    raw = path.read_bytes().split(b"\r")
    raw.insert(7, b'"0","1","Mon May 11 03:17:40 UTC 2009","NO_QUERY","x"')  # line 8: short
    path.write_bytes(b"\r".join(raw))
    got, logged = _replayed(tmp_path, ports, running, path, expect=20)
    assert got == expected
    skipped = [d for d in logged if d.get("msg") == "malformed line skipped"]
    assert [(d["line"], d["reason"]) for d in skipped] == [
        (8, "(line): has 5 fields, the first row has 6")]
    started = next(d for d in logged if d.get("msg") == "replay started")
    assert started["layout"] == "sentiment140"
    finished = next(d for d in logged if d.get("msg") == "replay finished")
    assert (finished["records"], finished["malformed"], finished["latin1_lines"]) == (20, 1, 20)


def test_replay_with_map_time_format_and_encoding(tmp_path: Path, ports: tuple[int, int],
                                                  running: list[TweetsProcess]) -> None:
    path = tmp_path / "export.csv"
    lines = ["posted,who,message,ref"] + [
        f"20/11/2026 10:{i:02d},u{i},\u20ac{i} #deal,{500 + i}" for i in range(10)]
    path.write_bytes("\n".join(lines).encode("cp1252") + b"\n")
    got, _ = _replayed(tmp_path, ports, running, path, "--encoding", "cp1252",
                       "--map", "created_at=posted,user=who,text=message,id=ref",
                       "--time-format", "%d/%m/%Y %H:%M", expect=10)
    assert got == [{"id": str(500 + i), "created_at": f"2026-11-20T10:{i:02d}:00.000Z",
                    "user": f"u{i}", "lang": "und", "text": f"\u20ac{i} #deal"}
                   for i in range(10)]


@pytest.mark.parametrize(("flags", "message"), [
    (["--map", "txt=message"], "--map (env STREAMWATCH_TWEETS_MAP): 'txt' is not a tweet field"),
    (["--map", "text=nope"], "--map text=nope: the CSV header"),
    (["--encoding", "utf-16"], "iconv -f utf-16"),
    ([], "has no column for id, text. Accepted names"),
])
def test_replay_refuses_what_it_cannot_read_with_the_fix(
        tmp_path: Path, ports: tuple[int, int], flags: list[str], message: str) -> None:
    path = tmp_path / "export.csv"
    path.write_text("posted,who,message,ref\n20/11/2026 10:00,u,hi,1\n")
    proc = start(tmp_path, ports, "--source", f"replay:{path}", *flags, wait=False)
    try:
        assert proc.proc is not None and proc.proc.wait(timeout=60) == 2
        assert message in proc.log()
    finally:
        proc.stop()
