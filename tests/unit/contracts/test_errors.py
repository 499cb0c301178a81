"""Model errors as the APIs answer them: every error, each named by its JSON path."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from streamwatch.contracts.errors import field_errors, json_path
from streamwatch.contracts.events import Alert, EventError, OrderEvent
from streamwatch.contracts.orders import OrdersBody
from tests.factories import alert_body


def errors(model: type[pydantic.BaseModel], doc: Any) -> list[dict[str, str]]:
    with pytest.raises(pydantic.ValidationError) as info:
        model.model_validate(doc)
    return field_errors(info.value)


def alert(**over: Any) -> dict[str, Any]:
    return {**alert_body("velocity", "c-1", ["t-1"], event_time="2026-11-20T10:00:00.000Z",
                         detected_at="2026-11-20T10:01:00.000Z", reason="r"), **over}


def test_json_paths() -> None:
    assert json_path(("orders", 1, "since_purchase_s", "p90")) == "orders[1].since_purchase_s.p90"
    assert json_path(()) == "body"
    assert json_path((), root="(root)") == "(root)"


def test_every_bad_field_is_named_by_its_path_in_the_words_of_the_api() -> None:
    with pytest.raises(EventError) as info:
        Alert.from_dict(alert(txn_ids=["t-1", 7], score="0.5", severity="urgent", colour="red"))
    assert info.value.errors == [
        {"field": "severity", "error": "must be one of 'low', 'medium' or 'high'"},
        {"field": "score", "error": "must be a number"},
        {"field": "txn_ids[1]", "error": "must be a string"},
        {"field": "colour", "error": "is not a known field"},
    ]


def test_types_are_strict() -> None:
    row = {"minute_start": "2026-11-20T10:15:00Z", "minute_end": "2026-11-20T10:16:00Z",
           "status": "shipped", "orders": True, "units": "3"}
    assert [e["field"] for e in errors(OrdersBody, {"orders": [row]})] == [
        "orders[0].orders", "orders[0].units"]


def test_a_check_across_fields_names_its_field() -> None:
    row = {"minute_start": "2026-11-20T10:15:00Z", "minute_end": "2026-11-20T10:16:00Z",
           "status": "shipped", "orders": 1, "units": 1, "category": "books", "region": "eu"}
    assert [e["field"] for e in errors(OrdersBody, {"orders": [row]})] == ["orders[0].region"]


def test_a_list_whose_only_item_is_bad_names_the_item_only() -> None:
    doc = {"event_id": "o-1/shipped", "order_id": "o-1", "status": "shipped",
           "event_time": "2026-11-20T10:15:03.120Z", "region": "eu-west",
           "items": [{"sku": "s", "category": "c", "quantity": 0, "unit_price": "1"}]}
    with pytest.raises(EventError) as info:
        OrderEvent.from_dict(doc)
    assert [e["field"] for e in info.value.errors] == ["items[0].quantity"]


@pytest.mark.parametrize(("when", "message"), [
    ("1999-12-31T23:59:59Z", "must lie between 2000-01-01 and 2100-01-01"),
    ("9999-12-31T23:59:59-01:00", "must lie between 2000-01-01 and 2100-01-01"),
    ("2026-13-01T00:00:00Z", "month must be in 1..12"),
    ("yesterday", "must match"),
])
def test_times_that_place_data_are_real_and_bounded(when: str, message: str) -> None:
    with pytest.raises(EventError) as info:
        Alert.from_dict(alert(event_time=when))
    assert [e["field"] for e in info.value.errors] == ["event_time"]
    assert message in info.value.errors[0]["error"]
