"""The alerting HTTP API through Flask's test client, on a real SQLite file.

Delivery workers are not started here (create_app leaves that to the caller);
webhook sending is covered by tests/integration/test_alerting_webhooks.py.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from streamwatch.alerting.app import create_app
from streamwatch.alerting.runtime import Runtime
from streamwatch.alerting.settings import AlertingSettings
from streamwatch.alerting.signing import new_secret
from streamwatch.core.http import route_paths
from streamwatch.core.settings import SettingsError
from tests.factories import alert_body
from tests.procs import INGEST_TOKEN, ingest_headers

TOKEN = "unit-test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def alert(i: int, rule: str = "velocity", severity: str = "high") -> dict[str, Any]:
    return alert_body(rule, f"c-{i}", [f"t-{i}"], severity=severity,
                      event_time=f"2026-11-20T10:00:{i % 60:02d}.000Z",
                      detected_at="2026-11-20T10:01:00.000Z", reason="r")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    application = create_app(AlertingSettings(
        data_dir=tmp_path, admin_token=TOKEN, ingest_token=INGEST_TOKEN, allow_private=True,
        max_body_bytes=64 << 10, max_batch=50))
    yield application
    Runtime.of(application).store.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    c = app.test_client()
    # ingest header on every request; the admin routes' own header replaces it
    c.environ_base["HTTP_AUTHORIZATION"] = ingest_headers()["Authorization"]
    return c


def registry(app: Flask) -> CollectorRegistry:
    return app.config["REGISTRY"]


def test_openapi_matches_routes(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    assert set(doc["paths"]) == route_paths(app)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (path, method)


def test_config_refuses_a_missing_or_short_token(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="STREAMWATCH_ADMIN_TOKEN"):
        AlertingSettings(data_dir=tmp_path)
    with pytest.raises(SettingsError):
        AlertingSettings(data_dir=tmp_path, admin_token="short")


def test_ingest_is_idempotent_and_counted(app: Flask, client: FlaskClient) -> None:
    batch = [alert(i) for i in range(5)]
    first = client.post("/v1/alerts", json={"alerts": batch})
    assert first.status_code == 200
    assert first.get_json() == {"accepted": [a["alert_id"] for a in batch], "duplicates": []}
    second = client.post("/v1/alerts", json={"alerts": [*batch[:2], alert(9)]})
    assert second.get_json() == {"accepted": [alert(9)["alert_id"]],
                                 "duplicates": [batch[0]["alert_id"], batch[1]["alert_id"]]}
    reg = registry(app)
    assert reg.get_sample_value("streamwatch_alerts_received_total") == 8
    assert reg.get_sample_value("streamwatch_alerts_deduplicated_total") == 2


def test_validation_names_each_bad_field(client: FlaskClient) -> None:
    good, bad = alert(1), {**alert(2), "severity": "urgent", "score": 7}
    tampered = {**alert(3), "card_id": "c-other"}  # alert_id no longer matches
    r = client.post("/v1/alerts", json={"alerts": [good, bad, tampered]})
    assert r.status_code == 422
    body = r.get_json()
    assert {(e["index"], e["field"]) for e in body["errors"]} == {
        (1, "severity"), (1, "score"), (2, "alert_id")}
    assert "nothing was stored" in body["error"]
    assert client.get("/v1/alerts").get_json()["alerts"] == []
    for payload, field in (([1], "alerts"), ({"alerts": "x"}, "alerts")):
        r = client.post("/v1/alerts", json=payload)
        assert r.status_code == 400 and r.get_json()["field"] == field
    r = client.post("/v1/alerts", data=b"{not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["field"] == "body"


def test_size_limits(client: FlaskClient) -> None:
    r = client.post("/v1/alerts", json={"alerts": [alert(i) for i in range(51)]})
    assert r.status_code == 413 and r.get_json()["field"] == "alerts"
    r = client.post("/v1/alerts", data=b"x" * (65 << 10), content_type="application/json")
    assert r.status_code == 413 and r.get_json()["field"] == "body"


def test_query_filters_and_cursor(client: FlaskClient) -> None:
    batch = [alert(i, severity=("low", "high")[i % 2]) for i in range(10)]
    client.post("/v1/alerts", json={"alerts": batch})
    page = client.get("/v1/alerts?severity=high&limit=3").get_json()
    assert [a["card_id"] for a in page["alerts"]] == ["c-1", "c-3", "c-5"]
    rest = client.get(f"/v1/alerts?severity=high&cursor={page['next_cursor']}").get_json()
    assert [a["card_id"] for a in rest["alerts"]] == ["c-7", "c-9"]
    tail = client.get(f"/v1/alerts?severity=high&cursor={rest['next_cursor']}").get_json()
    assert tail == {"alerts": [], "next_cursor": None}
    window = client.get("/v1/alerts?since=2026-11-20T10:00:02Z&until=2026-11-20T10:00:04Z")
    assert [a["card_id"] for a in window.get_json()["alerts"]] == ["c-2", "c-3"]
    assert client.get("/v1/alerts?card_id=c-4").get_json()["alerts"][0] == batch[4]
    for query, field in (("limit=0", "limit"), ("limit=1001", "limit"), ("since=yesterday",
                         "since"), ("cursor=%%%", "cursor"), ("severity=urgent", "severity")):
        r = client.get(f"/v1/alerts?{query}")
        assert r.status_code == 400 and r.get_json()["field"] == field, query


def test_subscriptions_need_the_admin_token(client: FlaskClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        r = client.get("/v1/subscriptions", headers=headers)
        assert r.status_code == 401 and r.get_json()["field"] == "Authorization"
    assert client.get("/v1/subscriptions", headers=AUTH).status_code == 200


def test_subscription_lifecycle(app: Flask, client: FlaskClient) -> None:
    r = client.post("/v1/subscriptions", headers=AUTH, json={
        "url": "http://127.0.0.1:9/hook", "rules": ["velocity"], "min_severity": "medium",
        "description": "ops"})
    assert r.status_code == 201
    created = r.get_json()
    secret, sid = created["secret"], created["id"]
    assert secret.startswith("whsec_") and created["enabled"] is True
    listed = client.get("/v1/subscriptions", headers=AUTH)
    assert secret not in listed.get_data(as_text=True)
    one = client.get(f"/v1/subscriptions/{sid}", headers=AUTH).get_json()
    assert one["rules"] == ["velocity"] and "secret" not in one
    rotated = client.post(f"/v1/subscriptions/{sid}/rotate-secret", headers=AUTH).get_json()
    assert rotated["secret"] != secret and rotated["previous_secret_expires_at"]
    reg = registry(app)
    assert reg.get_sample_value("streamwatch_webhook_subscriptions", {"state": "enabled"}) == 1
    client.post("/v1/alerts", json={"alerts": [alert(1), alert(2, severity="low")]})
    messages = client.get(f"/v1/subscriptions/{sid}/messages", headers=AUTH).get_json()
    assert [m["alert_id"] for m in messages["messages"]] == [alert(1)["alert_id"]]
    assert reg.get_sample_value("streamwatch_webhook_outbox_depth") == 1
    assert client.delete(f"/v1/subscriptions/{sid}", headers=AUTH).status_code == 204
    assert client.get(f"/v1/subscriptions/{sid}", headers=AUTH).status_code == 404
    assert reg.get_sample_value("streamwatch_webhook_outbox_depth") == 0


def test_subscription_validation(client: FlaskClient) -> None:
    cases = [
        ({"url": "ftp://example.com/"}, "url"),
        ({"url": "http://169.254.169.254/"}, "url"),
        ({"url": "http://127.0.0.1/", "rules": []}, "rules"),
        ({"url": "http://127.0.0.1/", "rules": ["Bad Rule"]}, "rules[0]"),
        ({"url": "http://127.0.0.1/", "min_severity": "urgent"}, "min_severity"),
        ({"url": "http://127.0.0.1/", "colour": "red"}, "colour"),
        ({}, "url"),
    ]
    for body, field in cases:
        r = client.post("/v1/subscriptions", headers=AUTH, json=body)
        assert r.status_code == 422, body
        assert field in {e["field"] for e in r.get_json()["errors"]}, body


def test_replay_requests(client: FlaskClient) -> None:
    sid = client.post("/v1/subscriptions", headers=AUTH,
                      json={"url": "http://127.0.0.1:9/"}).get_json()["id"]
    client.post("/v1/alerts", json={"alerts": [alert(1)]})
    mid = client.get(f"/v1/subscriptions/{sid}/messages", headers=AUTH).get_json()[
        "messages"][0]["message_id"]
    ok = client.post(f"/v1/subscriptions/{sid}/replay", headers=AUTH, json={"message_id": mid})
    assert ok.status_code == 202 and ok.get_json() == {"replayed": 1}
    since = client.post(f"/v1/subscriptions/{sid}/replay", headers=AUTH,
                        json={"since": "2000-01-01T00:00:00Z"})
    assert since.get_json() == {"replayed": 1}
    for body, status in (({}, 422), ({"message_id": "msg_x", "since": "x"}, 422),
                         ({"message_id": "msg_unknown"}, 404), ({"since": "soon"}, 422)):
        assert client.post(f"/v1/subscriptions/{sid}/replay", headers=AUTH,
                           json=body).status_code == status, body


def test_readiness_names_the_database(client: FlaskClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200 and r.get_json()["database"].startswith("sqlite:")


def test_a_detection_time_from_a_broken_clock_is_refused_naming_the_field(
        client: FlaskClient) -> None:
    bad = {**alert(4), "detected_at": "1969-12-31T23:59:59.999Z"}
    r = client.post("/v1/alerts", json={"alerts": [alert(5), bad]})
    assert r.status_code == 422
    assert [(e["index"], e["field"]) for e in r.get_json()["errors"]] == [(1, "detected_at")]
    assert client.get("/v1/alerts").get_json()["alerts"] == []


# -- hardening (issue 18): each test below failed before the fix ------------------------

def test_config_needs_a_separate_ingest_token(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="STREAMWATCH_INGEST_TOKEN"):
        AlertingSettings(data_dir=tmp_path, admin_token=TOKEN)
    with pytest.raises(SettingsError, match="different values"):
        AlertingSettings(data_dir=tmp_path, admin_token=TOKEN, ingest_token=TOKEN)


def test_ingest_needs_the_ingest_token_and_json(app: Flask) -> None:
    anonymous = app.test_client()
    body = orjson.dumps({"alerts": [alert(1)]})
    for headers in ({}, AUTH, {"Authorization": f"Bearer {INGEST_TOKEN}x"},
                    {"Authorization": INGEST_TOKEN}):
        r = anonymous.post("/v1/alerts", data=body, headers=headers,
                           content_type="application/json")
        assert r.status_code == 401 and r.get_json()["field"] == "Authorization", headers
    # what a cross-site form can send: refused even with the token
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        r = anonymous.post("/v1/alerts", data=body, headers=ingest_headers(),
                           content_type=content_type)
        assert r.status_code == 415 and r.get_json()["field"] == "Content-Type"
    assert anonymous.get("/v1/alerts").get_json()["alerts"] == []  # reads stay open
    r = anonymous.post("/v1/alerts", data=body, headers=ingest_headers(),
                       content_type="application/json; charset=utf-8")
    assert r.status_code == 200


def test_unknown_alert_fields_are_refused(client: FlaskClient) -> None:
    r = client.post("/v1/alerts", json={"alerts": [{**alert(1), "padding": "x" * 1000}]})
    assert r.status_code == 422
    assert [(e["index"], e["field"]) for e in r.get_json()["errors"]] == [(0, "padding")]
    assert client.get("/v1/alerts").get_json()["alerts"] == []


def test_alert_listing_is_bounded_in_bytes(app: Flask, client: FlaskClient,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from streamwatch.alerting import api_alerts

    # ten alerts of ~8 KiB each against a 20 KiB page: pages of two or three alerts
    monkeypatch.setattr(api_alerts, "MAX_PAGE_BYTES", 20 << 10)
    batch = [alert_body("velocity", f"c-{i}", [f"t-{i}-{'x' * 8000}"],
                        event_time="2026-11-20T10:00:00.000Z",
                        detected_at="2026-11-20T10:01:00.000Z", reason="r")
             for i in range(10)]
    for half in (batch[:5], batch[5:]):  # the fixture's body limit is 64 KiB
        assert client.post("/v1/alerts", json={"alerts": half}).status_code == 200
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.get("/v1/alerts", query_string={"limit": 1000, **(
            {"cursor": cursor} if cursor else {})})
        doc = page.get_json()
        if not doc["alerts"]:
            break
        assert len(page.data) <= (20 << 10) + 1024
        seen.extend(doc["alerts"])
        cursor = doc["next_cursor"]
    assert seen == batch  # nothing lost or repeated across the byte-bounded pages


@pytest.mark.parametrize("query", [
    "until=9999-12-31T23:59:59-01:00", "since=0001-01-01T00:00:00%2B01:00",
    "since=1970-01-01T00:00:00Z", "until=2100-01-01T00:00:00Z"])
def test_out_of_range_times_are_400_naming_the_field(client: FlaskClient, query: str) -> None:
    r = client.get(f"/v1/alerts?{query}")
    assert r.status_code == 400 and r.get_json()["field"] == query.split("=")[0]


def test_out_of_range_alert_times_are_422_naming_the_field(client: FlaskClient) -> None:
    bad = {**alert(1), "event_time": "9999-12-31T23:59:59-01:00"}
    r = client.post("/v1/alerts", json={"alerts": [bad]})
    assert r.status_code == 422
    assert [e["field"] for e in r.get_json()["errors"]] == ["event_time"]


@pytest.mark.parametrize("cursor", [
    f"a:{2**63}", f"a:{10**30}", "a:1_0", "a: 1", "a:+1", "a:-1", "m:1"])
def test_impossible_cursors_are_400(client: FlaskClient, cursor: str) -> None:
    text = base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=")
    r = client.get(f"/v1/alerts?cursor={text}")
    assert r.status_code == 400 and r.get_json()["field"] == "cursor"


@pytest.mark.parametrize(("query", "field"), [
    ("severty=high", "severty"), ("limit=", "limit"), ("rule=", "rule"),
    ("limit=1_0", "limit"), ("limit=%2B5", "limit"), ("limit=1&limit=2", "limit"),
    ("limit=%D9%A1", "limit"), ("rule=Not-A-Rule", "rule")])
def test_query_parsing_is_strict(client: FlaskClient, query: str, field: str) -> None:
    r = client.get(f"/v1/alerts?{query}")
    assert r.status_code == 400 and r.get_json()["field"] == field


def test_subscription_urls_are_normalised_or_refused(client: FlaskClient) -> None:
    r = client.post("/v1/subscriptions", headers=AUTH,
                    json={"url": "http://127.0.0.1:9/é?q=ü"})
    assert r.status_code == 201
    assert r.get_json()["url"] == "http://127.0.0.1:9/%C3%A9?q=%C3%BC"
    for url in ("http://127.0.0.1:0/", "http://[2002:7f00:1::]/x"):
        r = client.post("/v1/subscriptions", headers=AUTH, json={"url": url})
        assert r.status_code == 422 and r.get_json()["field"] == "url", url


def test_replay_since_out_of_range_is_422(client: FlaskClient) -> None:
    sid = client.post("/v1/subscriptions", headers=AUTH,
                      json={"url": "http://127.0.0.1:9/h"}).get_json()["id"]
    r = client.post(f"/v1/subscriptions/{sid}/replay", headers=AUTH,
                    json={"since": "9999-12-31T23:59:59-01:00"})
    assert r.status_code == 422 and r.get_json()["field"] == "since"


def test_a_url_that_cannot_be_sent_follows_the_failure_policy(tmp_path: Path) -> None:
    """A URL stored before normalisation (or anything else raising while sending) is a
    recorded failed attempt: retried on the schedule, then dead, the subscription off."""
    app = create_app(AlertingSettings(
        data_dir=tmp_path, admin_token=TOKEN, ingest_token=INGEST_TOKEN, allow_private=True,
        retry_schedule=(0.0, 0.0), retry_jitter=0.0))
    rt = Runtime.of(app)
    try:
        sub = rt.store.create_subscription(url="http://127.0.0.1:9/é", rules=None,
                                           min_severity=None, description=None,
                                           secret=new_secret(), now_ms=1000)
        r = app.test_client().post("/v1/alerts", json={"alerts": [alert(1)]},
                                   headers=ingest_headers())
        assert r.status_code == 200
        outcomes = []
        for n in range(2):
            (claimed,) = rt.store.claim_due(f"w{n}", 10**13, 1, lease_ms=1000)
            outcomes.append(rt.delivery.deliver(claimed))
        assert outcomes == ["retrying", "dead"]
        assert rt.store.claim_due("w9", 10**13, 1, lease_ms=1000) == []
        attempts = rt.store.list_attempts(sub.id).items
        assert [a["attempt"] for a in attempts] == [1, 2]
        assert all("UnicodeEncodeError" in a["error"] for a in attempts), attempts
        after = rt.store.get_subscription(sub.id)
        assert after is not None and not after.enabled
    finally:
        rt.store.close()
