"""X API pieces without a network: backoff schedule, rule parsing, message mapping."""

from __future__ import annotations

import pytest

from streamwatch.contracts.events import EventError
from streamwatch.producers.tweets.xapi import (
    Backoff,
    BackoffPolicy,
    Rule,
    XApiConfig,
    parse_rules,
    tweet_from_stream_message,
)


def test_network_backoff_is_linear_from_zero_and_capped() -> None:
    b = Backoff(BackoffPolicy())
    delays = [b.network() for _ in range(70)]
    assert delays[:4] == [0.0, 0.25, 0.5, 0.75]  # reconnect at once, then 250 ms steps
    assert max(delays) == 16.0 and delays[-1] == 16.0


def test_http_backoff_doubles_from_5s_to_320s() -> None:
    b = Backoff(BackoffPolicy())
    assert [b.http() for _ in range(8)] == [5, 10, 20, 40, 80, 160, 320, 320]


def test_rate_limit_backoff_doubles_from_a_minute_and_waits_for_the_reset() -> None:
    now = 1_000_000.0
    b = Backoff(BackoffPolicy(), clock=lambda: now)
    assert b.rate_limited(None) == 60
    assert b.rate_limited(None) == 120
    assert b.rate_limited(now + 900) == 900  # the reset is later than the backoff
    b.reset()
    assert b.rate_limited(now + 10) == 60  # the backoff is later than the reset


def test_reset_and_scaling() -> None:
    b = Backoff(BackoffPolicy().scaled(0.01))
    b.http()
    b.network()
    b.reset()
    assert b.http() == pytest.approx(0.05)
    assert b.network() == 0.0
    assert b.network() == pytest.approx(0.0025)


def test_parse_rules_forms() -> None:
    assert parse_rules("") == ()
    assert parse_rules("#spark lang:en; #kafka ;") == (Rule("#spark lang:en"), Rule("#kafka"))
    assert parse_rules('["a b", {"value": "#x", "tag": "t"}]') == (Rule("a b"), Rule("#x", "t"))
    with pytest.raises(ValueError, match="must be a string"):
        parse_rules("[42]")
    with pytest.raises(ValueError, match="not valid"):
        parse_rules("[oops")


def test_mapping_prefers_username_then_author_id() -> None:
    msg = {"data": {"id": "1", "text": "hi #Spark", "author_id": "42", "lang": "pt",
                    "created_at": "2026-11-20T10:15:03.120Z"},
           "includes": {"users": [{"id": "7", "username": "other"},
                                  {"id": "42", "username": "ada"}]}}
    assert tweet_from_stream_message(msg).to_dict() == {
        "id": "1", "created_at": "2026-11-20T10:15:03.120Z", "user": "ada", "lang": "pt",
        "text": "hi #Spark"}
    del msg["includes"]
    del msg["data"]["lang"]
    t = tweet_from_stream_message(msg)
    assert (t.user, t.lang) == ("42", "und")


@pytest.mark.parametrize("msg", [{"errors": []}, {"data": {"id": "1"}}, "text",
                                 {"data": {"id": "1", "text": "x", "author_id": "2",
                                           "created_at": "soon"}}])
def test_unmappable_messages_raise_event_errors(msg: object) -> None:
    with pytest.raises(EventError):
        tweet_from_stream_message(msg)


def test_token_never_in_repr() -> None:
    config = XApiConfig(token="secret-token-123")
    assert "secret-token-123" not in repr(config)
    with pytest.raises(ValueError, match="STREAMWATCH_X_BEARER_TOKEN"):
        XApiConfig(token="")
