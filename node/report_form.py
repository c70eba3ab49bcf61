"""The public report form: server-rendered HTML that needs no JavaScript.

    GET  /report               the form (503 while the node has no moderator keys)
    POST /report               a report, form-encoded; answers a page with the receipt code
    GET  /report/status        a form for a receipt code
    POST /report/status        that report's status in words, and nothing else
    GET  /static/report.css    the pages' only stylesheet

The pages work in Tor Browser at its "Safest" setting: no script, no inline
style, nothing from another origin (:mod:`node.security` sets the policy and
checks the CSRF token). Validation, sealing and the limits are those of the
JSON API (:mod:`node.submissions`, :mod:`node.api_submissions`). Nothing a
person types is logged.

Every string a person reads comes from ``node/locales/<lang>.json``. The
language is ``?lang=`` (the forms post to a URL that keeps it, and carry it in
a hidden field too), else the best of ``Accept-Language``, else English.
Pages are built by :func:`el`, which escapes every string it is given that is
not already :class:`Html`.
"""

import functools
import hashlib
import html
import json
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final, get_args

from aiohttp import web

from node.api_submissions import count_attempt, read_limited
from node.problems import ApiError
from node.security import (
    CSRF_FIELD,
    cross_site,
    csrf_cookie,
    csrf_token,
    csrf_valid,
    has_csrf_cookie,
    set_csrf_cookie,
)
from node.state import CONFIG, STORE
from node.submissions import (
    RECEIPT_STATUS,
    SUBMISSION_KINDS,
    SubmissionIn,
    SubmissionsClosed,
    accept,
    field_errors,
    normalize_receipt,
)
from protocol.countries import COUNTRY_CODES
from protocol.kinds import IncidentCategory, TechnologyType

routes = web.RouteTableDef()

DEFAULT_LANGUAGE: Final = "en"
FIELD_ORDER: Final = (
    "kind",
    "what_happened",
    "occurred_on",
    "occurred_time",
    "country",
    "city",
    "place",
    "lat",
    "lon",
    "agency",
    "technology",
    "category",
    "sources",
    "names",
    "email",
    "signal",
    "phone",
    "consent_contact",
    "consent_publish",
)
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
_CONSENTS: Final = ("consent_contact", "consent_publish")
_TEXT_FIELDS: Final = tuple(
    name for name in FIELD_ORDER if name not in ("lat", "lon", "sources", *_CONSENTS)
)
# The pages that refuse a request; each has ``<topic>.title`` and ``<topic>.body``.
REFUSALS: Final = ("closed", "csrf", "ratelimit", "toolarge", "unreadable")
_MAX_FIELDS: Final = 64
_STATUS_BODY_BYTES: Final = 4096


class Html(str):
    """Markup that is already escaped; any other string put in a page is escaped."""


_VOID_ELEMENTS: Final = frozenset({"input", "link", "meta"})


def fragment(*children: str) -> Html:
    return Html("".join(c if isinstance(c, Html) else html.escape(c) for c in children))


def el(tag: str, /, *children: str, **attributes: str | bool | None) -> Html:
    """An element; ``class_`` is ``class``, ``aria_label`` is ``aria-label``, True is bare."""
    rendered = "".join(_attribute(key, value) for key, value in attributes.items())
    if tag in _VOID_ELEMENTS:
        return Html(f"<{tag}{rendered}>")
    return Html(f"<{tag}{rendered}>{fragment(*children)}</{tag}>")


def _attribute(key: str, value: str | bool | None) -> str:
    if value is None or value is False:
        return ""
    name = key.rstrip("_").replace("_", "-")
    return f" {name}" if value is True else f' {name}="{html.escape(value)}"'


# The catalogs and the language.


