"""Reading request bodies: bounded in size before they are read whole, and JSON objects.

Each route says how much it accepts; a body over that is answered 413 as soon
as its ``Content-Length`` (or, when streamed, its running length) says so.
"""

import json
from typing import Any

from aiohttp import web

from node.problems import ApiError, BadRequest, UnsupportedMediaType


async def read_limited(request: web.Request, max_bytes: int) -> bytes:
    """The request body, refusing (413) anything over ``max_bytes`` before reading it all."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError(
            f"the request body is {request.content_length} bytes; at most {max_bytes} are accepted",
            status=413,
            code="too-large",
        )
    data = bytearray()
    while chunk := await request.content.read(64 * 1024):
        data += chunk
        if len(data) > max_bytes:
            raise ApiError(
                f"the request body is over the {max_bytes} bytes accepted",
                status=413,
                code="too-large",
            )
    return bytes(data)


async def read_json(request: web.Request, max_bytes: int) -> dict[str, Any]:
    """A JSON object body of at most ``max_bytes`` (415, 413 or 400 otherwise)."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send a JSON object as application/json")
    return parse_json_object(await read_limited(request, max_bytes))


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """The JSON object ``raw`` holds; 400 with the reason for anything else."""
    try:
        payload = json.loads(raw)
    except json.JSONDecodeError as exc:  # our words: the decoder's own stay out of answers
        raise BadRequest(
            f"the request body is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from exc
    except UnicodeDecodeError as exc:
        raise BadRequest("the request body is not valid JSON: it is not UTF-8") from exc
    except RecursionError as exc:
        raise BadRequest("the request body is nested too deeply") from exc
    except ValueError as exc:  # an integer of more digits than Python converts
        raise BadRequest("the request body holds a number too long to read") from exc
    if not isinstance(payload, dict):
        raise BadRequest("the request body must be a JSON object")
    return payload
