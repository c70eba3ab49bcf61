"""The checks pydantic runs in validators, written into the body schemas it generates.

pydantic cannot see inside an ``AfterValidator`` or a ``model_validator``, so the
schemas it generates for the kinds' bodies (:mod:`protocol.kinds`,
:mod:`protocol.fields`) and for reports admit values the node refuses: any
string as a country, a URL or a key, tag keys outside their pattern, a
month-precision date on the 15th, a revocation without ``compromised_since_ms``.
:func:`narrow_checked_fields` tightens those fields, by name, to exactly what
the validators accept.
"""

from typing import Any

from node.api.openapi.patterns import KEY, MONTH_DAY, SPACE, YEAR
from protocol.countries import COUNTRY_CODES
from protocol.envelope import MAX_UINT63

_GEOHASH = "^[0-9b-hjkmnp-z]{1,6}$"
# protocol.fields._http_url, with both Python's and ECMA-262's notion of whitespace.
_HTTP_URL = f"^https?://[^{SPACE}/$.?#][^{SPACE}]*$"
_REPORT_YEAR = "(199[0-9]|[2-9][0-9]{3})"
_COUNTRY = f"({'|'.join(sorted(COUNTRY_CODES))})"

_STRINGS: dict[str, dict[str, Any]] = {
    "country": {"enum": sorted(COUNTRY_CODES)},
    "area": {"pattern": _GEOHASH},
    "url": {"pattern": _HTTP_URL},
    "archived_url": {"pattern": _HTTP_URL},
    "website": {"pattern": _HTTP_URL},
    # The campaign kinds' dates (protocol.fields.IsoDate) and ISO codes (protocol.campaign).
    **{
        name: {"pattern": f"^{YEAR}-{MONTH_DAY}$"}
        for name in ("filed_on", "due_on", "on", "introduced", "passed", "effective",
                     "opens_on", "closes_on", "received_on")
    },
}  # fmt: skip
_URL_LISTS = ("urls", "sources", "links")


def narrow_checked_fields(schemas: dict[str, Any]) -> None:
    """Tighten, in place, the fields of ``schemas`` whose validators pydantic cannot show."""
    for schema in schemas.values():
        for name, field in schema.get("properties", {}).items():
            if name in _STRINGS:
                _narrow_string(field, _STRINGS[name])
            elif name in _URL_LISTS and field.get("items", {}).get("type") == "string":
                field["items"]["pattern"] = _HTTP_URL
            elif "patternProperties" in field:
                # A dict keyed by a pattern (a deployment's osm tags) has no other keys.
                field.setdefault("additionalProperties", False)
    schemas["PartialDate"] = _partial_date(schemas["PartialDate"])
    _narrow_membership(schemas["Membership"])
    _narrow_policy(schemas["Policy"])
    region = f"^{_COUNTRY}(-[A-Z0-9]{{1,3}})?"
    _narrow_string(schemas["Jurisdiction"]["properties"]["code"], {"pattern": region + "$"})
    # The law's name: after one space, no white space first and no line break at all.
    law = region + " \\S[^\\n\\r\\u2028\\u2029]*$"
    _narrow_string(schemas["RecordsRequest"]["properties"]["law"], {"pattern": law})
    _narrow_report(schemas["SubmissionIn"])


def _narrow_string(field: dict[str, Any], narrowed: dict[str, Any]) -> None:
    """The string branch of ``field`` (alone or beside null) takes ``narrowed``."""
    for branch in field.get("anyOf", [field]):
        if branch.get("type") == "string":
            branch.update(narrowed)
            if "enum" in narrowed:
                del branch["type"]


def _partial_date(schema: dict[str, Any]) -> dict[str, Any]:
    """A calendar date, the first day of its month or year at those precisions."""
    dates = {
        "day": f"^{YEAR}-{MONTH_DAY}$",
        "month": f"^{YEAR}-(0[1-9]|1[0-2])-01$",
        "year": f"^{YEAR}-01-01$",
    }
    return schema | {
        "oneOf": [
            {
                "properties": {
                    "date": {"type": "string", "pattern": pattern},
                    "precision": {"const": precision},
                },
            }
            for precision, pattern in dates.items()
        ]
    }


def _narrow_membership(schema: dict[str, Any]) -> None:
    """subject: a key (a request's subject is text); compromised_since_ms: required for
    revoke, and only for revoke."""
    _narrow_string(schema["properties"]["subject"], {"pattern": f"^{KEY}$"})
    schema["if"] = {"properties": {"action": {"const": "revoke"}}}
    schema["then"] = {
        "required": ["compromised_since_ms"],
        "properties": {
            "compromised_since_ms": {"type": "integer", "minimum": 0, "maximum": MAX_UINT63}
        },
    }
    schema["else"] = {"properties": {"compromised_since_ms": {"type": "null"}}}


def _narrow_policy(schema: dict[str, Any]) -> None:
    """A status other than not_recorded needs evidence."""
    schema["if"] = {"not": {"properties": {"status": {"const": "not_recorded"}}}}
    schema["then"] = {"required": ["evidence"], "properties": {"evidence": {"minItems": 1}}}


def _narrow_report(schema: dict[str, Any]) -> None:
    """A report: required text not blank, a day from 1990, lat and lon together,
    a category only for incidents."""
    properties = schema["properties"]
    for name in ("what_happened", "place"):
        properties[name]["pattern"] = f"[^{SPACE}]"
    properties["occurred_on"]["pattern"] = f"^{_REPORT_YEAR}-{MONTH_DAY}$"
    schema["allOf"] = [
        _both("lat", "lon"),
        _both("lon", "lat"),
        {
            "if": {"properties": {"kind": {"const": "deployment"}}},
            "then": {"properties": {"category": {"type": "null"}}},
        },
    ]


def _both(given: str, other: str) -> dict[str, Any]:
    """If ``given`` is a number, ``other`` is one too."""
    return {
        "if": {"required": [given], "properties": {given: {"type": "number"}}},
        "then": {"required": [other], "properties": {other: {"type": "number"}}},
    }
