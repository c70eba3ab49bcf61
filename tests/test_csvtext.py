"""The fast CSV text (node.exports.csvtext) writes what csv.writer wrote, cell for cell.

The reference below is the writer exports used before: each kind's values
(node.exports.columns), free text guarded against formulas, lists and maps joined,
then csv.writer with its defaults and CRLF line ends.
"""

import csv
import io
from typing import Any

import msgpack
from hypothesis import given
from hypothesis import strategies as st

from node.exports.columns import COLUMNS, ROW_VALUES, incident_values
from node.exports.csvtext import (
    FORMULA_STARTS,
    created_text,
    csv_line,
    deployment_cells,
    incident_cells,
)
from protocol.utc import utc_text
from storage.queries import BodyRow
from tests.factories import deployment_body, incident_body

FREE = {
    "incident": {
        "region",
        "city",
        "technology_detail",
        "agency",
        "agency_identifier",
        "summary",
        "sources",
        "tags",
    },
    "deployment": {"city", "operator", "agency", "osm", "frt_basis", "sources"},
}
TRICKY = (
    "=1+2",
    "-3",
    "+x",
    "@SUM(A1)",
    "\tx",
    "a, b",
    'say "no"',
    "line\nbreak",
    "cr\rx",
    "é ü 漢",
)


def reference_line(values: list[Any], free: set[int]) -> str:
    out = []
    for i, value in enumerate(values):
        if i in free and value is not None:
            if isinstance(value, list):
                value = " ".join(str(v) for v in value)
            elif isinstance(value, dict):
                value = ";".join(f"{k}={v}" for k, v in value.items())
            if isinstance(value, str) and value[:1] in FORMULA_STARTS:
                value = "'" + value
        out.append(value)
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerow(out)
    return text.getvalue()


def body_row(body: dict[str, Any], created_ms: int = 1_767_225_600_123) -> BodyRow:
    return (1, bytes(range(32)), bytes(32), "public", created_ms, msgpack.packb(body))


@given(st.lists(st.text(), min_size=2, max_size=8))
def test_a_line_is_what_csv_writer_writes(cells: list[str]) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerow(cells)
    assert csv_line(cells) == text.getvalue()


@given(st.integers(min_value=0, max_value=253_402_300_799_999))
def test_created_text_is_the_rfc3339_moment(ms: int) -> None:
    assert created_text(ms) == utc_text(ms, "rfc3339")


def test_incident_cells_match_the_reference_for_tricky_text() -> None:
    free = {i for i, name in enumerate(_names("incident")) if name in FREE["incident"]}
    for text in TRICKY:
        body = incident_body(
            region=text,
            city=text,
            summary=text,
            technology={"type": "live_frt", "detail": text},
            agency={"name": text, "identifier": text},
            sources=[{"url": "https://example.org/a,b"}, {"url": "https://example.org/2"}],
            tags=["a", "b", text],
        )
        row = body_row(body)
        assert csv_line(incident_cells(row, body)) == reference_line(
            incident_values(row, body), free
        )
    bare = {k: v for k, v in incident_body().items() if k in ("occurred_on", "country", "category")}
    bare |= {"technology": {"type": "live_frt"}, "summary": "x"}
    row = body_row(bare, created_ms=0)
    assert csv_line(incident_cells(row, bare)) == reference_line(incident_values(row, bare), free)


def test_deployment_cells_match_the_reference_for_tricky_text() -> None:
    free = {i for i, name in enumerate(_names("deployment")) if name in FREE["deployment"]}
    for text in TRICKY:
        body = deployment_body(
            city=text,
            agency={"name": text},
            osm={"operator": text, "surveillance:type": "camera"},
            lat_e7=-123_456_789,
        )
        row = body_row(body)
        expected = reference_line(ROW_VALUES["deployment"](row, body), free)
        assert csv_line(deployment_cells(row, body)) == expected


def _names(kind: str) -> list[str]:
    return [c.name for c in COLUMNS[kind]]
