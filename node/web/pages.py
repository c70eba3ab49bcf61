"""The report pages, built as :class:`~node.web.html.Html` in a request's language.

The layout (header, language switch, error summary) and the pages: the report
form and its fields, the receipt, the status form and its answer, and the page
that refuses a request. No script and no inline style: Tor Browser at its
"Safest" setting shows them as they are. The stylesheet is the pages' only
other resource; its URL changes with it, so it can be cached for long.
"""

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Final, get_args

from node.moderation.submissions import RECEIPT_STATUS, SUBMISSION_KINDS
from node.security import CSRF_FIELD
from node.web.html import Html, el, fragment
from node.web.i18n import CATALOGS, Catalog, countries
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


# The layout.


def _page(
    t: Catalog, title: str, *content: str, switch_to: str | None, failed: bool = False
) -> Html:
    """A whole page. ``switch_to`` is the page to link in each other language; None on an
    answer to a form, which a switch would lose (a receipt code, or what was typed)."""
    head = el(
        "head",
        el("meta", charset="utf-8"),
        el("meta", name="viewport", content="width=device-width, initial-scale=1"),
        el("title", f"{t('errors.prefix')} {title}" if failed else title),
        el("link", rel="stylesheet", href=CSS_URL),
    )
    body = el("body", _header(t, switch_to), el("main", el("h1", title), *content, id="main"))
    return Html("<!DOCTYPE html>\n" + el("html", head, body, lang=t.lang) + "\n")


def _header(t: Catalog, switch_to: str | None) -> Html:
    links = [
        el("li", el("a", t("nav.report"), href=f"/report?lang={t.lang}")),
        el("li", el("a", t("nav.status"), href=f"/report/status?lang={t.lang}")),
    ]
    switch = [
        el(
            "a",
            CATALOGS[lang]["lang.name"],
            href=f"{switch_to}?lang={lang}",
            hreflang=lang,
            lang=lang,
        )
        for lang in sorted(CATALOGS)
        if lang != t.lang
    ]
    languages = el("p", t("lang.switch_label"), " ", *switch) if switch_to else ""
    return el("header", el("nav", el("ul", *links), aria_label=t("nav.label")), languages)


def _hidden(t: Catalog, token: str) -> Html:
    return fragment(
        el("input", type="hidden", name=CSRF_FIELD, value=token),
        el("input", type="hidden", name="lang", value=t.lang),
    )


def _error_message(t: Catalog, key: str, element_id: str) -> Html:
    hidden_prefix = el("span", t("errors.prefix"), class_="visually-hidden")
    return el("p", hidden_prefix, " ", t(key), id=element_id, class_="error-message")


def _error_summary(t: Catalog, errors: Sequence[tuple[str, str]]) -> Html:
    """The list at the top of a form: (message key, id of the field it is about)."""
    items = [el("li", el("a", t(key), href=f"#{target}")) for key, target in errors]
    return el(
        "div",
        el("h2", t("errors.title"), id="error-summary-title"),
        el("ul", *items),
        class_="error-summary",
        role="alert",
        aria_labelledby="error-summary-title",
        tabindex="-1",
    )


# The report form.


@dataclass(frozen=True)
class FormState:
    t: Catalog
    token: str
    values: Mapping[str, str] = field(default_factory=dict)
    errors: tuple[str, ...] = ()  # the wrong fields, in form order, perhaps "form"


def _described(state: FormState, name: str) -> dict[str, str | bool | None]:
    """A control's name, id and the ARIA attributes that tie it to its hint and error."""
    invalid = name in state.errors
    described = [f"{name}-hint"] if name in HINTED else []
    if invalid:
        described.append(f"{name}-error")
    return {
        "id": name,
        "name": name,
        "required": name in REQUIRED,
        "aria_describedby": " ".join(described) or None,
        "aria_invalid": "true" if invalid else None,
    }


def _required_marker(t: Catalog, name: str) -> str:
    return el("span", t("label.required"), class_="marker") if name in REQUIRED else ""


