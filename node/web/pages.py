"""The report pages, rendered from ``node/web/templates/`` in a request's language.

One layout (``base.html``) and one template per page: the
report form and its fields, the receipt, the status form and its answer, and the
page that refuses a request. No script and no inline style: Tor Browser at its
"Safest" setting shows them as they are. The layout is the public site's
(:mod:`node.web.site`): its navigation, and who runs the node at the foot.

Each function here gathers what its template reads and renders it.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, get_args

from aiohttp import web

from node.moderation.submissions import RECEIPT_STATUS, SUBMISSION_KINDS
from node.web.i18n import N_, Catalog, countries
from node.web.site import render
from protocol.kinds import IncidentCategory, TechnologyType

REQUIRED: Final = frozenset({"kind", "what_happened", "occurred_on", "country", "place"})
HINTED: Final = (
    "what_happened",
    "occurred_on",
    "occurred_time",
    "place",
    "lat",
    "lon",
    "agency",
    "category",
    "sources",
    "names",
    "phone",
)
TECHNOLOGIES: Final[tuple[str, ...]] = get_args(TechnologyType)
CATEGORIES: Final[tuple[str, ...]] = get_args(IncidentCategory)
CONSENTS: Final = ("consent_contact", "consent_publish")


# The report form.


@dataclass(frozen=True)
class FormState:
    t: Catalog
    token: str
    values: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()  # the wrong fields, in form order, perhaps "form"


def form_page(request: web.Request, state: FormState) -> str:
    t = state.t
    return render(
        request,
        "report_form.html",
        t,
        switch_to=None if state.errors else "/report",
        nav="report",
        failed=bool(state.errors),
        token=state.token,
        values=state.values,
        errors=state.errors,
        summary=[(f"error.{name}", _anchor(name)) for name in state.errors],
        required=REQUIRED,
        hinted=HINTED,
        kinds=SUBMISSION_KINDS,
        consents=CONSENTS,
        countries=list(countries(t.lang)),
        technologies=[(kind, t(f"technology.{kind}")) for kind in TECHNOLOGIES],
        categories=[(kind, t(f"category.{kind}")) for kind in CATEGORIES],
    )


def _anchor(name: str) -> str:
    """The id an error summary links to for a field."""
    return {"kind": "kind-incident", "form": "report-form"}.get(name, name)


def receipt_page(request: web.Request, t: Catalog, receipt: str, token: str) -> str:
    """The receipt code, once; its language switch sends the code again (``token``)."""
    return render(
        request, "receipt.html", t, switch_to=None, nav="report", receipt=receipt, token=token
    )


# The receipt's status.


def status_page(
    request: web.Request, t: Catalog, token: str, typed: str = "", error: str | None = None
) -> str:
    """The form for a receipt code; ``error`` is the message id of what is wrong with it."""
    return render(
        request,
        "status_form.html",
        t,
        switch_to=None if error else "/report/status",
        failed=error is not None,
        token=token,
        typed=typed,
        error=error,
    )


@dataclass(frozen=True, slots=True)
class Answering:
    """The question a report waits on, what the reporter typed, and the message id of what
    was wrong with it."""

    question: str | None = None
    typed: str = ""
    error: str | None = None


def status_result_page(
    request: web.Request,
    t: Catalog,
    status: str,
    receipt: str,
    token: str,
    answering: Answering | None = None,
) -> str:
    """A report's status, in words; its language switch sends the code again (``token``).
    While a question waits, the question and the answer form (``answering``)."""
    answering = answering or Answering()
    return render(
        request,
        "status_result.html",
        t,
        switch_to=None,
        status=f"status.{RECEIPT_STATUS[status]}",
        receipt=receipt,
        token=token,
        question=answering.question,
        typed=answering.typed,
        error=answering.error,
    )


def answer_received_page(request: web.Request, t: Catalog) -> str:
    return render(request, "answer_received.html", t, switch_to=None, nav="report")


# Refusals.


def refusal_page(
    request: web.Request, t: Catalog, topic: str, values: Mapping[str, int], path: str
) -> str:
    """Why a request to ``path`` was refused: ``<topic>.title`` and ``<topic>.body``, and
    where to go next. The language switch shows the same refusal in another language.

    Reports being closed is answered on ``/report`` itself, so that page links to the
    status form (a report sent earlier can still be followed) and the home page, not
    to itself."""
    if topic == "closed":
        links = [("/report/status", N_("nav.status")), ("/", N_("error_page.home"))]
    elif path == "/report":
        links = [("/report", N_("back.form"))]
    else:
        links = [("/report/status", N_("nav.status"))]
    nav = "report" if path == "/report" else None
    return render(
        request, "refusal.html", t, switch_to=path, nav=nav, topic=topic, values=values, links=links
    )
