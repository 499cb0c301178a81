"""The alerting store's guarantees, on SQLite and on a real PostgreSQL server.

The PostgreSQL server is started once per test session from Debian's binaries
(initdb into a temporary directory, pg_ctl on 127.0.0.1 with a free port); each
test gets a fresh database. Without the binaries these tests skip and say why.
The last test runs two service processes against one PostgreSQL database.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from standardwebhooks.webhooks import Webhook

from streamwatch.alerting.store import SqlStore, open_store
from streamwatch.alerting.store.models import AttemptResult, Decision
from streamwatch.contracts.events import Alert, alert_id, parse_ts
from tests.procs import ServiceProcess, free_port, ingest_headers
from tests.receiver import Receiver

PG_BIN = Path(os.environ.get("STREAMWATCH_PG_BIN", "/usr/lib/postgresql/15/bin"))
TOKEN = "store-test-admin-token-" + "x" * 16


def make_alert(i: int, rule: str = "velocity", severity: str = "high") -> Alert:
    card, txn = f"c-{i:06d}", f"t-{i:09d}"
    return Alert.from_dict({
        "alert_id": alert_id(rule, card, txn), "rule": rule, "severity": severity,
        "score": 0.9, "card_id": card, "txn_ids": [txn],
        "event_time": f"2026-11-20T10:{i // 60 % 60:02d}:{i % 60:02d}.000Z",
        "detected_at": "2026-11-20T11:00:00.000Z", "reason": "test"})


def _ms(ts: str) -> int:
    return int(parse_ts(ts).timestamp() * 1000)


def _run(cmd: list[str | Path]) -> None:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {proc.stdout}\n{proc.stderr}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A throwaway PostgreSQL server; yields its base URL (no database name)."""
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"PostgreSQL binaries not found in {PG_BIN}; install Debian's postgresql "
                    "package or set STREAMWATCH_PG_BIN")
    root = Path(tempfile.mkdtemp(prefix="sw-alerting-pg-"))
    as_postgres: list[str | Path] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres", "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", free_port()
    try:
        _run([*as_postgres, PG_BIN / "initdb", "-D", data, "-A", "trust", "-U", "postgres",
              "-E", "UTF8", "--no-sync"])
        # fsync=off: a test server's data is thrown away; it keeps the suite fast.
        _run([*as_postgres, PG_BIN / "pg_ctl", "-D", data, "-l", root / "server.log", "-w",
              "-t", "60", "-o", f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off "
              "-c max_connections=200", "start"])
    except RuntimeError:
        shutil.rmtree(root, ignore_errors=True)
        raise
    yield f"postgresql://postgres@127.0.0.1:{port}"
    subprocess.run([*map(str, as_postgres), str(PG_BIN / "pg_ctl"), "-D", str(data),
                    "-m", "immediate", "-w", "stop"], capture_output=True, timeout=60)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> str:
    import psycopg

    name = "t_" + secrets.token_hex(6)
    with psycopg.connect(postgres_server + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{postgres_server}/{name}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        s = open_store(sqlite_path=tmp_path / "alerting.db")
    else:
        s = open_store(database_url=request.getfixturevalue("postgres_url"))
    yield s
    s.close()


def _sub(store: SqlStore, **kw: object) -> str:
    args = {"url": "http://127.0.0.1:9/hook", "rules": None, "min_severity": None,
            "description": None, "secret": "whsec_" + "A" * 32, "now_ms": 1000, **kw}
    return store.create_subscription(**args).id  # type: ignore[arg-type]


def test_migrate_is_idempotent(store: SqlStore) -> None:
    assert store.migrate() == store.migrate() == 1
    assert store.ping()


def test_ingest_stores_each_alert_once_and_enqueues_matching_subscriptions(
        store: SqlStore) -> None:
    every = _sub(store)
    high_velocity = _sub(store, rules=["velocity"], min_severity="high")
    alerts = [make_alert(1), make_alert(2, severity="low"), make_alert(3, rule="card_testing")]
    first = store.ingest(alerts, now_ms=5000)
    assert first.accepted == [a.alert_id for a in alerts] and first.duplicates == []
    assert first.enqueued == 3 + 1
    again = store.ingest([*alerts, make_alert(4)], now_ms=6000)
    assert again.accepted == [make_alert(4).alert_id]
    assert again.duplicates == [a.alert_id for a in alerts]
    assert store.count_alerts() == 4
    assert len(store.list_messages(every).items) == 4
    assert [m["alert_id"] for m in store.list_messages(high_velocity).items] == [
        alerts[0].alert_id, make_alert(4).alert_id]


def test_concurrent_identical_batches_store_once(store: SqlStore) -> None:
    sub = _sub(store)
    batch = [make_alert(i) for i in range(40)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: store.ingest(batch, 1000), range(6)))
    accepted = [aid for r in results for aid in r.accepted]
    assert sorted(accepted) == sorted(a.alert_id for a in batch)
    assert store.count_alerts() == 40
    assert len(store.list_messages(sub, limit=1000).items) == 40