def _field(state: FormState, name: str, control: Html) -> Html:
    """Label, hint, error message and control of one field."""
    t = state.t
    parts = [el("label", t(f"field.{name}.label"), " ", _required_marker(t, name), for_=name)]
    if name in HINTED:
        parts.append(el("p", t(f"field.{name}.hint"), id=f"{name}-hint", class_="hint"))
    if name in state.errors:
        parts.append(_error_message(t, f"error.{name}", f"{name}-error"))
    parts.append(control)
    return el("div", *parts, class_="field field-error" if name in state.errors else "field")


def _input(state: FormState, name: str, kind: str = "text", **extra: str | bool | None) -> Html:
    value = state.values.get(name, "")
    return _field(
        state, name, el("input", type=kind, value=value, **_described(state, name), **extra)
    )


def _textarea(state: FormState, name: str, rows: int) -> Html:
    # A newline right after <textarea> is dropped by parsers, so a value's own first one survives.
    value = fragment(Html("\n"), state.values.get(name, ""))
    return _field(state, name, el("textarea", value, rows=str(rows), **_described(state, name)))


def _select(state: FormState, name: str, options: Sequence[tuple[str, str]]) -> Html:
    chosen = state.values.get(name, "")
    rendered = [
        el("option", label, value=value, selected=value == chosen) for value, label in options
    ]
    return _field(state, name, el("select", *rendered, **_described(state, name)))


def _checkbox(state: FormState, name: str) -> Html:
    box = el(
        "input",
        type="checkbox",
        id=name,
        name=name,
        value="yes",
        checked=state.values.get(name) == "yes",
    )
    return el("div", box, el("label", state.t(f"field.{name}.label"), for_=name), class_="choice")


def _kind(state: FormState) -> Html:
    t, invalid = state.t, "kind" in state.errors
    choices = [
        el(
            "div",
            el(
                "input",
                type="radio",
                id=f"kind-{kind}",
                name="kind",
                value=kind,
                checked=state.values.get("kind") == kind,
                required=True,
                aria_describedby="kind-error" if invalid else None,
                aria_invalid="true" if invalid else None,
            ),
            el("label", t(f"kind.{kind}"), for_=f"kind-{kind}"),
            class_="choice",
        )
        for kind in SUBMISSION_KINDS
    ]
    error = _error_message(t, "error.kind", "kind-error") if invalid else ""
    legend = el("legend", t("kind.legend"), " ", _required_marker(t, "kind"))
    return el("fieldset", legend, error, *choices, class_="field-error" if invalid else None)


def _report_form(state: FormState) -> Html:
    t = state.t
    technologies = [(kind, t(f"technology.{kind}")) for kind in TECHNOLOGIES]
    categories = [(kind, t(f"category.{kind}")) for kind in CATEGORIES]
    return el(
        "form",
        _hidden(t, state.token),
        _kind(state),
        _textarea(state, "what_happened", 8),
        el(
            "fieldset",
            el("legend", t("when.legend")),
            _input(state, "occurred_on", "date"),
            _input(state, "occurred_time", "time"),
        ),
        el(
            "fieldset",
            el("legend", t("where.legend")),
            _select(state, "country", [("", t("field.country.choose")), *countries(t.lang)]),
            _input(state, "city"),
            _textarea(state, "place", 3),
            _input(state, "lat", inputmode="decimal"),
            _input(state, "lon", inputmode="decimal"),
        ),
        el(
            "fieldset",
            el("legend", t("details.legend")),
            _input(state, "agency"),
            _select(state, "technology", [("", t("field.technology.unsure")), *technologies]),
            _select(state, "category", [("", t("field.category.choose")), *categories]),
        ),
        el(
            "fieldset",
            el("legend", t("sources.legend")),
            _textarea(state, "sources", 4),
            _textarea(state, "names", 3),
        ),
        el(
            "fieldset",
            el("legend", t("contact.legend")),
            el("p", t("contact.hint"), id="contact-hint", class_="hint"),
            _input(state, "email", "email", autocomplete="email"),
            _input(state, "signal"),
            _input(state, "phone", "tel", autocomplete="tel"),
            aria_describedby="contact-hint",
        ),
        el(
            "fieldset",
            el("legend", t("consent.legend")),
            *(_checkbox(state, name) for name in CONSENTS),
        ),
        el("button", t("submit"), type="submit"),
        id="report-form",
        method="post",
        action=f"/report?lang={t.lang}",
        accept_charset="utf-8",
        novalidate=True,
    )


