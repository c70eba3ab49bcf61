"""Routes for records: publish, import signed batches, fetch one, list with filters."""

from typing import Any

from aiohttp import web

from node.api.bodies import parse_json_object
from node.auth import (
    readable_audiences,
    require_publishing_right,
    require_role,
    require_writer,
    token_info,
)
from node.deadlines import deadline_table
from node.params import int_param, parse_time_ms
from node.problems import ApiError, BadParameter, BadRequest, NotFound, UnsupportedMediaType
from node.publishing import publish, retraction_target, signed_here
from node.reads import json_answer
from node.state import CONFIG, FEDERATION, NODE_KEY, STORE, VERIFIER
from node.views import record_view
from protocol.envelope import AUDIENCES, KIND_PATTERN
from protocol.errors import KeyFormatError
from protocol.keys import b64url_decode, b64url_encode, key_text, parse_key_text
from protocol.records import decode_batch
from storage.classify import IngestResult, Outcome
from storage.ingest import ingest_batch
from storage.stored import RecordFilter, StoredRecord
from storage.tokens import Role

routes = web.RouteTableDef()
MAX_PAGE = 500
DEFAULT_PAGE = 100
LIST_PARAMETERS = frozenset({"kind", "origin", "audience", "since", "limit", "cursor"})


def stored_view(record: StoredRecord) -> dict[str, Any]:
    return record_view(
        record.envelope, record.envelope_bytes, record.signature, record.body, record.id
    )


@routes.post("/api/v1/records")
async def create_record(request: web.Request) -> web.Response:
    info, check = await require_writer(request)
    payload = await _json_object(request)
    unknown = sorted(set(payload) - {"kind", "audience", "body"})
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; expected kind, audience, body")
    for field in ("kind", "audience", "body"):
        if field not in payload:
            raise BadRequest(f"missing field: {field}")
    records, key = request.app[STORE].records, request.app[NODE_KEY]
    target = retraction_target(payload["kind"], payload["body"])
    require_publishing_right(
        info,
        payload["kind"],
        retracts_unsigned=target is not None and not await signed_here(records, key, target),
    )
    config = request.app[CONFIG]
    record = await publish(
        records,
        key,
        network_id=config.network.id,
        limits=config.limits.limits(),
        kind=payload["kind"],
        audience=payload["audience"],
        body=payload["body"],
        clock=request.app[STORE].clock,
        check=check,
        deadlines=deadline_table(config.deadlines),
    )
    request.app[FEDERATION].published_own([record])
    view = record_view(
        record.envelope, record.envelope_bytes, record.signature, record.body, record.id
    )
    return web.json_response(
        view, status=201, headers={"Location": f"/api/v1/records/{record.id.hex()}"}
    )


@routes.post("/api/v1/records/import")
async def import_records(request: web.Request) -> web.Response:
    _, check = await require_writer(request)
    if request.content_type != "application/msgpack":
        raise UnsupportedMediaType("send the batch as application/msgpack")
    limits = request.app[CONFIG].limits.limits()
    batch = decode_batch(await request.read(), limits)
    # Acknowledged once logged; indexed in the background (docs/architecture.md).
    results = await ingest_batch(
        request.app[VERIFIER],
        request.app[STORE].records,
        batch,
        atomic=True,
        check=check,
        defer=True,
    )
    summary = {
        outcome.value: sum(1 for r in results if r.outcome is outcome) for outcome in Outcome
    }
    views = [_result_view(r) for r in results]
    first = next((i for i, r in enumerate(results) if r.error is not None), None)
    if first is None:
        request.app[FEDERATION].gossip.published(
            [
                rec
                for rec, res in zip(batch, results, strict=True)
                if res.outcome is Outcome.ACCEPTED
            ]
        )
        return web.json_response({**summary, "results": views})
    error = results[first].error
    assert error is not None
    raise ApiError(
        f"record {first} of {len(results)} (id {results[first].id.hex()}) was rejected: "
        f"{error.detail}; nothing in this batch was stored",
        status=error.status,
        code=error.code,
        **summary,
        results=views,
    )


