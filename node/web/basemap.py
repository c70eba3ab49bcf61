"""An operator's PMTiles basemap, its fonts and sprites, served by the node itself.

GET /basemap/{name}                       the PMTiles file of ``[site] basemap``, with Range
GET /basemap/fonts/{fontstack}/{range}    a glyph range (``0-255.pbf``) of a font stack
GET /basemap/sprites/{name}               a sprite sheet (``light.json``, ``light@2x.png``, ...)

``[site] basemap = "pmtiles:FILE"`` names a file in the ``basemap/`` folder of
the data directory; its fonts and sprites sit beside it (docs/site.md, "Basemap"):

    <data directory>/basemap/FILE.pmtiles
    <data directory>/basemap/fonts/<font stack>/<start>-<end>.pbf
    <data directory>/basemap/sprites/<name>.json, <name>.png, <name>@2x.json, <name>@2x.png

The script map reads the PMTiles file with HTTP Range requests, so the file is
never read whole: aiohttp's ``FileResponse`` answers ``206`` with
``Content-Range``, ``416`` for a range outside the file, and honours ``ETag``,
``If-Range`` and ``If-None-Match``. Only names matching :data:`_NAME` are looked
up, so no request reaches outside the folder. A configured file that is
missing is logged at start-up and noted on the map page, which then draws the
shipped outlines: never a crash.
"""

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import structlog
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter

from node.web.i18n import N_

routes = web.RouteTableDef()
log = structlog.get_logger(__name__)

FOLDER: Final = "basemap"
CACHE_CONTROL: Final = "public, max-age=86400"
# A file or folder name: letters, digits, spaces (font stacks), dots, dashes, @.
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}$")
_GLYPHS: Final = re.compile(r"^[0-9]{1,5}-[0-9]{1,5}\.pbf$")
MISSING: Final = N_("map.basemap_missing")


@dataclass(frozen=True)
class Basemap:
    """The basemap the operator chose, and where its files are."""

    folder: Path
    pmtiles: str | None  # the file's name; None: the shipped outlines
    missing: bool = False

    @classmethod
    def configured(cls, setting: str, data_dir: Path) -> "Basemap":
        folder = data_dir / FOLDER
        if not setting.startswith("pmtiles:"):
            return cls(folder, None)
        name = setting.removeprefix("pmtiles:")
        if not (folder / name).is_file():
            log.warning(
                "basemap_missing",
                path=str(folder / name),
                hint="place the PMTiles file there (docs/site.md); the map draws outlines",
            )
            return cls(folder, name, missing=True)
        return cls(folder, name)

    @property
    def attribute(self) -> str:
        """The ``data-basemap`` of the map: ``outlines`` or ``pmtiles:<its URL>``."""
        if self.pmtiles is None or self.missing:
            return "outlines"
        return f"pmtiles:/{FOLDER}/{self.pmtiles}"


BASEMAP: Final = web.AppKey("basemap", Basemap)


def basemap_attribute(app: web.Application) -> str:
    return app[BASEMAP].attribute


def basemap_problem(app: web.Application) -> str | None:
    """The message id of the note the map page shows when the basemap is missing."""
    return MISSING if app[BASEMAP].missing else None


def _file(folder: Path, *names: str) -> Path:
    if not all(_NAME.match(name) for name in names):
        raise web.HTTPNotFound()
    path = folder.joinpath(*names)
    if not path.is_file():
        raise web.HTTPNotFound()
    return path


class _FileResponse(web.FileResponse):
    """aiohttp's ``FileResponse`` (Range, 416, ETag, If-None-Match), with ``If-Range``
    also honoured for an entity tag, which aiohttp compares only as a date: a range is
    sent only while the file is the one the tag names (RFC 9110 13.1.5)."""

    async def prepare(self, request: web.BaseRequest) -> AbstractStreamWriter | None:
        if_range = request.headers.get("If-Range", "")
        if if_range.startswith(('"', "W/")) and "Range" in request.headers:
            stat = await asyncio.to_thread(self._path.stat)
            if if_range != f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"':  # aiohttp's ETag
                headers = request.headers.copy()
                del headers["Range"]
                request = request.clone(headers=headers)
        return await super().prepare(request)


def _send(path: Path, content_type: str | None) -> web.FileResponse:
    response = _FileResponse(path, headers={"Cache-Control": CACHE_CONTROL})
    if content_type is not None:
        response.content_type = content_type
    return response


@routes.get("/basemap/{name}")
async def pmtiles_file(request: web.Request) -> web.FileResponse:
    basemap = request.app[BASEMAP]
    name = request.match_info["name"]
    if basemap.pmtiles is None or name != basemap.pmtiles:
        raise web.HTTPNotFound()
    return _send(_file(basemap.folder, name), "application/vnd.pmtiles")


@routes.get("/basemap/fonts/{fontstack}/{range}")
async def glyphs(request: web.Request) -> web.FileResponse:
    glyph_range = request.match_info["range"]
    if not _GLYPHS.match(glyph_range):
        raise web.HTTPNotFound()
    folder = request.app[BASEMAP].folder / "fonts"
    path = _file(folder, request.match_info["fontstack"], glyph_range)
    return _send(path, "application/x-protobuf")


@routes.get("/basemap/sprites/{name}")
async def sprites(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if not name.endswith((".json", ".png")):
        raise web.HTTPNotFound()
    return _send(_file(request.app[BASEMAP].folder / "sprites", name), None)
