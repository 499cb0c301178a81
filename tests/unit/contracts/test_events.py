import pytest

from streamwatch.contracts.events import (
    Alert,
    EventError,
    Label,
    OrderEvent,
    Transaction,
    Tweet,
    alert_id,
    format_epoch_ms,
    parse_ts,
)

TXN = {"txn_id": "t-000000001", "event_time": "2026-11-20T10:15:03.120Z",
       "card_id": "c-004211", "customer_id": "u-004211", "amount": "42.10",
       "currency": "USD", "merchant_id": "m-00071", "merchant_category": "grocery",
       "channel": "pos", "lat": 40.71, "lon": -74.01, "country": "US"}


def make_alert(**over):
    doc = {"rule": "card_testing", "severity": "high", "score": 0.93, "card_id": "c-004211",
           "txn_ids": ["t-1", "t-2"], "event_time": "2026-11-20T10:15:03.120Z",
           "detected_at": "2026-11-20T10:15:04.000Z", "reason": "7 tests"}
    doc.update(over)
    doc.setdefault("alert_id", alert_id(doc["rule"], doc["card_id"], doc["txn_ids"][0]))
    return doc


def test_architecture_examples_parse():
    Tweet.from_dict({"id": "1850000000000000001", "created_at": "2026-11-20T10:15:03.120Z",
                     "user": "ada", "lang": "en", "text": "Launch day! #spark #streaming"})
    assert Transaction.from_dict(TXN).device_id is None
    assert Label.from_dict({"txn_id": "t-1", "is_fraud": True, "scenario": "card_testing"})
    assert Alert.from_dict(make_alert()).to_dict()["txn_ids"] == ["t-1", "t-2"]


def test_every_bad_field_is_named():
    with pytest.raises(EventError) as err:
        Transaction.from_dict({**TXN, "amount": "ten", "lat": 200, "channel": "fax"})
    assert {e["field"] for e in err.value.errors} == {"amount", "lat", "channel"}


def test_alert_id_must_match_its_content():
    with pytest.raises(EventError, match="alert_id"):
        Alert.from_dict(make_alert(alert_id="0" * 64))


def test_fraud_label_needs_a_scenario():
    with pytest.raises(EventError, match="scenario"):
        Label.from_dict({"txn_id": "t-1", "is_fraud": True})


def test_timestamps_round_trip():
    assert format_epoch_ms(1_763_633_703_120) == "2025-11-20T10:15:03.120Z"
    assert parse_ts("2025-11-20T10:15:03.120Z").timestamp() == 1_763_633_703.12
    with pytest.raises(ValueError):
        parse_ts("20 Nov 2025")


@pytest.mark.spark
@pytest.mark.parametrize("cls", [Tweet, Transaction, Label, Alert, OrderEvent])
def test_spark_ddl_matches_the_model(spark, cls):
    names = list(cls.model_fields)
    assert spark.createDataFrame([], cls.DDL).schema.fieldNames() == names


@pytest.mark.parametrize("detected_at", [
    "1969-12-31T23:59:59.999Z",           # Spark's processing time without a time mode (-1)
    "1970-01-01T00:00:00.000Z",
    "2026-11-20T10:09:03.119Z",           # 6 minutes before the event
])
def test_a_detection_time_before_the_event_or_from_a_broken_clock_is_refused(detected_at):
    with pytest.raises(EventError) as err:
        Alert.from_dict(make_alert(detected_at=detected_at))
    assert [e["field"] for e in err.value.errors] == ["detected_at"]


@pytest.mark.parametrize("detected_at", [
    "2026-11-20T10:15:03.120Z",           # the event's own millisecond
    "2026-11-20T10:12:03.120Z",           # 3 minutes before: the detector's clock trails
    "2026-12-20T10:15:03.120Z",           # a replay of old events
])
def test_a_detection_time_at_or_after_the_event_is_accepted(detected_at):
    assert Alert.from_dict(make_alert(detected_at=detected_at)).detected_at == detected_at