@routes.get("/api/v1/records/{id}")
async def get_record(request: web.Request) -> web.Response:
    raw_id = request.match_info["id"]
    try:
        record_id = bytes.fromhex(raw_id)
    except ValueError:
        record_id = b""
    if len(record_id) != 32 or raw_id != record_id.hex():
        raise BadParameter("id", "a record id is 64 lowercase hex characters")
    audiences = readable_audiences(await token_info(request))
    record = await request.app[STORE].records.get(record_id)
    if record is None or record.envelope.audience not in audiences:
        raise NotFound(f"no record {raw_id} is visible to this request")
    return web.json_response(stored_view(record))


@routes.get("/api/v1/records")
async def list_records(request: web.Request) -> web.Response:
    query = request.query
    unknown = sorted(set(query) - LIST_PARAMETERS)
    if unknown:
        raise BadParameter(
            unknown[0], f"unknown parameter; use {', '.join(sorted(LIST_PARAMETERS))}"
        )
    readable = readable_audiences(await token_info(request))
    audiences = readable
    if "audience" in query:
        audience = query["audience"]
        if audience not in AUDIENCES:
            raise BadParameter("audience", f"must be one of {', '.join(AUDIENCES)}")
        if audience not in readable:
            raise BadParameter("audience", f"reading the {audience} audience needs a bearer token")
        audiences = (audience,)
    kinds = tuple(k for k in query.get("kind", "").split(",") if k)
    for kind in kinds:
        if not KIND_PATTERN.fullmatch(kind):
            raise BadParameter("kind", f"{kind[:40]!r} is not a kind name")
    origin = None
    if "origin" in query:
        try:
            origin = parse_key_text(query["origin"])
        except KeyFormatError as exc:
            raise BadParameter("origin", exc.detail) from exc
    limit = int_param(query, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    after = _cursor(query.get("cursor"))
    where = RecordFilter(
        kinds=kinds,
        origin=origin,
        audiences=audiences,
        since_ms=parse_time_ms("since", query.get("since")),
    )
    records = await request.app[STORE].records.page(where, after_rid=after, limit=limit)
    next_cursor = b64url_encode(str(records[-1].rid).encode()) if len(records) == limit else None
    return await json_answer(
        lambda: {
            "records": [stored_view(r) for r in records],
            "next_cursor": next_cursor,
            "audiences": list(audiences),
        },
        len(records),
    )


@routes.get("/api/v1/forks")
async def list_forks(request: web.Request) -> web.Response:
    """Fork evidence: origins that signed two envelopes for one feed slot."""
    await require_role(request, frozenset({Role.ADMIN}))
    forks = await request.app[STORE].records.forks()
    return web.json_response(
        {
            "forks": [
                {
                    "origin": key_text(f.origin),
                    "audience": f.audience,
                    "seq": f.seq,
                    "first_id": f.first_id.hex(),
                    "second_id": f.second_id.hex(),
                    "detected_ms": f.detected_ms,
                }
                for f in forks
            ]
        }
    )


def _result_view(result: IngestResult) -> dict[str, Any]:
    view: dict[str, Any] = {"id": result.id.hex(), "outcome": result.outcome.value}
    if result.code is not None:
        view["code"] = result.code
        view["detail"] = result.detail
    return view


async def _json_object(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send a JSON object as application/json")
    # Bounded by the app's client_max_size, which any import batch fits in.
    return parse_json_object(await request.read())


def _cursor(text: str | None) -> int:
    if text is None:
        return 0
    try:
        value = b64url_decode(text).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        value = ""
    if not value.isdigit() or len(value) > 18:
        raise BadParameter("cursor", "not a cursor this node issued")
    return int(value)
