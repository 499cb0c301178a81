"""Validating the exporter's POST bodies against their contract models.

A bad body raises ``ValidationError`` with the JSON path of the first offending
field (``trends[3].count``), which the HTTP layer answers as a 400 naming it.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel

from streamwatch.contracts.errors import field_errors

M = TypeVar("M", bound=BaseModel)


class ValidationError(ValueError):
    """A request body is malformed; ``field`` names the first offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def validate(model: type[M], body: Any) -> M:
    """``body`` as ``model``, or ``ValidationError`` naming its first bad field."""
    if not isinstance(body, dict):
        raise ValidationError("body", f"must be a JSON object ({model.__name__})")
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as exc:
        first = field_errors(exc)[0]
        raise ValidationError(first["field"], first["error"]) from None