def test_query_filters_and_cursor_pagination(store: SqlStore) -> None:
    alerts = [make_alert(i, severity=("low", "high")[i % 2]) for i in range(25)]
    store.ingest(alerts, 1000)
    seen, after = [], 0
    while page := store.query_alerts(severity="high", after_seq=after, limit=4):
        seen += [r.seq for r in page]
        after = page[-1].seq
    assert len(seen) == 12 and seen == sorted(seen)
    window = store.query_alerts(since_ms=_ms(alerts[10].event_time),
                                until_ms=_ms(alerts[20].event_time), limit=1000)
    assert [r.body for r in window] == [r.body for r in store.query_alerts(limit=1000)[10:20]]
    card = store.query_alerts(card_id="c-000007")
    assert len(card) == 1 and '"card_id":"c-000007"' in card[0].body


def test_claims_are_disjoint_and_leases_expire(store: SqlStore) -> None:
    _sub(store)
    store.ingest([make_alert(i) for i in range(30)], now_ms=1000)
    claimed: list[str] = []
    lock = threading.Lock()

    def claim(n: int) -> None:
        while rows := store.claim_due(f"w{n}", 2000, 3, lease_ms=10_000):
            with lock:
                claimed.extend(r.message_id for r in rows)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 30 and len(set(claimed)) == 30
    assert store.claim_due("late", 5000, 100, 10_000) == []  # leases still held
    again = store.claim_due("late", 12_001, 100, 10_000)  # every lease ran out
    assert len(again) == 30


def test_only_the_lease_holder_moves_a_message(store: SqlStore) -> None:
    sub = _sub(store)
    store.ingest([make_alert(1)], 1000)
    (stale,) = store.claim_due("old", 2000, 1, lease_ms=100)
    (fresh,) = store.claim_due("new", 3000, 1, lease_ms=100)
    ok = AttemptResult(200, 1.0, None)

    def delivered(*_: object) -> Decision:
        return Decision("delivered", "delivered", 0)

    store.record_attempt(stale, ok, 3100, delivered)
    assert store.list_messages(sub).items[0]["state"] == "pending"
    store.record_attempt(fresh, ok, 3200, delivered)
    msg = store.list_messages(sub).items[0]
    assert msg["state"] == "delivered" and msg["attempts"] == 2  # both attempts happened
    assert [d["attempt"] for d in store.list_attempts(sub).items] == [1, 1]


def test_replay_since_creates_missing_messages(store: SqlStore) -> None:
    store.ingest([make_alert(i) for i in range(5)], 1000)
    late = _sub(store, now_ms=2000)  # subscribed after the alerts arrived
    assert store.list_messages(late).items == []
    sub = store.get_subscription(late)
    assert sub is not None
    assert store.replay_since(sub, 0, 3000) == 5
    assert len(store.claim_due("w", 3000, 10, 1000)) == 5
    assert store.replay_since(sub, 0, 4000) == 5  # re-sends; never duplicates rows
    assert len(store.list_messages(late).items) == 5
    # the replay released the leases of the in-flight first round: due again at once
    assert len(store.claim_due("w2", 4000, 10, 1000)) == 5


