"""What anonymous reads add to their operations: validators, 304 and 503 busy.

The routes :mod:`node.reads` gates and caches answer with ``ETag``,
``Last-Modified``, ``Cache-Control`` and ``Vary``, ``304`` to a matching
conditional request, and ``503`` problem+json with ``Retry-After`` when too
many anonymous reads are waiting (docs/api.md, "Caching and busy nodes").
"""

from typing import Any

from node.api.openapi.parts import problem
from node.reads import CACHED_ROUTES, GATED_ROUTES


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


VALIDATORS = {
    "ETag": _header("A strong validator of the answer's bytes (anonymous answers)."),
    "Last-Modified": _header("When the data behind the answer last changed (anonymous answers)."),
    "Cache-Control": _header(
        "public, max-age=N for an anonymous answer; private, no-store with a token."
    ),
    "Vary": _header("Authorization: answers with and without a token differ."),
}
NOT_MODIFIED = {
    "description": "The answer has not changed since the validator the request sent "
    "(If-None-Match or If-Modified-Since); no body.",
    "headers": {name: VALIDATORS[name] for name in ("ETag", "Cache-Control", "Vary")},
}
BUSY = {
    **problem("Too many anonymous reads are waiting; retry after Retry-After seconds."),
    "headers": {"Retry-After": _header("Seconds to wait before asking again.")},
}


def add_read_answers(paths: dict[str, Any]) -> None:
    """Add the caching headers, 304 and 503 to the GET operations of gated routes."""
    for path in sorted(GATED_ROUTES):
        responses = paths[path]["get"]["responses"]
        responses["503"] = BUSY
        if path in CACHED_ROUTES:
            responses["200"] = {**responses["200"], "headers": VALIDATORS}
            responses["304"] = NOT_MODIFIED
