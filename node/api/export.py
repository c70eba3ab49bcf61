"""The export route: current records of one kind, filtered, streamed as a file.

``GET /api/v1/export?format=csv|geojson|ndjson|bundle&kind=incident|deployment|...``
takes the same filters as the query routes (:mod:`node.params`, and for the
campaign kinds :mod:`node.campaignparams`); GeoJSON is for the kinds with a
place on a map. The
parameters are all checked before the first byte is sent, so a bad one gets a
400 problem+json; after that the body streams from the database in constant
memory. Without a token only public records are exported; the
``Banscan-Audiences`` header names the audiences an export includes. Anonymous
exports wait their turn at the read gate (:mod:`node.reads`) and may be kept by
a cache only if revalidated (``no-cache``); exports with a token are
``private, no-store``.
"""

import structlog
from aiohttp import web

from node.api.campaign import today
from node.auth import readable_audiences, token_info
from node.campaignparams import CAMPAIGN_KINDS, parse_campaign_filter
from node.exports.formats import (
    EXPORT_KINDS,
    FORMATS,
    GEOJSON_KINDS,
    CurrentRecords,
    export_chunks,
)
from node.params import parse_query_filter
from node.problems import BadParameter
from node.reads import PRIVATE
from node.state import CONFIG, STORE
from protocol.utc import utc_text

routes = web.RouteTableDef()
EXPORT_PARAMETERS = frozenset({"format", "kind"})
AUDIENCES_HEADER = "Banscan-Audiences"
log = structlog.get_logger("banscan.api")


def _choice(request: web.Request, name: str, choices: tuple[str, ...]) -> str:
    values = request.query.getall(name, [])
    if not values:
        raise BadParameter(name, f"is required: one of {', '.join(choices)}")
    if len(values) > 1:
        raise BadParameter(name, "is given more than once")
    if values[0] not in choices:
        raise BadParameter(name, f"must be one of {', '.join(choices)}")
    return str(values[0])


@routes.get("/api/v1/export")
async def export(request: web.Request) -> web.StreamResponse:
    export_format = FORMATS[_choice(request, "format", tuple(FORMATS))]
    kind = _choice(request, "kind", EXPORT_KINDS)
    audiences = readable_audiences(await token_info(request))
    if kind not in GEOJSON_KINDS and export_format.name == "geojson":
        raise BadParameter("format", f"{kind} records have no place on a map: no geojson")
    campaign = CAMPAIGN_KINDS.get(kind)
    where = (
        parse_query_filter(request.query, kind, audiences, allowed_extra=EXPORT_PARAMETERS)
        if campaign is None
        else parse_campaign_filter(
            request.query, campaign, audiences, today(request), allowed_extra=EXPORT_PARAMETERS
        )
    )
    store = request.app[STORE]
    created_ms = store.clock()

    day = utc_text(created_ms, "basic-date")
    filename = f"banscan-{kind}s-{day}.{export_format.extension}"
    response = web.StreamResponse(
        headers={
            "Content-Type": export_format.media_type,
            "Content-Disposition": f'attachment; filename="{filename}"',
            AUDIENCES_HEADER: ", ".join(audiences),
            "Cache-Control": PRIVATE if "Authorization" in request.headers else "no-cache",
            "Vary": "Authorization",
        }
    )
    chunks = export_chunks(
        export_format,
        CurrentRecords(store.queries, where),
        network_id=request.app[CONFIG].network.id,
        created_ms=created_ms,
    )
    await response.prepare(request)
    try:
        async for chunk in chunks:
            await response.write(chunk)
    except Exception:
        # The status line is sent, so no problem+json can follow. Cutting the
        # connection before the last chunk tells the client the file is incomplete.
        log.exception("export failed after it began", format=export_format.name, kind=kind)
        if request.transport is not None:
            request.transport.close()
        return response
    await response.write_eof()
    return response
