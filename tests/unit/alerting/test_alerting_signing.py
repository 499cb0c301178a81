"""Signatures match the Standard Webhooks reference library, rotation included."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from streamwatch.alerting.signing import new_secret, secret_key, sign, webhook_headers

BODY = b'{"type":"fraud.alert.created","timestamp":"2026-11-20T10:15:03.120Z","data":{}}'


def test_secret_format() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:])) >= 24
    assert new_secret() != secret


def test_reference_library_verifies_our_headers() -> None:
    secret = new_secret()
    headers = webhook_headers([secret], "msg_abc", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers)["type"] == "fraud.alert.created"


def test_signature_equals_the_reference_signature() -> None:
    from datetime import UTC, datetime

    secret = new_secret()
    ts = 1_674_087_231
    expected = Webhook(secret).sign("msg_2KWPB", datetime.fromtimestamp(ts, UTC), BODY.decode())
    assert sign(secret, "msg_2KWPB", ts, BODY) == expected


def test_tampering_is_detected() -> None:
    secret = new_secret()
    headers = webhook_headers([secret], "msg_abc", int(time.time()), BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"fraud", b"frauD"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, {**headers, "webhook-id": "msg_other"})


def test_rotation_signs_with_both_secrets() -> None:
    old, new = new_secret(), new_secret()
    headers = webhook_headers([new, old], "msg_abc", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(BODY, headers)
    Webhook(new).verify(BODY, headers)


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        secret_key("not-a-secret")
    with pytest.raises(ValueError):
        secret_key("whsec_" + base64.b64encode(b"short").decode())
    with pytest.raises(ValueError):
        sign(new_secret(), "msg.with.dots", 1, BODY)
    with pytest.raises(ValueError):
        webhook_headers([], "msg_abc", 1, BODY)
