"""An incident's or a deployment's whole CSV line in one step: the export's hot path.

Most of an export is incidents and deployments, one line per stored row, and at
100,000 rows a second a row has about 10 µs of CPU in all, SQLite's read
included. So these two kinds skip the general path of :mod:`node.exports.csvtext`
(a body decoded into dicts, a list of cells, a joined line checked for quoting):

- the body is decoded by ``msgspec`` straight into the small frozen structs
  below, which name only the fields a column shows: no dict per map, no key
  strings, fields a column does not need skipped unread, and none of the objects
  tracked by the garbage collector (``gc=False``). A body that does not fit them
  (an explicit nil, which the schema allows and this node's encoder never
  writes, or a value of another type) goes the general way, written as before;
- the line is one f-string. Only the summary, long and often holding a comma, is
  checked and quoted on its own; every other cell that holds text is checked in
  one string for ``,``, ``"``, CR and LF and the free-text ones for a leading
  formula character, and a row where any of them has one goes the general way.
  The created time's clock is three looked-up parts.

The text is what the general path writes, byte for byte (tests/test_csvlines.py).
"""

from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from typing import Final

import msgspec

from node.exports.columns import degrees, origin_text, stored_body
from node.exports.csvtext import (
    CHUNK_BYTES,
    FORMULA_STARTS,
    MILLISECONDS,
    MINUTES,
    SECONDS,
    clock_text,
    csv_line,
    day_text,
    deployment_cells,
    header_lines,
    incident_cells,
    quoted,
    row_cells,
)
from storage.queries import BodyRow

Line = Callable[[BodyRow], str]


# Each part of a stored body as the CSV reads it; other fields are skipped.
class _Date(msgspec.Struct, frozen=True, gc=False):
    date: str
    precision: str


class _Technology(msgspec.Struct, frozen=True, gc=False):
    type: str
    detail: str = ""


class _Agency(msgspec.Struct, frozen=True, gc=False):
    name: str = ""
    identifier: str = ""
    record: str = ""


class _Verification(msgspec.Struct, frozen=True, gc=False):
    status: str = ""
    confirmations: int = 0


class _Source(msgspec.Struct, frozen=True, gc=False):
    url: str


class _Capability(msgspec.Struct, frozen=True, gc=False):
    status: str = ""
    basis: tuple[str, ...] = ()


_NO_AGENCY: Final = _Agency()


class _Incident(msgspec.Struct, frozen=True, gc=False):
    occurred_on: _Date
    country: str
    category: str
    technology: _Technology
    summary: str
    region: str = ""
    city: str = ""
    area: str = ""
    agency: _Agency = _NO_AGENCY
    sources: tuple[_Source, ...] = ()
    verification: _Verification = _Verification()
    tags: tuple[str, ...] = ()
    supersedes: str = ""


class _Deployment(msgspec.Struct, frozen=True, gc=False):
    lat_e7: int
    lon_e7: int
    country: str
    city: str = ""
    osm: dict[str, str] = {}
    frt_capability: _Capability = _Capability()
    agency: _Agency = _NO_AGENCY
    observed_on: _Date | None = None
    observers: int = 0
    status: str = ""
    sources: tuple[_Source, ...] = ()
    supersedes: str = ""


_decode_incident: Final = msgspec.msgpack.Decoder(_Incident).decode
_decode_deployment: Final = msgspec.msgpack.Decoder(_Deployment).decode
_NO_DATE: Final = _Date("", "")


