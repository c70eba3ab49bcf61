"""The page of one public incident or deployment, and its one-record bundle.

    GET /deployments/{id}           a deployment: every public field in words, its
    GET /incidents/{id}             versions, the chapter that signed it, and
                                    "Check this record": the signed bytes and, with
                                    JavaScript, the signature checked in the browser
    GET /deployments/{id}/bundle    the record as a signed-record bundle, which
    GET /incidents/{id}/bundle      ``banscan verify`` checks offline

``id`` is the record id (64 lowercase hex digits); anything else is a 400 page.
An id the node does not hold, a record of another kind or of an audience other
than ``public`` (whatever cookie or header the visitor sends) is the same 404
page, so a page never reveals that a non-public record exists. A retracted
record shows its tombstone and the retraction's reason, never its old body.

The in-browser check (``static/record-check.js``) reads the signed bytes from
the page and verifies them with the vendored ``@noble/ed25519`` (SHA-512 from
``@noble/hashes``, so it also works where ``crypto.subtle`` is missing); the page's
Content-Security-Policy allows same-origin scripts, and only record pages do.
Without JavaScript the section says how to check the bundle with ``banscan verify``.
"""

from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from node.exports.formats import FORMATS, bundle_chunks
from node.problems import BadParameter
from node.security import content_security_policy
from node.state import CONFIG, STORE
from node.web.i18n import N_, Catalog
from node.web.recordview import (
    KIND_PATHS,
    coordinate,
    parse_record_id,
    public_record,
    record_view,
    utc_time,
)
from node.web.site import html, public_page, render
from node.web.static import FILES
from storage.history import RecordHistory
from storage.stored import StoredRecord

routes = web.RouteTableDef()

RECORD_PAGE_POLICY: Final = content_security_policy(scripts=True)
# The vendored libraries of the in-browser check (deploy/vendor.py puts them there):
# Ed25519, and SHA-512 for it and SHA-256 where the browser has no crypto.subtle.
CHECK_MODULES: Final = ("vendor/@noble/ed25519/index.js", "vendor/@noble/hashes/sha2.js")
CHECK_AVAILABLE: Final = all(name in FILES for name in CHECK_MODULES)
# The message ids built from a record's values (for babel; see node.web.messages).
PRECISIONS: Final = ("day", "month", "year")
FRT_BASES: Final = ("procurement_record", "records_request", "vendor_document", "visual")
RETRACTION_REASONS: Final = ("duplicate", "error", "safety", "consent_withdrawn", "legal")
MEMBER_STANDINGS: Final = ("admit", "suspend", "revoke")
TITLES: Final = {
    "deployment": N_("record.title.deployment"),
    "incident": N_("record.title.incident"),
}


def record_message_ids() -> list[str]:
    return [
        *(f"precision.{p}" for p in PRECISIONS),
        *(f"frt_basis.{b}" for b in FRT_BASES),
        *(f"retraction.reason.{r}" for r in RETRACTION_REASONS),
        *(f"chapter.standing.{s}" for s in MEMBER_STANDINGS),
        *(f"rec.back.{kind}" for kind in KIND_PATHS),
    ]


def requested_id(request: web.Request) -> bytes:
    """The path's record id; a 400 page for one that is malformed, or for a query
    parameter other than ``lang``."""
    unknown = sorted(set(request.query) - {"lang"})
    if unknown:
        raise BadParameter(unknown[0][:40], "unknown parameter; this page takes lang")
    text = request.match_info["id"]
    record_id = parse_record_id(text)
    if record_id is None:
        raise BadParameter("id", "a record id is 64 lowercase hexadecimal digits")
    return record_id


def add_record_routes(kind: str) -> None:
    """The record page and the bundle of ``kind``'s records."""
    path = f"/{KIND_PATHS[kind]}/{{id}}"

    @routes.get(path)
    @public_page
    async def page(request: web.Request, t: Catalog) -> web.Response:
        record_id = requested_id(request)
        store = request.app[STORE]
        view = await record_view(store.records, RecordHistory(store.db), record_id, kind)
        if view is None:
            raise web.HTTPNotFound()
        text = render(
            request,
            "record.html",
            t,
            switch_to=request.path,
            nav=KIND_PATHS[kind],
            generic_title=t(TITLES[kind]),
            view=view,
            list_path=f"/{KIND_PATHS[kind]}",
            record_path=f"/{KIND_PATHS[kind]}",
            check_modules=CHECK_MODULES if CHECK_AVAILABLE else None,
            utc_time=utc_time,
            coordinate=coordinate,
        )
        return html(text, headers={"Content-Security-Policy": RECORD_PAGE_POLICY})

    @routes.get(f"{path}/bundle")
    @public_page
    async def bundle(request: web.Request, t: Catalog) -> web.Response:
        record_id = requested_id(request)
        record = await public_record(request.app[STORE].records, record_id)
        if record is None or record.envelope.kind != kind:
            raise web.HTTPNotFound()
        body = await one_record_bundle(record, request.app[CONFIG].network.id)
        name = f"banscan-{kind}-{record_id.hex()[:16]}.bundle"
        return web.Response(
            body=body,
            content_type=FORMATS["bundle"].media_type,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


async def one_record_bundle(record: StoredRecord, network_id: str) -> bytes:
    """``record`` alone as a signed-record bundle (the exports' encoder)."""

    async def one() -> AsyncIterator[StoredRecord]:
        yield record

    return b"".join(
        [chunk async for chunk in bundle_chunks(one(), network_id, record.envelope.created_ms)]
    )


for _kind in KIND_PATHS:
    add_record_routes(_kind)