def form_page(state: FormState) -> Html:
    t = state.t
    summary = ""
    if state.errors:
        summary = _error_summary(t, [(f"error.{name}", _anchor(name)) for name in state.errors])
    privacy = el(
        "section",
        el("h2", t("privacy.title"), id="privacy-title"),
        el("p", t("privacy.sealed")),
        el("p", t("privacy.clear")),
        el("p", t("privacy.no_ip")),
        class_="privacy",
        aria_labelledby="privacy-title",
    )
    return _page(
        t,
        t("page.title"),
        summary,
        el("p", t("page.intro")),
        privacy,
        el("p", t("page.required")),
        _report_form(state),
        switch_to=None if state.errors else "/report",
        failed=bool(state.errors),
    )


def _anchor(name: str) -> str:
    """The id an error summary links to for a field."""
    return {"kind": "kind-incident", "form": "report-form"}.get(name, name)


def receipt_page(t: Catalog, receipt: str) -> Html:
    return _page(
        t,
        t("receipt.title"),
        el("h2", t("receipt.code_label"), id="receipt-label"),
        el("p", receipt, id="receipt", class_="receipt"),
        el("p", t("receipt.keep")),
        el("p", t("receipt.next")),
        el("p", el("a", t("receipt.status_link"), href=f"/report/status?lang={t.lang}")),
        el("p", el("a", t("receipt.another"), href=f"/report?lang={t.lang}")),
        switch_to=None,
    )


# The receipt's status.


def status_page(t: Catalog, token: str, typed: str = "", error: str | None = None) -> Html:
    described = "receipt-hint receipt-error" if error else "receipt-hint"
    form = el(
        "form",
        _hidden(t, token),
        el(
            "div",
            el("label", t("status.label"), for_="receipt"),
            el("p", t("status.hint"), id="receipt-hint", class_="hint"),
            _error_message(t, error, "receipt-error") if error else "",
            el(
                "input",
                type="text",
                id="receipt",
                name="receipt",
                value=typed[:64],
                required=True,
                autocomplete="off",
                autocapitalize="characters",
                spellcheck="false",
                aria_describedby=described,
                aria_invalid="true" if error else None,
            ),
            class_="field field-error" if error else "field",
        ),
        el("button", t("status.submit"), type="submit"),
        method="post",
        action=f"/report/status?lang={t.lang}",
        accept_charset="utf-8",
        novalidate=True,
    )
    summary = _error_summary(t, [(error, "receipt")]) if error else ""
    return _page(
        t,
        t("status.title"),
        summary,
        el("p", t("status.intro")),
        form,
        switch_to=None if error else "/report/status",
        failed=error is not None,
    )


def status_result_page(t: Catalog, status: str) -> Html:
    """A report's status, in words."""
    return _page(
        t,
        t("status.result_title"),
        el(
            "p",
            t("status.result_label"),
            " ",
            el("strong", t(f"status.{RECEIPT_STATUS[status]}")),
            class_="status",
        ),
        el("p", el("a", t("status.title"), href=f"/report/status?lang={t.lang}")),
        switch_to=None,
    )


# Refusals.


def refusal_page(t: Catalog, topic: str, values: Mapping[str, int], path: str) -> Html:
    """Why a request to ``path`` was refused: ``<topic>.title`` and ``<topic>.body``."""
    back = t("back.form") if path == "/report" else t("nav.status")
    return _page(
        t,
        t(f"{topic}.title"),
        el("p", t(f"{topic}.body", **values)),
        el("p", el("a", back, href=f"{path}?lang={t.lang}")),
        switch_to=path,
    )
