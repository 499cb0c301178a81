"""``/v1/subscriptions``: webhook endpoints, their delivery history and replays.

Every route needs ``Authorization: Bearer <admin token>``, compared in constant
time. A subscription's secret is shown twice only: in the answer that creates it
and in the answer that rotates it.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import pydantic
from flask import Blueprint, Response, request

from streamwatch.alerting.runtime import Runtime, decode_cursor, encode_cursor, now_ms
from streamwatch.alerting.signing import new_secret
from streamwatch.alerting.ssrf import UnsafeUrl, check_url, normalise_url, parse_url
from streamwatch.alerting.store.models import MESSAGE_STATES, Subscription
from streamwatch.contracts.errors import field_errors
from streamwatch.contracts.subscriptions import NewSubscription, Replay
from streamwatch.contracts.times import parse_ts
from streamwatch.core.http import ApiError, json_body, json_response, query_int, require_bearer

log = logging.getLogger(__name__)
bp = Blueprint("subscriptions", __name__)

MAX_BODY = 64 << 10
M = TypeVar("M", bound=pydantic.BaseModel)


@bp.before_request
def require_admin() -> None:
    require_bearer(Runtime.of().config.admin_token, "admin token")


@bp.after_request
def no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"  # answers may carry secrets
    return resp


def _origin(url: str) -> str:
    scheme, host, port, _ = parse_url(url)
    return f"{scheme}://{host}:{port}"


def _validate(model: type[M], body: Any, message: str) -> M:
    """``body`` as ``model``, or a 422 naming every bad field (a 400 if not an object)."""
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object", "body")
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as exc:
        errors = field_errors(exc)
        raise ApiError(422, message, errors[0]["field"], details=errors) from None


def validate_subscription(body: Any) -> dict[str, Any]:
    """The fields of a new subscription (``NewSubscription``, then the SSRF guard), or a
    422 naming every bad one."""
    new = _validate(NewSubscription, body, "invalid subscription")
    cfg = Runtime.of().config
    try:
        # Stored normalised (IDNA host, percent-encoded path), so what is checked
        # here is exactly what every delivery can send.
        url = normalise_url(new.url)
        check_url(url, allow_private=cfg.allow_private, allowed_hosts=cfg.allowed_hosts)
    except UnsafeUrl as exc:
        raise ApiError(422, "invalid subscription", "url",
                       details=[{"field": "url", "error": str(exc)}]) from None
    return {"url": url, "rules": list(dict.fromkeys(new.rules)) if new.rules else None,
            "min_severity": new.min_severity, "description": new.description}


def _get(sub_id: str) -> Subscription:
    sub = Runtime.of().store.get_subscription(sub_id)
    if sub is None:
        raise ApiError(404, f"no subscription {sub_id!r}", "id")
    return sub


@bp.post("/v1/subscriptions")
def create() -> Response:
    rt = Runtime.of()
    fields = validate_subscription(json_body(MAX_BODY))
    secret = new_secret()
    sub = rt.store.create_subscription(**fields, secret=secret, now_ms=now_ms())
    log.info("subscription created", extra={"subscription_id": sub.id,
                                            "origin": _origin(sub.url)})
    return json_response({**sub.to_public(), "secret": secret}, 201)


@bp.get("/v1/subscriptions")
def list_all() -> Response:
    subs = Runtime.of().store.list_subscriptions()
    return json_response({"subscriptions": [s.to_public() for s in subs]})


@bp.get("/v1/subscriptions/<sub_id>")
def get_one(sub_id: str) -> Response:
    return json_response(_get(sub_id).to_public())


@bp.delete("/v1/subscriptions/<sub_id>")
def delete(sub_id: str) -> Response:
    if not Runtime.of().store.delete_subscription(sub_id):
        raise ApiError(404, f"no subscription {sub_id!r}", "id")
    log.info("subscription deleted", extra={"subscription_id": sub_id})
    return Response(status=204)


@bp.post("/v1/subscriptions/<sub_id>/rotate-secret")
def rotate(sub_id: str) -> Response:
    rt = Runtime.of()
    secret = new_secret()
    now = now_ms()
    sub = rt.store.rotate_secret(sub_id, secret, now + int(rt.config.secret_grace * 1000), now)
    if sub is None:
        raise ApiError(404, f"no subscription {sub_id!r}", "id")
    log.info("subscription secret rotated", extra={"subscription_id": sub_id})
    return json_response({**sub.to_public(), "secret": secret})


@bp.post("/v1/subscriptions/<sub_id>/enable")
def enable(sub_id: str) -> Response:
    rt = Runtime.of()
    sub = rt.store.set_enabled(sub_id, True, None, now_ms())
    if sub is None:
        raise ApiError(404, f"no subscription {sub_id!r}", "id")
    rt.delivery.notify()
    log.info("subscription enabled", extra={"subscription_id": sub_id})
    return json_response(sub.to_public())


@bp.get("/v1/subscriptions/<sub_id>/deliveries")
def deliveries(sub_id: str) -> Response:
    rt = Runtime.of()
    _get(sub_id)
    page = rt.store.list_attempts(
        sub_id, after_id=decode_cursor("d", request.args.get("cursor")),
        limit=query_int("limit", default=100, minimum=1, maximum=1000) or 100,
        message_id=request.args.get("message_id") or None)
    return json_response({"deliveries": page.items,
                          "next_cursor": encode_cursor("d", page.next_cursor)})


@bp.get("/v1/subscriptions/<sub_id>/messages")
def messages(sub_id: str) -> Response:
    rt = Runtime.of()
    _get(sub_id)
    state = request.args.get("state") or None
    if state is not None and state not in MESSAGE_STATES:
        raise ApiError(400, f"query parameter 'state' must be one of {list(MESSAGE_STATES)}",
                       "state")
    page = rt.store.list_messages(
        sub_id, state=state, after_seq=decode_cursor("m", request.args.get("cursor")),
        limit=query_int("limit", default=100, minimum=1, maximum=1000) or 100)
    return json_response({"messages": page.items,
                          "next_cursor": encode_cursor("m", page.next_cursor)})


@bp.post("/v1/subscriptions/<sub_id>/replay")
def replay(sub_id: str) -> Response:
    rt = Runtime.of()
    request_ = _validate(Replay, json_body(MAX_BODY), "invalid replay request")
    sub = _get(sub_id)
    if not sub.enabled:
        raise ApiError(409, "the subscription is disabled; enable it before replaying", "id")
    now = now_ms()
    # the model holds exactly one of message_id and since
    if request_.since is not None:
        since_ms = int(parse_ts(request_.since).timestamp() * 1000)
        count = rt.store.replay_since(sub, since_ms, now)
    elif request_.message_id is not None:
        if not rt.store.replay_message(sub_id, request_.message_id, now):
            raise ApiError(404, f"no message {request_.message_id!r} for this subscription",
                           "message_id")
        count = 1
    if count:
        rt.delivery.notify()
    log.info("replay requested", extra={"subscription_id": sub_id, "messages": count})
    return json_response({"replayed": count}, 202)
