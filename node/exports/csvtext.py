"""CSV text written straight from stored rows, at export speed.

An export writes one line per record, so the per-row work is kept to what the
line needs: a stored body decoded once, its cells taken as strings straight
from it (no list of typed values converted afterwards, no per-row object), and
the line joined by :func:`csv_line`, which writes exactly what ``csv.writer``
writes (``QUOTE_MINIMAL``, ``"`` doubled, ``\\r\\n``) but checks the joined line
once for a character that needs quoting instead of each character of each cell.

Incidents and deployments, most of any export, have their own cell functions
(the general path: :mod:`node.exports.csvlines` writes their whole line in one
step and comes back here for a row it cannot);
the campaign kinds go through their values (:mod:`node.exports.campaigncolumns`)
and :func:`cells_of_values`. Every way gives the same text: free text that a
spreadsheet would run as a formula gets a leading ``'``, lists are joined with
spaces and maps written ``key=value;...``, ``None`` is an empty cell.
"""

import functools
from collections.abc import Callable, Sequence
from typing import Any, Final

from node.exports.campaigncolumns import CAMPAIGN_COLUMNS, CAMPAIGN_CONVERTED, CAMPAIGN_ROW_VALUES
from node.exports.columns import COLUMNS, INCIDENT_COLUMNS, degrees, origin_text
from protocol.utc import utc_text
from storage.queries import BodyRow

# Chunks handed to the response are about this size.
CHUNK_BYTES: Final = 1 << 16
_NO_MAP: Final[dict[str, Any]] = {}
_MS_PER_DAY: Final = 86_400_000

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_STARTS: Final = frozenset({"=", "+", "-", "@", "\t", "\r"})

Cells = Callable[[BodyRow, dict[str, Any]], list[str]]


def csv_line(cells: Sequence[str]) -> str:
    """One CSV line of two ``cells`` or more, ending ``\\r\\n``: what ``csv.writer`` writes
    for them with its defaults (a cell holding ``,``, ``"``, ``\\r`` or ``\\n`` is quoted, with
    ``"`` doubled). Most lines need no quoting, which one look at the joined line tells."""
    line = ",".join(cells)
    if (
        line.count(",") == len(cells) - 1
        and '"' not in line
        and "\n" not in line
        and "\r" not in line
    ):
        return line + "\r\n"
    return (
        ",".join(
            [
                cell
                if '"' not in cell and "," not in cell and "\n" not in cell and "\r" not in cell
                else quoted(cell)
                for cell in cells
            ]
        )
        + "\r\n"
    )


def quoted(cell: str) -> str:
    """``cell`` as ``csv.writer`` writes it when it holds a character that needs quoting."""
    if '"' in cell:
        return '"' + cell.replace('"', '""') + '"'
    if "," in cell or "\n" in cell or "\r" in cell:
        return '"' + cell + '"'
    return cell


def text_cell(value: Any) -> str:
    """A free-text value (or list or map of them) as a cell a spreadsheet will not run."""
    if value is None:
        return ""
    if isinstance(value, list):
        text = " ".join(str(v) for v in value)
    elif isinstance(value, dict):
        text = ";".join(f"{k}={v}" for k, v in value.items())
    elif isinstance(value, str):
        text = value
    else:
        return str(value)  # a count: never negative
    return "'" + text if text[:1] in FORMULA_STARTS else text


def cells_of_values(values: Sequence[Any], free: frozenset[int]) -> list[str]:
    """Cells from a kind's values (:mod:`node.exports.columns`); ``free`` holds the
    indexes of free text, lists and maps. Other values are written as ``csv.writer``
    writes them: ``None`` empty, the rest with ``str``."""
    return [
        text_cell(value) if i in free else "" if value is None else str(value)
        for i, value in enumerate(values)
    ]


@functools.lru_cache(maxsize=4096)
def day_text(day: int) -> str:
    """``"YYYY-MM-DDT"`` of the ``day``-th day since the epoch, from the one formatter of
    moments; records come in created order, so most rows share their day with the row
    before."""
    return utc_text(day * _MS_PER_DAY, "rfc3339")[:-13]


# The clock's text in three looked-up parts, cheaper than formatting three numbers a row.
MINUTES: Final = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
SECONDS: Final = tuple(f"{s:02d}." for s in range(60))
MILLISECONDS: Final = tuple(f"{ms:03d}Z" for ms in range(1000))


