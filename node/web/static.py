"""Every file the pages use, served by the node itself: nothing comes from elsewhere.

    GET /static/{path}    a file under ``node/web/static/`` (stylesheets, scripts,
                          the vendored libraries in ``vendor/``, map outlines)

The files are read once, at import, so a request never touches the disk and a
path can name nothing outside the folder: only the names found there are served.
A text file's gzip form is made on its first request, in a thread, and kept:
compressing them all at import took a quarter of a second of every ``banscan``
command's start, most of them never serving a file. :func:`static_url` gives a file's URL with
a hash of its content (``?v=``), so pages can let browsers and caches keep it for a
year; a request whose ``v`` is not the current hash gets the file too, but revalidated.
"""

import asyncio
import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final

from aiohttp import web

from node.security import content_security_policy

routes = web.RouteTableDef()

_TEXT_TYPES: Final = {
    ".css": "text/css",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".txt": "text/plain",
}
_BINARY_TYPES: Final = {
    ".png": "image/png",
    ".pbf": "application/x-protobuf",
    ".woff2": "font/woff2",
}
IMMUTABLE: Final = "public, max-age=31536000, immutable"
# A dedicated worker runs under the policy its own script is served with, not the page's:
# MapLibre's worker fetches the map's tiles and outlines from this origin.
WORKERS: Final = frozenset({"vendor/maplibre-gl/dist/maplibre-gl-csp-worker.js"})
WORKER_POLICY: Final = content_security_policy(connect=True)
REVALIDATE: Final = "public, max-age=0, must-revalidate"


@dataclass(frozen=True)
class StaticFile:
    body: bytes
    compressible: bool  # a text type, served gzipped to clients that take it
    content_type: str
    charset: str | None
    version: str  # the first 12 hex digits of the content's SHA-256

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


def _walk(folder: Traversable, prefix: str = "") -> dict[str, StaticFile]:
    found: dict[str, StaticFile] = {}
    for entry in folder.iterdir():
        name = prefix + entry.name
        if entry.is_dir():
            found.update(_walk(entry, name + "/"))
            continue
        suffix = "." + entry.name.rsplit(".", 1)[-1] if "." in entry.name else ""
        body = entry.read_bytes()
        version = hashlib.sha256(body).hexdigest()[:12]
        if suffix in _TEXT_TYPES:
            found[name] = StaticFile(body, True, _TEXT_TYPES[suffix], "utf-8", version)
        elif suffix in _BINARY_TYPES:
            found[name] = StaticFile(body, False, _BINARY_TYPES[suffix], None, version)
        else:
            guessed = mimetypes.guess_type(entry.name)[0]
            if guessed is not None and not entry.name.endswith((".md", ".py")):
                found[name] = StaticFile(body, False, guessed, None, version)
    return found


FILES: Final = _walk(resources.files("node.web") / "static")
# The gzip form of each text file served so far, by name.
_GZIPPED: dict[str, bytes] = {}


async def gzipped(name: str) -> bytes:
    """``FILES[name]``'s body gzipped, made once (off the event loop: the largest
    vendored script takes a tenth of a second) and kept."""
    found = _GZIPPED.get(name)
    if found is None:
        found = await asyncio.to_thread(gzip.compress, FILES[name].body, 9, mtime=0)
        _GZIPPED[name] = found
    return found


def static_url(name: str) -> str:
    """The URL of ``node/web/static/<name>``, which changes whenever the file does."""
    return f"/static/{name}?v={FILES[name].version}"


@routes.get("/static/{name:.+}")
async def static_file(request: web.Request) -> web.StreamResponse:
    found = FILES.get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    headers = {
        "ETag": found.etag,
        "Cache-Control": IMMUTABLE if request.query.get("v") == found.version else REVALIDATE,
        "Vary": "Accept-Encoding",
    }
    if request.match_info["name"] in WORKERS:
        headers["Content-Security-Policy"] = WORKER_POLICY
    if found.etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    body = found.body
    if found.compressible and "gzip" in request.headers.get("Accept-Encoding", ""):
        body = await gzipped(request.match_info["name"])
        headers["Content-Encoding"] = "gzip"
    return web.Response(
        body=body, content_type=found.content_type, charset=found.charset, headers=headers
    )
