"""The alerting HTTP API through Flask's test client, on a real SQLite file.

Delivery workers are not started here (create_app leaves that to the caller);
webhook sending is covered by tests/integration/test_alerting_webhooks.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry

from alerting_service.app import create_app
from alerting_service.config import AlertingConfig, ConfigError
from alerting_service.runtime import Runtime
from streamwatch.httpkit import route_paths
from tests.factories import alert_body

TOKEN = "unit-test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def alert(i: int, rule: str = "velocity", severity: str = "high") -> dict[str, Any]:
    return alert_body(rule, f"c-{i}", [f"t-{i}"], severity=severity,
                      event_time=f"2026-11-20T10:00:{i % 60:02d}.000Z",
                      detected_at="2026-11-20T10:01:00.000Z", reason="r")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    application = create_app(AlertingConfig(
        data_dir=tmp_path, admin_token=TOKEN, allow_private=True, max_body_bytes=64 << 10,
        max_batch=50))
    yield application
    Runtime.of(application).store.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def registry(app: Flask) -> CollectorRegistry:
    return app.config["REGISTRY"]


def test_openapi_matches_routes(app: Flask, client: FlaskClient) -> None:
    doc = client.get("/openapi.json").get_json()
    assert set(doc["paths"]) == route_paths(app)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["responses"], (path, method)


def test_config_refuses_a_missing_or_short_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STREAMWATCH_ADMIN_TOKEN"):
        AlertingConfig(data_dir=tmp_path)
    with pytest.raises(ConfigError):
        AlertingConfig(data_dir=tmp_path, admin_token="short")


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
        ({"url": "http://127.0.0.1/", "rules": ["Bad Rule"]}, "rules"),
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