def _load_catalogs() -> dict[str, dict[str, str]]:
    folder = resources.files("node") / "locales"
    return {
        entry.name.removesuffix(".json"): json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


CATALOGS: Final = _load_catalogs()


@dataclass(frozen=True)
class Catalog:
    """One language's strings; a missing key is a bug, so it raises."""

    lang: str
    strings: Mapping[str, str]

    def __call__(self, key: str, **values: int) -> str:
        text = self.strings[key]
        return text.format(**values) if values else text


def choose_language(wanted: Sequence[str | None], accept_language: str) -> str:
    """The first of ``wanted`` the node speaks, else the best of Accept-Language, else English."""
    for lang in (*wanted, *_accepted(accept_language)):
        if lang in CATALOGS:
            return lang
    return DEFAULT_LANGUAGE


def _accepted(header: str) -> list[str]:
    """Accept-Language's primary subtags, most wanted first."""
    ranked: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")[:32]):
        tag, _, parameters = item.partition(";")
        weight = re.fullmatch(r"\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*", parameters)
        quality = float(weight.group(1)) if weight else (1.0 if not parameters else 0.0)
        primary = tag.strip().lower().split("-")[0]
        if primary and quality > 0:
            ranked.append((-quality, position, primary))
    return [primary for _, _, primary in sorted(ranked)]


def _catalog(request: web.Request, field_lang: str | None = None) -> Catalog:
    lang = choose_language(
        (request.query.get("lang"), field_lang), request.headers.get("Accept-Language", "")
    )
    return Catalog(lang, CATALOGS[lang])


# The stylesheet, served with a long cache under a URL that changes with it.

_CSS: Final = (resources.files("node") / "static" / "report.css").read_bytes()
CSS_URL: Final = f"/static/report.css?v={hashlib.sha256(_CSS).hexdigest()[:12]}"


@routes.get("/static/report.css")
async def stylesheet(request: web.Request) -> web.Response:
    return web.Response(
        body=_CSS,
        content_type="text/css",
        charset="utf-8",
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )


# Pages.


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


def _respond(
    page: Html, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=page,
        status=status,
        content_type="text/html",
        charset="utf-8",
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


def _with_csrf(
    request: web.Request, render: Callable[[str], Html], status: int = 200
) -> web.Response:
    """A page with a form: its hidden token matches the cookie set alongside."""
    cookie = csrf_cookie(request)
    response = _respond(render(csrf_token(cookie)), status)
    set_csrf_cookie(request, response, cookie)
    return response


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


@functools.cache
def _countries(lang: str) -> tuple[tuple[str, str], ...]:
    """(code, name) of every country, by name as a reader of ``lang`` looks for it."""
    names = CATALOGS[lang]

    def folded(code: str) -> str:
        name = unicodedata.normalize("NFKD", names[f"country.{code}"])
        return name.encode("ascii", "ignore").decode().casefold()

    return tuple((code, names[f"country.{code}"]) for code in sorted(COUNTRY_CODES, key=folded))


def _report_form(state: FormState) -> Html:
    t = state.t
    countries = _countries(t.lang)
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
            _select(state, "country", [("", t("field.country.choose")), *countries]),
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
            *(_checkbox(state, name) for name in _CONSENTS),
        ),
        el("button", t("submit"), type="submit"),
        id="report-form",
        method="post",
        action=f"/report?lang={t.lang}",
        accept_charset="utf-8",
        novalidate=True,
    )


def _form_page(state: FormState) -> Html:
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


# From the posted form to a submission.


def submission_payload(values: Mapping[str, str]) -> dict[str, Any]:
    """The form's fields as :class:`SubmissionIn` takes them; blank ones are left out."""
    payload: dict[str, Any] = {
        name: values[name] for name in _TEXT_FIELDS if values.get(name, "").strip()
    }
    for name in _CONSENTS:
        payload[name] = values.get(name) == "yes"
    if payload.get("kind") == "deployment":
        payload.pop("category", None)  # the form cannot hide it without script
    for name in ("lat", "lon"):
        text = values.get(name, "").strip()
        if text:
            payload[name] = _decimal(text)
    sources = [line.strip() for line in values.get("sources", "").splitlines() if line.strip()]
    if sources:
        payload["sources"] = sources
    return payload


def _decimal(text: str) -> float | str:
    """A number typed with a decimal point or comma; the text itself if it is not one."""
    try:
        return float(text if "." in text else text.replace(",", "."))
    except ValueError:
        return text  # SubmissionIn names the field as wrong


def wrong_fields(payload: Mapping[str, Any]) -> tuple[str, ...]:
    """The fields to mark, in form order. A check across fields names them in its message."""
    wrong = set()
    for name, message in field_errors(dict(payload)).items():
        if name not in FIELD_ORDER:
            mentioned = (f for f in FIELD_ORDER if re.search(rf"\b{f}\b", message))
            name = next(mentioned, "form")
        wrong.add(name)
    # SubmissionIn checks across fields only once each field is right; this one is
    # common enough on a form to name at once, on the coordinate left out.
    if ("lat" in payload) != ("lon" in payload):
        wrong.add("lon" if "lat" in payload else "lat")
    return tuple(name for name in (*FIELD_ORDER, "form") if name in wrong)