def clock_text(ms_of_day: int) -> str:
    """``"HH:MM:SS.mmmZ"`` of a time of day in milliseconds."""
    seconds, ms = divmod(ms_of_day, 1000)
    minute, second = divmod(seconds, 60)
    return MINUTES[minute] + SECONDS[second] + MILLISECONDS[ms]


def created_text(created_ms: int) -> str:
    """``utc_text(created_ms, "rfc3339")``, the day's text looked up."""
    day, ms = divmod(created_ms, _MS_PER_DAY)
    return day_text(day) + clock_text(ms)


def _free(value: str) -> str:
    return "'" + value if value[:1] in FORMULA_STARTS else value


# The free-text cells of an incident, which a formula could start.
_INCIDENT_FREE: Final = tuple(
    i
    for i, c in enumerate(INCIDENT_COLUMNS)
    if c.name
    in {
        "region",
        "city",
        "technology_detail",
        "agency",
        "agency_identifier",
        "summary",
        "sources",
        "tags",
    }
)


def incident_cells(row: BodyRow, body: dict[str, Any]) -> list[str]:
    """An incident's cells in :data:`node.exports.columns.INCIDENT_COLUMNS` order.

    Stored bodies passed the incident schema at ingest: each text field is a string or
    absent, so ``or ""`` writes what ``csv.writer`` writes for it."""
    occurred = body.get("occurred_on") or _NO_MAP
    technology = body.get("technology") or _NO_MAP
    agency = body.get("agency") or _NO_MAP
    verification = body.get("verification") or _NO_MAP
    _, record_id, origin, audience, created_ms, _ = row
    cells = [
        record_id.hex(),
        origin_text(origin),
        audience,
        created_text(created_ms),
        occurred.get("date") or "",
        occurred.get("precision") or "",
        body.get("country") or "",
        body.get("region") or "",
        body.get("city") or "",
        body.get("area") or "",
        body.get("category") or "",
        technology.get("type") or "",
        technology.get("detail") or "",
        agency.get("name") or "",
        agency.get("identifier") or "",
        agency.get("record") or "",
        body.get("summary") or "",
        verification.get("status") or "unverified",
        str(verification.get("confirmations", 0)),
        " ".join([s["url"] for s in body.get("sources", ()) if "url" in s]),
        " ".join(body.get("tags", ())),
        body.get("supersedes") or "",
    ]
    for i in _INCIDENT_FREE:
        if cells[i][:1] in FORMULA_STARTS:
            cells[i] = "'" + cells[i]
    return cells


def deployment_cells(row: BodyRow, body: dict[str, Any]) -> list[str]:
    """A deployment's cells in :data:`node.exports.columns.DEPLOYMENT_COLUMNS` order."""
    osm = body.get("osm") or _NO_MAP
    capability = body.get("frt_capability") or _NO_MAP
    observed = body.get("observed_on") or _NO_MAP
    agency = body.get("agency") or _NO_MAP
    _, record_id, origin, audience, created_ms, _ = row
    return [
        record_id.hex(),
        origin_text(origin),
        audience,
        created_text(created_ms),
        degrees(body["lat_e7"]),
        degrees(body["lon_e7"]),
        body.get("country") or "",
        _free(body.get("city") or ""),
        _free(osm.get("operator") or ""),
        _free(agency.get("name") or ""),
        agency.get("record") or "",
        text_cell(dict(osm)),
        capability.get("status") or "unknown",
        _free(" ".join(capability.get("basis", ()))),
        observed.get("date") or "",
        observed.get("precision") or "",
        str(body.get("observers", 0)),
        body.get("status") or "reported",
        _free(" ".join([s["url"] for s in body.get("sources", ()) if "url" in s])),
        body.get("supersedes") or "",
    ]


_CELLS: Final[dict[str, Cells]] = {"incident": incident_cells, "deployment": deployment_cells}


def _campaign_cells(kind: str) -> Cells:
    values_of = CAMPAIGN_ROW_VALUES[kind]
    names = CAMPAIGN_CONVERTED[kind]
    free = frozenset(i for i, c in enumerate(CAMPAIGN_COLUMNS[kind]) if c.name in names)
    return lambda row, body: cells_of_values(values_of(row, body), free)


def row_cells(kind: str) -> Cells:
    """How a row of ``kind`` becomes its cells."""
    return _CELLS.get(kind) or _campaign_cells(kind)


def header_lines(kind: str) -> str:
    """The header row of column names and the HXL hashtag row."""
    columns = COLUMNS.get(kind) or CAMPAIGN_COLUMNS[kind]
    return csv_line([c.name for c in columns]) + csv_line([c.hxl for c in columns])