def incident_line(row: BodyRow) -> str:
    """The CSV line of an incident row: ``csv_line(incident_cells(row, body))``."""
    # Written out in full (no helper calls for the checks or the clock): it runs once per row.
    try:
        body = _decode_incident(row[5])
    except msgspec.ValidationError:
        return csv_line(incident_cells(row, stored_body(row[5])))
    technology, agency, occurred = body.technology, body.agency, body.occurred_on
    region, city, detail, name, identifier = (
        body.region,
        body.city,
        technology.detail,
        agency.name,
        agency.identifier,
    )
    verification = body.verification
    tags = " ".join(body.tags)
    sources = " ".join([source.url for source in body.sources])
    _, record_id, origin, audience, created_ms, _ = row
    others = (
        f"{audience}{occurred.date}{occurred.precision}{body.country}{region}{city}{body.area}"
        f"{body.category}{technology.type}{detail}{name}{identifier}{agency.record}"
        f"{verification.status}{sources}{tags}{body.supersedes}"
    )
    if (
        "," in others
        or '"' in others
        or "\n" in others
        or "\r" in others
        or not FORMULA_STARTS.isdisjoint(
            (region[:1], city[:1], detail[:1], name[:1], identifier[:1], sources[:1], tags[:1])
        )
    ):
        return csv_line(incident_cells(row, stored_body(row[5])))
    summary = body.summary
    if summary[:1] in FORMULA_STARTS:
        summary = "'" + summary
    if "," in summary or '"' in summary or "\n" in summary or "\r" in summary:
        summary = quoted(summary)
    seconds, ms = divmod(created_ms, 1000)
    day, second = divmod(seconds, 86_400)
    minute, second = divmod(second, 60)
    return (
        f"{record_id.hex()},{origin_text(origin)},{audience},"
        f"{day_text(day)}{MINUTES[minute]}{SECONDS[second]}{MILLISECONDS[ms]},"
        f"{occurred.date},{occurred.precision},{body.country},{region},{city},{body.area},"
        f"{body.category},{technology.type},{detail},{name},{identifier},{agency.record},"
        f"{summary},{verification.status or 'unverified'},{verification.confirmations},"
        f"{sources},{tags},{body.supersedes}\r\n"
    )


def deployment_line(row: BodyRow) -> str:
    """The CSV line of a deployment row: ``csv_line(deployment_cells(row, body))``."""
    try:
        body = _decode_deployment(row[5])
    except msgspec.ValidationError:
        return csv_line(deployment_cells(row, stored_body(row[5])))
    agency, capability = body.agency, body.frt_capability
    observed = body.observed_on or _NO_DATE
    city, name = body.city, agency.name
    operator = body.osm.get("operator", "")
    osm = ";".join([f"{key}={value}" for key, value in body.osm.items()])
    basis = " ".join(capability.basis)
    sources = " ".join([source.url for source in body.sources])
    _, record_id, origin, audience, created_ms, _ = row
    others = (
        f"{audience}{body.country}{city}{operator}{name}{agency.record}{osm}"
        f"{capability.status}{basis}{observed.date}{observed.precision}{body.status}"
        f"{sources}{body.supersedes}"
    )
    if (
        "," in others
        or '"' in others
        or "\n" in others
        or "\r" in others
        or not FORMULA_STARTS.isdisjoint(
            (city[:1], operator[:1], name[:1], osm[:1], basis[:1], sources[:1])
        )
    ):
        return csv_line(deployment_cells(row, stored_body(row[5])))
    day, clock = divmod(created_ms, 86_400_000)
    return (
        f"{record_id.hex()},{origin_text(origin)},{audience},{day_text(day)}{clock_text(clock)},"
        f"{degrees(body.lat_e7)},{degrees(body.lon_e7)},{body.country},{city},{operator},"
        f"{name},{agency.record},{osm},{capability.status or 'unknown'},{basis},"
        f"{observed.date},{observed.precision},{body.observers},"
        f"{body.status or 'reported'},{sources},{body.supersedes}\r\n"
    )


LINES: Final[dict[str, Line]] = {"incident": incident_line, "deployment": deployment_line}


def line_of(kind: str) -> Line:
    """How a row of ``kind`` becomes its CSV line."""
    if line := LINES.get(kind):
        return line
    cells_of = row_cells(kind)
    return lambda row: csv_line(cells_of(row, stored_body(row[5])))


async def csv_chunks(pages: AsyncIterable[Sequence[BodyRow]], kind: str) -> AsyncIterator[bytes]:
    """CSV of one kind: a header row, the HXL hashtag row, then a line per record, in
    chunks of about :data:`CHUNK_BYTES`."""
    line_of_row = line_of(kind)
    lines = [header_lines(kind)]
    size = len(lines[0])
    # The loop runs once per exported row: it stays free of calls it can do without.
    async for page in pages:
        for row in page:
            line = line_of_row(row)
            lines.append(line)
            size += len(line)
            if size >= CHUNK_BYTES:
                yield "".join(lines).encode()
                lines.clear()
                size = 0
    yield "".join(lines).encode()