class _Refused(Exception):
    """A request answered with a page that says why: ``<topic>.title`` and ``<topic>.body``."""

    def __init__(
        self, status: int, topic: str, headers: Mapping[str, str] | None = None, **values: int
    ) -> None:
        super().__init__(topic)
        assert topic in REFUSALS
        self.status = status
        self.topic = topic
        self.headers = headers or {}
        self.values = values


def _refusal(t: Catalog, refused: _Refused, path: str) -> web.Response:
    back = t("back.form") if path == "/report" else t("nav.status")
    page = _page(
        t,
        t(f"{refused.topic}.title"),
        el("p", t(f"{refused.topic}.body", **refused.values)),
        el("p", el("a", back, href=f"{path}?lang={t.lang}")),
        switch_to=path,
    )
    return _respond(page, refused.status, refused.headers)


async def _read_form(request: web.Request, max_bytes: int) -> dict[str, str]:
    """A posted form's fields (the first value of each), once its CSRF token and limits pass."""
    if cross_site(request) or not has_csrf_cookie(request):
        raise _Refused(403, "csrf")
    try:
        count_attempt(request)
    except ApiError as exc:
        retry_after_s = int(exc.extensions.get("retry_after_s", 3600))
        raise _Refused(
            429,
            "ratelimit",
            {"Retry-After": str(retry_after_s)},
            minutes=max(1, round(retry_after_s / 60)),
        ) from exc
    if request.content_type != "application/x-www-form-urlencoded":
        raise _Refused(415, "unreadable")
    try:
        body = await read_limited(request, max_bytes)
    except ApiError as exc:
        raise _Refused(413, "toolarge", max_kb=max_bytes // 1024) from exc
    try:
        pairs = urllib.parse.parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Refused(400, "unreadable") from exc
    values: dict[str, str] = {}
    for name, value in pairs:
        values.setdefault(name, value)
    if not csrf_valid(request, values.get(CSRF_FIELD)):
        raise _Refused(403, "csrf")
    return values


@routes.get("/report")
async def report_form(request: web.Request) -> web.Response:
    t = _catalog(request)
    if not await request.app[STORE].submissions.keys():
        return _refusal(t, _Refused(503, "closed"), "/report")
    return _with_csrf(request, lambda token: _form_page(FormState(t, token)))


@routes.post("/report")
async def send_report(request: web.Request) -> web.Response:
    t = _catalog(request)
    try:
        values = await _read_form(request, request.app[CONFIG].submissions.max_bytes)
    except _Refused as refused:
        return _refusal(t, refused, "/report")
    t = _catalog(request, values.get("lang"))
    payload = submission_payload(values)
    wrong = wrong_fields(payload)
    if wrong:
        return _with_csrf(
            request, lambda token: _form_page(FormState(t, token, values, wrong)), 422
        )
    store = request.app[STORE]
    try:
        _, receipt = await accept(
            store.submissions, SubmissionIn.model_validate(payload), store.clock
        )
    except SubmissionsClosed:
        return _refusal(t, _Refused(503, "closed"), "/report")
    return _respond(_receipt_page(t, receipt), 201)


def _receipt_page(t: Catalog, receipt: str) -> Html:
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


def _status_page(t: Catalog, token: str, typed: str = "", error: str | None = None) -> Html:
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


@routes.get("/report/status")
async def status_form(request: web.Request) -> web.Response:
    t = _catalog(request)
    return _with_csrf(request, lambda token: _status_page(t, token))


@routes.post("/report/status")
async def check_status(request: web.Request) -> web.Response:
    t = _catalog(request)
    try:
        values = await _read_form(request, _STATUS_BODY_BYTES)
    except _Refused as refused:
        return _refusal(t, refused, "/report/status")
    t = _catalog(request, values.get("lang"))
    typed = values.get("receipt", "")
    receipt = normalize_receipt(typed)
    if receipt is None:
        return _with_csrf(request, lambda token: _status_page(t, token, typed, "status.bad"), 400)
    status = await request.app[STORE].submissions.status_by_receipt(receipt)
    if status is None:
        return _with_csrf(
            request, lambda token: _status_page(t, token, typed, "status.unknown"), 404
        )
    page = _page(
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
    return _respond(page)
