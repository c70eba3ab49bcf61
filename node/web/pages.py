"""The report pages, rendered from ``node/web/templates/`` in a request's language.

One layout (``base.html``: header, language switch) and one template per page: the
report form and its fields, the receipt, the status form and its answer, and the
page that refuses a request. No script and no inline style: Tor Browser at its
"Safest" setting shows them as they are. The stylesheet is the pages' only other
resource; its URL changes with it, so it can be cached for long.

Each function here gathers what its template reads and renders it.
"""

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final, get_args

import jinja2

from node.moderation.submissions import RECEIPT_STATUS, SUBMISSION_KINDS
from node.security import CSRF_FIELD
from node.web.i18n import CATALOGS, N_, Catalog, countries
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

STYLESHEET: Final = (resources.files("node.web") / "static" / "report.css").read_bytes()
CSS_URL: Final = f"/static/report.css?v={hashlib.sha256(STYLESHEET).hexdigest()[:12]}"


def _render(
    env: jinja2.Environment,
    template: str,
    t: Catalog,
    *,
    switch_to: str | None,
    failed: bool = False,
    **context: Any,
) -> str:
    """A whole page. ``switch_to`` is the page to link in each other language; None on an
    answer to a form, which a switch would lose (a receipt code, or what was typed)."""
    other_languages = [
        (lang, CATALOGS[lang].gettext("lang.name")) for lang in sorted(CATALOGS) if lang != t.lang
    ]
    return env.get_template(template).render(
        t=t,
        css_url=CSS_URL,
        csrf_field=CSRF_FIELD,
        switch_to=switch_to,
        other_languages=other_languages,
        failed=failed,
        **context,
    )


# The report form.


@dataclass(frozen=True)
class FormState:
    t: Catalog
    token: str
    values: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()  # the wrong fields, in form order, perhaps "form"


def form_page(env: jinja2.Environment, state: FormState) -> str:
    t = state.t
    return _render(
        env,
        "report_form.html",
        t,
        switch_to=None if state.errors else "/report",
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


def receipt_page(env: jinja2.Environment, t: Catalog, receipt: str) -> str:
    return _render(env, "receipt.html", t, switch_to=None, receipt=receipt)


# The receipt's status.


def status_page(
    env: jinja2.Environment, t: Catalog, token: str, typed: str = "", error: str | None = None
) -> str:
    """The form for a receipt code; ``error`` is the message id of what is wrong with it."""
    return _render(
        env,
        "status_form.html",
        t,
        switch_to=None if error else "/report/status",
        failed=error is not None,
        token=token,
        typed=typed,
        error=error,
    )


def status_result_page(env: jinja2.Environment, t: Catalog, status: str) -> str:
    """A report's status, in words."""
    return _render(
        env, "status_result.html", t, switch_to=None, status=f"status.{RECEIPT_STATUS[status]}"
    )


# Refusals.


def refusal_page(
    env: jinja2.Environment, t: Catalog, topic: str, values: Mapping[str, int], path: str
) -> str:
    """Why a request to ``path`` was refused: ``<topic>.title`` and ``<topic>.body``."""
    back = N_("back.form") if path == "/report" else N_("nav.status")
    return _render(env, "refusal.html", t, switch_to=path, topic=topic, values=values, back=back)
