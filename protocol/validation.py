"""A body or a report that fails its schema, described in our own words.

pydantic checks the schemas; what it says is its own wording (and would change
with its versions), so each failure is described here from its stable error
``type`` and context instead: the field's path, then what it must be. The
submitted value is never echoed, and a message a validator of ours raised is
used as it is.
"""

from collections.abc import Callable, Mapping
from typing import Any, Final

from pydantic import ValidationError
from pydantic_core import ErrorDetails

_MAX_ERRORS: Final = 5

_Wording = Callable[[Mapping[str, Any]], str]

# pydantic's error types (https://docs.pydantic.dev/latest/errors/validation_errors/).
_WORDS: Final[dict[str, _Wording]] = {
    "missing": lambda ctx: "Field required",
    "extra_forbidden": lambda ctx: "not a field of this schema",
    "string_type": lambda ctx: "must be text",
    "int_type": lambda ctx: "must be an integer",
    "float_type": lambda ctx: "must be a number",
    "bool_type": lambda ctx: "must be true or false",
    "list_type": lambda ctx: "must be a list",
    "dict_type": lambda ctx: "must be a map",
    "model_type": lambda ctx: "must be a map",
    "model_attributes_type": lambda ctx: "must be a map",
    "literal_error": lambda ctx: f"must be one of {ctx.get('expected', 'the listed values')}",
    "enum": lambda ctx: f"must be one of {ctx.get('expected', 'the listed values')}",
    "string_too_short": lambda ctx: f"must be at least {ctx.get('min_length')} characters",
    "string_too_long": lambda ctx: f"must be at most {ctx.get('max_length')} characters",
    "too_short": lambda ctx: f"must have at least {ctx.get('min_length')} items",
    "too_long": lambda ctx: f"must have at most {ctx.get('max_length')} items",
    "greater_than": lambda ctx: f"must be greater than {ctx.get('gt')}",
    "greater_than_equal": lambda ctx: f"must be at least {ctx.get('ge')}",
    "less_than": lambda ctx: f"must be less than {ctx.get('lt')}",
    "less_than_equal": lambda ctx: f"must be at most {ctx.get('le')}",
    "string_pattern_mismatch": lambda ctx: "does not have the form this field needs",
    "url_parsing": lambda ctx: "must be an http or https URL",
    "url_scheme": lambda ctx: "must be an http or https URL",
    "url_type": lambda ctx: "must be an http or https URL",
    "url_too_long": lambda ctx: f"must be at most {ctx.get('max_length')} characters",
    "date_type": lambda ctx: "must be a date in the form YYYY-MM-DD",
    "date_parsing": lambda ctx: "must be a date in the form YYYY-MM-DD",
    "date_from_datetime_parsing": lambda ctx: "must be a date in the form YYYY-MM-DD",
    "value_error": lambda ctx: str(ctx.get("error", "is not valid")),
    "assertion_error": lambda ctx: str(ctx.get("error", "is not valid")),
}


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming each wrong field, without echoing the submitted values."""
    errors = exc.errors(include_url=False, include_input=False)
    parts = [_describe(error) for error in errors[:_MAX_ERRORS]]
    more = exc.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def _describe(error: ErrorDetails) -> str:
    # Field names can come from the input (unknown keys): keep them short.
    where = ".".join(_short(str(part)) for part in error["loc"][:6]) or "body"
    wording = _WORDS.get(error["type"])
    what = wording(error.get("ctx") or {}) if wording else "is not valid"
    return f"{where}: {_short(what, 200)}"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