@pytest.mark.slow
def test_two_replicas_share_one_postgresql(postgres_url: str, tmp_path: Path) -> None:
    env = {"STREAMWATCH_ADMIN_TOKEN": TOKEN, "STREAMWATCH_ALERTING_WEBHOOK_ALLOW_PRIVATE": "1",
           "STREAMWATCH_ALERTING_DATABASE_URL": postgres_url}
    ports = [free_port(), free_port()]
    procs = [ServiceProcess(["alerting", "--port", str(p), "--data-dir", str(tmp_path / str(p)),
                             "--retry-schedule", "0,0.2,0.5", "--poll-interval", "0.2"],
                            tmp_path / f"replica-{p}.log", env=env).start() for p in ports]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    try:
        for proc, base in zip(procs, bases, strict=True):
            proc.wait_http(base + "/readyz")
        with Receiver() as rx:
            r = requests.post(bases[0] + "/v1/subscriptions", json={"url": rx.url},
                              headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
            assert r.status_code == 201, r.text
            secret = r.json()["secret"]
            alerts = [make_alert(i).to_dict() for i in range(60)]
            batches = [alerts[i:i + 10] for i in range(0, 60, 10)]

            def post(job: tuple[int, list[dict[str, object]]]) -> dict[str, list[str]]:
                replica, batch = job
                resp = requests.post(bases[replica] + "/v1/alerts", json={"alerts": batch},
                                     timeout=10, headers=ingest_headers())
                assert resp.status_code == 200, resp.text
                return resp.json()

            # every batch goes to both replicas at the same time
            jobs = [(r_, b) for b in batches for r_ in (0, 1)]
            with ThreadPoolExecutor(4) as pool:
                answers = list(pool.map(post, jobs))
            accepted = [a for ans in answers for a in ans["accepted"]]
            assert sorted(accepted) == sorted(a["alert_id"] for a in alerts)
            got = rx.wait_for(lambda reqs: len({q.webhook_id for q in reqs}) >= 60, timeout=30)
            for req in got:
                Webhook(secret).verify(req.body, req.headers)
            ids = {Webhook(secret).verify(q.body, q.headers)["data"]["alert_id"] for q in got}
            assert ids == {a["alert_id"] for a in alerts}
            # without failures no message goes out twice, whichever replica sent it
            assert len(got) == len({q.webhook_id for q in got})
            listed = requests.get(bases[1] + "/v1/alerts?limit=1000", timeout=10).json()
            assert len(listed["alerts"]) == 60
    finally:
        for proc in procs:
            proc.stop()


def test_nul_characters_are_a_400_on_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """PostgreSQL text cannot hold NUL: each of these was a 500 with a traceback."""
    from streamwatch.alerting.app import create_app
    from streamwatch.alerting.runtime import Runtime
    from streamwatch.alerting.settings import AlertingSettings
    from tests.factories import alert_body

    app = create_app(AlertingSettings(data_dir=tmp_path, database_url=postgres_url,
                                    admin_token=TOKEN, ingest_token="i" * 32))
    client = app.test_client()
    try:
        bad = alert_body("velocity", "c\x001", ["t-1"])  # card_id is a column
        r = client.post("/v1/alerts", json={"alerts": [bad]},
                        headers={"Authorization": "Bearer " + "i" * 32})
        assert r.status_code == 400 and r.get_json()["field"] == "body"
        r = client.get("/v1/alerts?card_id=c%001")
        assert r.status_code == 400 and r.get_json()["field"] == "card_id"
        r = client.get("/v1/subscriptions/sub%00x", headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 400
        assert client.get("/v1/alerts").get_json()["alerts"] == []
    finally:
        Runtime.of(app).store.close()
