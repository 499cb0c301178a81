"""Standard Webhooks signatures (symmetric ``v1``, HMAC-SHA256).

The signed content is ``{msg_id}.{timestamp}.{body}``; the key is the base64
decoding of the secret after its ``whsec_`` prefix; the header value is a space
separated list of ``v1,<base64 signature>`` entries, one per valid secret, which
is how the spec supports zero-downtime secret rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for at least 24 random bytes


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("webhook secrets start with whsec_")
    key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    if len(key) < 24:
        raise ValueError("webhook secret must hold at least 24 bytes")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature entry."""
    if "." in msg_id:
        # A '.' in the id would make the signed content ambiguous.
        raise ValueError("message ids must not contain '.'")
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one entry per secret, space separated."""
    entries = [sign(s, msg_id, timestamp, body) for s in secrets]
    if not entries:
        raise ValueError("at least one secret is needed to sign a webhook")
    return " ".join(entries)


def webhook_headers(secrets: Iterable[str], msg_id: str, timestamp: int,
                    body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
    }
