"""Routes for coordinators: filtered incidents and deployments, aggregates and coverage.

Without a token only public records are visible; any valid token sees every
audience. Every answer names the audiences it includes.
"""

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from node.api.records import stored_view
from node.auth import readable_audiences, token_info
from node.params import int_param, parse_query_filter
from node.problems import BadParameter
from node.reads import json_answer
from node.state import STORE
from protocol.keys import b64url_decode, b64url_encode, key_text
from protocol.sync import Feed
from storage.queries import (
    ChapterCoverage,
    CursorKey,
    FeedCoverage,
    RecordQueries,
    SortKey,
    SortOrder,
)
from storage.stats import GROUP_KEYS, StatsGroup

routes = web.RouteTableDef()
MAX_PAGE = 500
DEFAULT_PAGE = 100
DEFAULT_SORT = "-created"
SORTS = ("created", "-created", "occurred", "-occurred")
PAGE_PARAMETERS = frozenset({"sort", "limit", "cursor"})
MAX_GROUP_KEYS = 4
_SQLITE_MIN, _SQLITE_MAX = -(1 << 63), (1 << 63) - 1


def queries(request: web.Request) -> RecordQueries:
    return request.app[STORE].queries


@routes.get("/api/v1/incidents")
async def list_incidents(request: web.Request) -> web.Response:
    return await _list(request, "incident")


@routes.get("/api/v1/deployments")
async def list_deployments(request: web.Request) -> web.Response:
    return await _list(request, "deployment")


async def _list(request: web.Request, kind: str) -> web.Response:
    audiences = readable_audiences(await token_info(request))
    query = request.query
    where = parse_query_filter(query, kind, audiences, allowed_extra=PAGE_PARAMETERS)
    sort = parse_sort(query.get("sort", DEFAULT_SORT))
    limit = int_param(query, "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    after = decode_cursor(query["cursor"], sort) if "cursor" in query else None
    rows = await queries(request).page(where, sort, after, limit)
    next_cursor = encode_cursor(rows[-1].cursor_key(sort[0]), sort) if len(rows) == limit else None
    return await json_answer(
        lambda: {
            "records": [stored_view(row.record) for row in rows],
            "next_cursor": next_cursor,
            "audiences": list(audiences),
        },
        len(rows),
    )


@routes.get("/api/v1/stats")
async def stats(request: web.Request) -> web.Response:
    audiences = readable_audiences(await token_info(request))
    query = request.query
    where = parse_query_filter(
        query,
        query.get("kind", "incident"),
        audiences,
        allowed_extra=frozenset({"group_by", "kind"}),
    )
    group_by = parse_group_by(query.get("group_by", ""))
    result = await queries(request).stats(where, group_by)
    return web.json_response(
        {
            "kind": where.kind,
            "group_by": list(group_by),
            "groups": [group_view(g) for g in result.groups],
            "total": group_view(result.total),
            "audiences": list(audiences),
        }
    )


@routes.get("/api/v1/coverage")
async def coverage(request: web.Request) -> web.Response:
    audiences = readable_audiences(await token_info(request))
    unknown = sorted(request.query)
    if unknown:
        raise BadParameter(unknown[0][:40], "unknown parameter; coverage takes none")
    store = request.app[STORE]
    chapters = await queries(request).coverage(audiences)
    advertised = {
        feed: seq
        for feed, seq in (await store.peers.advertised_max()).items()
        if feed[1] in audiences
    }
    known = {chapter.origin: chapter for chapter in chapters}
    # Chapters known from membership or from peers' vectors, though no record is held.
    for member in store.trust.members():
        if member.subject not in known:
            known[member.subject] = ChapterCoverage(member.subject, None, None, None)
    for origin, _ in advertised:
        # What a peer says it holds names a chapter only if a steward admitted it.
        if origin not in known and store.trust.is_member(origin):
            known[origin] = ChapterCoverage(origin, None, None, None)
    for chapter in known.values():
        decided = store.trust.member(chapter.origin)
        if decided is not None and chapter.name is None:
            chapter.name, chapter.city, chapter.country = (
                decided.name,
                decided.city,
                decided.country,
            )
        held = {f.audience for f in chapter.feeds}
        chapter.feeds.extend(
            FeedCoverage(audience, 0, None)
            for origin, audience in sorted(advertised)
            if origin == chapter.origin and audience not in held
        )
    return web.json_response(
        {
            "chapters": [_chapter_view(c, advertised) for c in known.values()],
            "audiences": list(audiences),
        }
    )


def parse_sort(text: str) -> SortOrder:
    if text not in SORTS:
        raise BadParameter("sort", f"must be one of {', '.join(SORTS)}")
    key: SortKey = "created" if text.lstrip("-") == "created" else "occurred"
    return key, text.startswith("-")


def parse_group_by(text: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in text.split(",")) if text else ()
    for key in keys:
        if key not in GROUP_KEYS:
            raise BadParameter("group_by", f"{key[:40]!r} is not one of {', '.join(GROUP_KEYS)}")
    if len(set(keys)) != len(keys):
        raise BadParameter("group_by", "names a key twice")
    if len(keys) > MAX_GROUP_KEYS:
        raise BadParameter("group_by", f"at most {MAX_GROUP_KEYS} keys")
    return keys


def encode_cursor(key: CursorKey, sort: SortOrder) -> str:
    """Opaque to clients: the sort it belongs to, the last row's sort value and rid."""
    value, rid = key
    return b64url_encode(json.dumps([_sort_text(sort), value, rid]).encode())


def decode_cursor(text: str, sort: SortOrder) -> CursorKey:
    try:
        decoded: Any = json.loads(b64url_decode(text))
    except (ValueError, UnicodeDecodeError, RecursionError):
        decoded = None
    expected = int if sort[0] == "created" else str
    if (
        not isinstance(decoded, list)
        or len(decoded) != 3
        or decoded[0] != _sort_text(sort)
        or type(decoded[1]) is not expected
        or type(decoded[2]) is not int
        or not all(_SQLITE_MIN <= v <= _SQLITE_MAX for v in decoded[1:] if type(v) is int)
    ):
        raise BadParameter("cursor", "not a cursor this node issued for this sort")
    value: int | str = decoded[1]
    rid: int = decoded[2]
    return value, rid


def _sort_text(sort: SortOrder) -> str:
    return ("-" if sort[1] else "") + sort[0]


def group_view(group: StatsGroup) -> dict[str, Any]:
    view: dict[str, Any] = {
        name: key_text(value) if value.__class__ is bytes else value
        for name, value in group.keys.items()
    }
    view["count"] = group.count
    view["chapters"] = group.chapters
    view["first"] = group.first
    view["last"] = group.last
    return view


def _chapter_view(chapter: ChapterCoverage, advertised: Mapping[Feed, int]) -> dict[str, Any]:
    return {
        "origin": key_text(chapter.origin),
        "name": chapter.name,
        "city": chapter.city,
        "country": chapter.country,
        "records": chapter.records,
        "feeds": [
            {
                "audience": f.audience,
                "max_seq": f.max_seq,
                "latest_created_ms": f.latest_created_ms,
                "advertised_seq": advertised.get((chapter.origin, f.audience)),
                "behind": _behind(advertised.get((chapter.origin, f.audience)), f.max_seq),
            }
            for f in chapter.feeds
        ],
    }


def _behind(advertised: int | None, held: int) -> int | None:
    return None if advertised is None else max(0, advertised - held)
