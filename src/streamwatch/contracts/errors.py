"""A model's validation errors as the APIs answer them: ``{"field": path, "error": text}``.

``field`` is the JSON path of the offending value (``orders[1].since_purchase_s.p90``).
A check that spans several fields (an end after its start) runs in a model
validator, whose errors would name the whole object; it raises ``field_error``
instead, which names the field it is about.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

_FIELD_ERROR = "field"

# The errors every API meets most, in the words the APIs used before the models (and
# their users' scripts may look for); a template takes the error's context. Other
# errors keep pydantic's wording.
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
    "unexpected_keyword_argument": "is not a known field",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_type": "must be true or false",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be an array",
    "tuple_type": "must be an array",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "must match {pattern}",
    "literal_error": "must be one of {expected}",
    "greater_than_equal": "must be >= {ge}",
    "less_than_equal": "must be <= {le}",
    "too_long": "must hold at most {max_length} items",
    "too_short": "must hold at least {min_length} items",
}


def field_error(field: str, message: str) -> PydanticCustomError:
    """An error about ``field`` of the model whose validator raises it."""
    # the message is a format template for pydantic: braces would be placeholders
    return PydanticCustomError(_FIELD_ERROR, message.replace("{", "(").replace("}", ")"),
                               {"field": field})


def json_path(loc: Sequence[int | str], root: str = "body") -> str:
    """``("trends", 3, "count")`` -> ``trends[3].count``; ``()`` -> ``root``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or root


def _message(err: ErrorDetails) -> str:
    ctx: dict[str, Any] = err.get("ctx") or {}
    if err["type"] == "string_too_short":
        return ("must be a non-empty string" if ctx.get("min_length") == 1
                else f"must be at least {ctx.get('min_length')} characters")
    if err["type"] in _MESSAGES:
        try:
            return _MESSAGES[err["type"]].format(**ctx)
        except KeyError:
            return err["msg"]
    if err["type"] == "value_error" and "error" in ctx:
        return str(ctx["error"])  # a validator's own ValueError, without "Value error, "
    return err["msg"]


def located_errors(exc: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    """Every error of ``exc`` as (location, message), in field order."""
    errors = exc.errors(include_url=False, include_input=False)
    # every location that holds a failing value deeper down
    bad_items = {tuple(e["loc"][:n]) for e in errors for n in range(len(e["loc"]))}
    out = []
    for err in errors:
        loc = tuple(err["loc"])
        if err["type"] == "too_short" and loc in bad_items:
            continue  # a list whose only items were refused: its items' errors say why
        if err["type"] == _FIELD_ERROR:
            loc += (str((err.get("ctx") or {})["field"]),)
        out.append((loc, _message(err)))
    return out


def field_errors(exc: ValidationError, root: str = "body") -> list[dict[str, str]]:
    """Every error of ``exc`` as ``{"field": JSON path, "error": message}``, in field order."""
    return [{"field": json_path(loc, root), "error": message}
            for loc, message in located_errors(exc)]


class Error(BaseModel):
    """The body of every error answer: ``field`` names what was wrong (a JSON path, a
    query parameter, a header), ``errors`` lists each problem when there are several."""

    error: str
    field: str | None = None
    errors: list[dict[str, Any]] | None = None
