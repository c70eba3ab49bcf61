"""When a public-records request's answer is due: the per-law table of response times.

A ``records_request`` body may carry ``due_on``; when a publisher leaves it
out, :func:`complete_due_on` fills it in before signing, from the law's entry
in the node's table: :data:`SHIPPED_DEADLINES`, which the node ships, extended
or overridden, law by law, by the operator's ``[[deadlines]]`` tables in
``banscan.toml`` (docs/configuration.md). A law the table does not know leaves
``due_on`` out: a deadline is never guessed.

Business days are Monday to Friday; public holidays are not known, so an
operator whose law excludes them may give calendar days or a longer entry.
The first day counted is the day after filing. ``appeal_days`` is the window
to appeal a refusal, from the day of the refusal, in ``appeal_unit`` days;
the pages show it beside a refused request.
"""

import datetime
from collections.abc import Iterable, Mapping
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from protocol.campaign import LawName, RecordsRequest
from protocol.fields import HttpUrl

DayUnit = Literal["business", "calendar"]


class LawDeadline(BaseModel):
    """One law's response time (a ``[[deadlines]]`` table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    law: LawName
    days: Annotated[int, Field(ge=1, le=3650)]
    unit: DayUnit = "business"
    appeal_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    appeal_unit: DayUnit = "calendar"
    source: HttpUrl | None = None


def _law(
    law: str, days: int, unit: DayUnit, appeal: int | None, appeal_unit: DayUnit, source: str
) -> LawDeadline:
    return LawDeadline(
        law=law, days=days, unit=unit, appeal_days=appeal, appeal_unit=appeal_unit, source=source
    )


# The statutory first-response time of common laws, with the text each comes from.
SHIPPED_DEADLINES: Final = (
    _law("US FOIA", 20, "business", 90, "calendar", "https://www.law.cornell.edu/uscode/text/5/552"),
    _law("US-NY FOIL", 5, "business", 30, "calendar", "https://www.nysenate.gov/legislation/laws/PBO/89"),
    _law("US-CA CPRA", 10, "calendar", None, "calendar", "https://leginfo.legislature.ca.gov/faces/codes_displaySection.xhtml?lawCode=GOV&sectionNum=7922.535"),
    _law("US-IL FOIA", 5, "business", 60, "calendar", "https://www.ilga.gov/legislation/ilcs/ilcs3.asp?ActID=85"),
    _law("US-TX PIA", 10, "business", None, "calendar", "https://statutes.capitol.texas.gov/Docs/GV/htm/GV.552.htm"),
    _law("US-WA PRA", 5, "business", None, "calendar", "https://app.leg.wa.gov/rcw/default.aspx?cite=42.56.520"),
    _law("US-MA PRL", 10, "business", 90, "calendar", "https://malegislature.gov/Laws/GeneralLaws/PartI/TitleX/Chapter66/Section10"),
    _law("GB FOIA", 20, "business", 40, "business", "https://www.legislation.gov.uk/ukpga/2000/36/section/10"),
    _law("GB-SCT FOISA", 20, "business", 40, "business", "https://www.legislation.gov.uk/asp/2002/13/section/10"),
    _law("IE FOI", 20, "business", 20, "business", "https://www.irishstatutebook.ie/eli/2014/act/30/section/13"),
    _law("CA ATIA", 30, "calendar", 60, "business", "https://laws-lois.justice.gc.ca/eng/acts/a-1/page-2.html"),
    _law("AU FOI", 30, "calendar", 30, "calendar", "https://www.legislation.gov.au/C2004A02562/latest/text"),
    _law("NZ OIA", 20, "business", None, "calendar", "https://www.legislation.govt.nz/act/public/1982/0156/latest/DLM65366.html"),
)  # fmt: skip


def deadline_table(extra: Iterable[LawDeadline] = ()) -> dict[str, LawDeadline]:
    """The shipped table with ``extra`` (the operator's) entries added or replacing."""
    return {entry.law: entry for entry in (*SHIPPED_DEADLINES, *extra)}


def add_days(start: datetime.date, days: int, unit: DayUnit) -> datetime.date:
    """``days`` days after ``start``; business days skip Saturdays and Sundays."""
    if unit == "calendar":
        return start + datetime.timedelta(days=days)
    day, left = start, days
    while left:
        day += datetime.timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return day


def due_on(law: str, filed_on: str, table: Mapping[str, LawDeadline]) -> str | None:
    """The day an answer is due by ``law``, or None when the table does not know it."""
    entry = table.get(law)
    if entry is None:
        return None
    return add_days(datetime.date.fromisoformat(filed_on), entry.days, entry.unit).isoformat()


def complete_due_on(content: RecordsRequest, table: Mapping[str, LawDeadline]) -> RecordsRequest:
    """``content`` with ``due_on`` filled from ``table`` when it has none."""
    if content.due_on is not None:
        return content
    due = due_on(content.law, content.filed_on, table)
    if due is None:
        return content
    return RecordsRequest.model_validate({**content.model_dump(exclude_none=True), "due_on": due})
