"""Query parameter schemas exactly as narrow as the checks in :mod:`node.params`.

Every value one of these schemas admits is one the node accepts, so a client
(or a schema-driven fuzzer) that follows the document is never refused a
well-formed request. Patterns use only syntax ECMA-262 and Python's ``re``
read alike.
"""

from collections.abc import Iterable
from typing import Any

from node.params import MAX_SEARCH, MAX_TEXT, MAX_VALUES

# What str.strip() removes and what ECMA-262's \s matches, together.
SPACE = "\\s\\x1c-\\x1f\\u0085\\ufeff"
# An ed25519 key: 32 bytes as unpadded base64url, the last character's two spare bits zero.
KEY = "ed25519:[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]"
_DEGREES_180 = "-?(180(\\.0{1,15})?|(1[0-7][0-9]|[0-9]{1,2})(\\.[0-9]{1,15})?)"
_DEGREES_90 = "-?(90(\\.0{1,15})?|[0-8]?[0-9](\\.[0-9]{1,15})?)"
# Calendar days every year has (29 February is left out).
MONTH_DAY = "((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
# Years 0001 to 9999, as Python's datetime takes them.
YEAR = "(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_TIMESTAMP = (
    f"{YEAR}-{MONTH_DAY}T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{{1,6}})?"
    "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)


def listed(item: str) -> dict[str, Any]:
    """Comma-separated values, each matching ``item``, at most MAX_VALUES of them."""
    return {"type": "string", "pattern": f"^({item})(,({item})){{0,{MAX_VALUES - 1}}}$"}


def one_of(values: Iterable[str]) -> str:
    """A pattern matching exactly one of ``values``."""
    return "|".join(sorted(values, key=lambda v: (-len(v), v)))


def listed_names(values: Iterable[str]) -> dict[str, Any]:
    """Comma-separated values, each one of ``values``, at most MAX_VALUES of them."""
    return listed(one_of(values))


def listed_text() -> dict[str, Any]:
    """Comma-separated free text, no value blank, MAX_TEXT characters in all (so no value
    is longer, and there are fewer than MAX_VALUES); the node itself takes longer lists."""
    item = f"[^,{SPACE}][^,]*"
    return {"type": "string", "maxLength": MAX_TEXT, "pattern": f"^{item}(,{item})*$"}


def search_text() -> dict[str, Any]:
    """Words to search for: not blank, no NUL, at most MAX_SEARCH characters."""
    return {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_SEARCH,
        "pattern": f"^[^\\x00]*[^{SPACE}\\x00][^\\x00]*$",
    }


def time_ms() -> dict[str, Any]:
    """Milliseconds since the epoch, or an RFC 3339 timestamp with a zone."""
    return {"type": "string", "pattern": f"^([0-9]{{1,18}}|{_TIMESTAMP})$"}


def calendar_date() -> dict[str, Any]:
    return {"type": "string", "format": "date", "pattern": f"^{YEAR}-{MONTH_DAY}$"}


def bbox() -> dict[str, Any]:
    """min_lon,min_lat,max_lon,max_lat in decimal degrees."""
    lon, lat = _DEGREES_180, _DEGREES_90
    return {"type": "string", "pattern": f"^{lon},{lat},{lon},{lat}$"}


def opaque_cursor() -> dict[str, Any]:
    """A next_cursor the node issued: unpadded base64url."""
    return {"type": "string", "minLength": 2, "maxLength": 400, "pattern": "^[A-Za-z0-9_-]+$"}
