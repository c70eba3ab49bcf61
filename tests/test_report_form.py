"""The public report form at /report, against a real node app over a real SQLite file."""

import json
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from node.app import create_app
from node.datadir import DataDir
from node.security import CSRF_COOKIE, SECURITY_HEADERS, csrf_token
from node.state import CONFIG, STORE
from node.web import i18n
from node.web import pages as report_pages
from node.web import report as report_form
from node.web.static import static_url
from protocol.sealing import ModeratorKey
from tests.conftest import ClientFactory, NodeClient

RECEIPT = re.compile(r"[A-Z2-9]{4}(?:-[A-Z2-9]{4}){4}")
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
NARRATIVE = "A van with cameras on its roof scanned everyone leaving the station."


class Page(HTMLParser):
    """The elements of a page, each as (tag, attributes), and its text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.elements if name == tag]

    def by_id(self, element_id: str) -> dict[str, str]:
        matches = [attrs for _, attrs in self.elements if attrs.get("id") == element_id]
        assert len(matches) == 1, f"{len(matches)} elements with id {element_id!r}"
        return matches[0]


async def open_reports(app: web.Application) -> ModeratorKey:
    """Give the node a moderator key, so it takes reports."""
    key = ModeratorKey.generate()
    await app[STORE].submissions.add_key(key.public.key_id, key.public.text, "test", actor="test")
    return key


async def form_token(client: NodeClient, path: str = "/report") -> str:
    """GET a form (which sets the CSRF cookie in the client's jar) and return its token."""
    response = await client.get(path)
    assert response.status == 200
    page = Page(await response.text())
    return next(a["value"] for a in page.all("input") if a.get("name") == "csrf")


def report(**changes: str) -> dict[str, str]:
    fields = {
        "kind": "incident",
        "what_happened": NARRATIVE,
        "occurred_on": "2024-03-27",
        "occurred_time": "14:30",
        "country": "GB",
        "city": "London",
        "place": "Outside Stratford station, east exit",
        "lat": "51,5416",
        "lon": "-0.0042",
        "agency": "Metropolitan Police",
        "technology": "live_frt",
        "category": "protest_surveillance",
        "sources": "https://example.org/news/1\n\n  https://example.org/news/2  \n",
        "names": "",
        "email": "someone@example.org",
        "signal": "",
        "phone": "",
        "consent_contact": "yes",
        "consent_publish": "yes",
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not None}


async def post_form(
    client: NodeClient,
    path: str,
    fields: Mapping[str, str],
    headers: Mapping[str, str] | None = None,
) -> tuple[int, str, Mapping[str, str]]:
    response = await client.post(path, data=dict(fields), headers=headers)
    return response.status, await response.text(), response.headers


async def stored(app: web.Application) -> list[Any]:
    return [submission for _, submission in await app[STORE].submissions.page()]


async def test_form_is_labelled_and_sent_with_security_headers(
    client: NodeClient, app: web.Application
) -> None:
    await open_reports(app)
    response = await client.get("/report")
    text = await response.text()

    assert response.status == 200
    assert response.content_type == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=")
    for attribute in ("HttpOnly", "SameSite=Strict", "Path=/report"):
        assert attribute in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1
    # No script and no inline style anywhere: the CSP would block them.
    assert "<script" not in text
    assert "style=" not in text
    assert "<style" not in text

    page = Page(text)
    assert page.all("html") == [{"lang": "en"}]
    labels = {attrs["for"] for attrs in page.all("label")}
    controls = [
        attrs
        for tag, attrs in page.elements
        if tag in ("input", "select", "textarea") and attrs.get("type") != "hidden"
    ]
    names = {attrs["name"] for attrs in controls}
    assert names == set(report_form.FIELD_ORDER)
    for attrs in controls:
        assert attrs["id"] in labels, f"{attrs['id']} has no label"
        for described in attrs.get("aria-describedby", "").split():
            page.by_id(described)
    required = {attrs["name"] for attrs in controls if "required" in attrs}
    assert required == set(report_pages.REQUIRED)
    marker = '<span class="marker">(required)</span>'
    assert text.count(marker) == len(report_pages.REQUIRED)
    assert len(page.all("fieldset")) == len(page.all("legend"))
    assert "Category (incidents only)" in text
    assert "does not store your IP address" in text
    assert page.all("link") == [{"rel": "stylesheet", "href": static_url("site.css")}]
    assert {"href": "/report?lang=es", "hreflang": "es", "lang": "es"} in page.all("a")


async def test_every_response_has_the_security_headers(client: NodeClient) -> None:
    streamed = "/api/v1/export?format=csv&kind=incident"  # headers sent before the body
    for path in (
        "/api/v1/no-such-route",
        "/report/status",
        static_url("site.css"),
        streamed,
        "/metrics",
    ):
        response = await client.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
    problem = await client.get("/api/v1/no-such-route")
    assert problem.status == 404
    assert problem.content_type == "application/problem+json"


async def test_the_stylesheet_is_served_with_a_long_cache(client: NodeClient) -> None:
    response = await client.get(static_url("site.css"))

    assert response.status == 200
    assert response.content_type == "text/css"
    assert "max-age=31536000" in response.headers["Cache-Control"]
    assert ":focus" in await response.text()


async def test_a_post_without_a_matching_csrf_token_is_refused(
    client: NodeClient, app: web.Application
) -> None:
    await open_reports(app)
    # No cookie and no token.
    status, text, _ = await post_form(client, "/report", report())
    assert status == 403
    assert "Your form could not be accepted" in text
    token = await form_token(client)
    # A cookie, but no token or a wrong one.
    for fields in (report(), report(csrf=csrf_token("x" * 43))):
        status, _, _ = await post_form(client, "/report", fields)
        assert status == 403
    # The right token, but the browser says another site sent it.
    status, _, _ = await post_form(
        client, "/report", report(csrf=token), {"Sec-Fetch-Site": "cross-site"}
    )
    assert status == 403

    assert await stored(app) == []


async def test_a_report_is_sealed_and_answered_with_a_receipt(
    client: NodeClient, app: web.Application
) -> None:
    key = await open_reports(app)
    token = await form_token(client)

    with capture_logs() as logs:
        status, text, headers = await post_form(client, "/report", report(csrf=token))

    assert status == 201, text
    assert headers["Cache-Control"] == "no-store"
    match = re.search(r'<p id="receipt" class="receipt">([^<]*)</p>', text)
    assert match is not None
    receipt = match.group(1)
    assert RECEIPT.fullmatch(receipt)
    assert 'href="/report/status?lang=en"' in text
    assert "hreflang" not in text  # a link to switch language would lose the receipt
    [submission] = await stored(app)
    assert submission.triage == {
        "kind": "incident",
        "occurred_on": "2024-03-27",
        "country": "GB",
        "city": "London",
        "agency": "Metropolitan Police",
        "technology": "live_frt",
        "category": "protest_surveillance",
        "consent_contact": True,
        "consent_publish": True,
    }
    private = json.loads(key.open(submission.sealed, submission.id.encode()))
    assert private == {
        "what_happened": NARRATIVE,
        "occurred_time": "14:30",
        "place": "Outside Stratford station, east exit",
        "lat": 51.5416,
        "lon": -0.0042,
        "sources": ["https://example.org/news/1", "https://example.org/news/2"],
        "email": "someone@example.org",
    }
    assert await app[STORE].submissions.status_by_receipt(receipt) == "pending"
    assert NARRATIVE not in repr(logs)


async def test_a_deployment_sighting_drops_the_category_and_needs_no_consent(
    client: NodeClient, app: web.Application
) -> None:
    await open_reports(app)
    token = await form_token(client)
    fields = report(csrf=token, kind="deployment")
    del fields["consent_contact"], fields["consent_publish"]

    status, _, _ = await post_form(client, "/report", fields)

    assert status == 201
    [submission] = await stored(app)
    assert submission.kind == "deployment"
    assert "category" not in submission.triage
    assert submission.triage["consent_publish"] is False


async def test_wrong_fields_are_named_and_the_form_keeps_its_values(
    client: NodeClient, app: web.Application
) -> None:
    await open_reports(app)
    token = await form_token(client)
    fields = report(
        csrf=token,
        what_happened="  ",
        occurred_on="27/03/2024",
        lon="",
        email="not an address",
        sources="ftp://example.org/x",
        city="Londres <b>",
    )

    with capture_logs() as logs:
        status, text, headers = await post_form(client, "/report", fields)

    assert status == 422
    assert headers["Cache-Control"] == "no-store"
    page = Page(text)
    [summary] = [a for a in page.all("div") if a.get("role") == "alert"]
    assert summary["class"] == "error-summary"
    links = [a["href"] for a in page.all("a") if a["href"].startswith("#") and a["href"] != "#main"]
    assert links == ["#what_happened", "#occurred_on", "#lon", "#sources", "#email"]
    for name in ("what_happened", "occurred_on", "lon", "sources", "email"):
        control = page.by_id(name)
        assert control["aria-invalid"] == "true"
        assert f"{name}-error" in control["aria-describedby"].split()
        page.by_id(f"{name}-error")
    assert "aria-invalid" not in page.by_id("city")
    assert page.by_id("city")["value"] == "Londres <b>"
    assert "Londres &lt;b&gt;" in text
    assert page.by_id("email")["value"] == "not an address"
    assert "hreflang" not in text  # switching language would lose what was typed
    assert page.by_id("consent_publish").get("checked") == ""
    assert page.by_id("kind-incident").get("checked") == ""
    selected = [a for a in page.all("option") if "selected" in a]
    assert [a["value"] for a in selected] == ["GB", "live_frt", "protest_surveillance"]
    assert page.text[page.text.index("Error:")] == "Error:"
    assert await stored(app) == []
    assert "not an address" not in repr(logs)
    # The re-rendered form carries a token that works.
    token = next(a["value"] for a in page.all("input") if a.get("name") == "csrf")
    status, _, _ = await post_form(client, "/report", report(csrf=token))
    assert status == 201


@pytest.mark.parametrize(
    ("changes", "link"),
    [
        ({"kind": ""}, "#kind-incident"),
        ({"occurred_on": "2099-01-01"}, "#occurred_on"),  # checked across fields, after the rest
        ({"occurred_time": "25:00"}, "#occurred_time"),
        ({"lat": "91"}, "#lat"),
        ({"lon": "east"}, "#lon"),
        ({"lat": "", "lon": "2.35"}, "#lat"),
        ({"technology": "laser"}, "#technology"),
        ({"country": "XX"}, "#country"),
        ({"phone": "call me"}, "#phone"),
    ],
)
async def test_each_wrong_field_is_linked_from_the_summary(
    client: NodeClient, app: web.Application, changes: dict[str, str], link: str
) -> None:
    await open_reports(app)
    token = await form_token(client)

    status, text, _ = await post_form(client, "/report", report(csrf=token, **changes))

    assert status == 422
    page = Page(text)
    in_page = [a["href"] for a in page.all("a") if a["href"].startswith("#")]
    assert in_page == ["#main", link]  # the skip link, then the summary's
    assert page.by_id(link[1:])["aria-invalid"] == "true"
    assert await stored(app) == []


async def test_an_oversized_report_is_refused(client: NodeClient, app: web.Application) -> None:
    await open_reports(app)
    token = await form_token(client)
    limit = app[CONFIG].submissions.max_bytes

    status, text, _ = await post_form(
        client, "/report", report(csrf=token, names="x" * (limit + 1))
    )

    assert status == 413
    assert f"up to {limit // 1024} KB" in text
    assert await stored(app) == []


async def test_only_form_data_is_read(client: NodeClient, app: web.Application) -> None:
    await open_reports(app)
    token = await form_token(client)

    response = await client.post(
        "/report", json=report(csrf=token), headers={"Content-Type": "application/json"}
    )

    assert response.status == 415
    assert "The form could not be read" in await response.text()


async def test_spanish_by_query_by_header_and_by_hidden_field(
    client: NodeClient, app: web.Application
) -> None:
    await open_reports(app)
    by_query = await client.get("/report?lang=es")
    by_header = await client.get(
        "/report", headers={"Accept-Language": "fr, es-ES;q=0.8, en;q=0.5"}
    )
    english = await client.get("/report", headers={"Accept-Language": "fr, de;q=0.9"})
    refused = await client.get("/report", headers={"Accept-Language": "es;q=0, en"})

    for response in (by_query, by_header):
        text = await response.text()
        assert Page(text).all("html") == [{"lang": "es"}]
        assert "Denuncia el uso policial del reconocimiento facial" in text
        assert "(obligatorio)" in text
        assert 'action="/report?lang=es"' in text
    for response in (english, refused):
        assert Page(await response.text()).all("html") == [{"lang": "en"}]

    token = await form_token(client)
    status, text, _ = await post_form(
        client, "/report", report(csrf=token, lang="es", what_happened="")
    )
    assert status == 422
    assert Page(text).all("html") == [{"lang": "es"}]
    assert "Hay un problema" in text


async def test_the_status_of_a_receipt(client: NodeClient, app: web.Application) -> None:
    await open_reports(app)
    token = await form_token(client)
    status, text, _ = await post_form(client, "/report", report(csrf=token))
    assert status == 201
    match = RECEIPT.search(text)
    assert match is not None
    receipt = match.group(0)

    token = await form_token(client, "/report/status")
    typed = receipt.lower().replace("-", " ")
    status, text, headers = await post_form(
        client, "/report/status", {"csrf": token, "receipt": typed}
    )
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert "Received, waiting for review" in text
    # Only the status is shown; the code is kept only for the language switch's form.
    assert receipt not in "".join(Page(text).text)
    assert [a for a in Page(text).all("input") if a.get("value") == receipt] == [
        {"type": "hidden", "name": "receipt", "value": receipt}
    ]

    status, text, _ = await post_form(
        client, "/report/status", {"csrf": token, "receipt": "AAAA-BBBB-CCCC-DDDD-EEEE"}
    )
    assert status == 404
    assert "No report has this receipt code" in text
    assert Page(text).by_id("receipt")["aria-invalid"] == "true"

    status, text, _ = await post_form(
        client, "/report/status", {"csrf": token, "receipt": "not-a-code", "lang": "es"}
    )
    assert status == 400
    assert "Un código de recibo tiene 20 letras" in text

    status, _, _ = await post_form(client, "/report/status", {"receipt": receipt})
    assert status == 403


async def test_reports_are_closed_without_moderator_keys(
    client: NodeClient, app: web.Application
) -> None:
    response = await client.get("/report")
    assert response.status == 503
    assert "Reports are closed" in await response.text()

    cookie = "c" * 43
    client.session.cookie_jar.update_cookies({CSRF_COOKIE: cookie})
    status, text, _ = await post_form(client, "/report", report(csrf=csrf_token(cookie)))

    assert status == 503
    assert "Reports are closed" in text
    assert await stored(app) == []


async def test_too_many_attempts_get_a_page_that_says_when_to_come_back(
    aiohttp_client: ClientFactory, data_dir: DataDir
) -> None:
    config = data_dir.load_config()
    config = config.model_copy(
        update={"submissions": config.submissions.model_copy(update={"per_client_per_hour": 2})}
    )
    client = await aiohttp_client(create_app(config, data_dir.load_key(), data_dir.database))
    token = await form_token(client, "/report/status")
    fields = {"csrf": token, "receipt": "AAAA-BBBB-CCCC-DDDD-EEEE"}

    statuses = [(await post_form(client, "/report/status", fields))[0] for _ in range(2)]
    status, text, headers = await post_form(client, "/report/status", fields)

    assert statuses == [404, 404]
    assert status == 429
    assert 1 <= int(headers["Retry-After"]) <= 3601
    assert "Too many reports" in text
    assert re.search("try again in about (59|60) minutes", text)
    assert headers["Content-Security-Policy"] == SECURITY_HEADERS["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "en"),
        ("es", "es"),
        ("ES-mx", "es"),
        ("de, es;q=0.2, en;q=0.1", "es"),
        ("en;q=0.1, es;q=0.9", "es"),
        ("es;q=0", "en"),
        ("es;q=bogus, en", "en"),
    ],
)
def test_accept_language(header: str, expected: str) -> None:
    assert i18n.choose_language((None, "xx"), header) == expected
    assert i18n.choose_language(("es",), "en") == "es"


# -- the result pages' language switch, the closed page, the date and time hints -----------


def switch_form(text: str) -> tuple[str, dict[str, str]]:
    """The action and fields of a result page's language switch (one other language)."""
    page = Page(text)
    [form] = [a for a in page.all("form") if a["action"].startswith("/report/status?lang=")]
    start = page.elements.index(("form", form))
    fields: dict[str, str] = {}
    for tag, attrs in page.elements[start + 1 :]:
        if tag == "form" or tag == "main":
            break
        if tag == "input":
            fields[attrs["name"]] = attrs["value"]
    return form["action"], fields


async def test_the_receipt_and_status_pages_switch_language_without_losing_the_code(
    client: NodeClient, app: web.Application
) -> None:
    await open_reports(app)
    token = await form_token(client)
    status, text, _ = await post_form(client, "/report", report(csrf=token))
    assert status == 201
    match = RECEIPT.search(text)
    assert match is not None
    receipt = match.group(0)
    action, fields = switch_form(text)
    assert action == "/report/status?lang=es"
    assert fields["receipt"] == receipt
    assert fields["show"] == "receipt"
    [button] = [a for a in Page(text).all("button") if a.get("lang") == "es"]
    assert button == {"type": "submit", "lang": "es"}
    assert "Español" in text

    # Switching shows the same receipt page, in Spanish, with a switch back.
    status, spanish, headers = await post_form(client, action, fields)
    assert status == 200
    assert headers["Cache-Control"] == "no-store"
    assert Page(spanish).all("html") == [{"lang": "es"}]
    assert Page(spanish).by_id("receipt") == {"id": "receipt", "class": "receipt"}
    assert f'<p id="receipt" class="receipt">{receipt}</p>' in spanish
    back, back_fields = switch_form(spanish)
    assert back == "/report/status?lang=en"
    status, english, _ = await post_form(client, back, back_fields)
    assert status == 200
    assert f'<p id="receipt" class="receipt">{receipt}</p>' in english
    assert Page(english).all("html") == [{"lang": "en"}]

    # The status page's switch answers the status in the other language.
    token = await form_token(client, "/report/status")
    status, text, _ = await post_form(client, "/report/status", {"csrf": token, "receipt": receipt})
    assert status == 200
    action, fields = switch_form(text)
    assert "show" not in fields
    status, spanish, _ = await post_form(client, action, fields)
    assert status == 200
    assert Page(spanish).all("html") == [{"lang": "es"}]
    assert "Estado de tu denuncia" in spanish
    assert receipt not in "".join(Page(spanish).text)

    # A code no report has is not shown as a receipt.
    unknown = {**fields, "receipt": "AAAA-BBBB-CCCC-DDDD-EEEE", "show": "receipt"}
    status, text, _ = await post_form(client, action, unknown)
    assert status == 404
    assert "AAAA-BBBB-CCCC-DDDD-EEEE" not in "".join(Page(text).text)


def main_links(text: str) -> list[str]:
    """The links of a page's main content (not its navigation, switch or footer)."""
    main = text.split("<main", 1)[1].split("</main>", 1)[0]
    return [a["href"] for a in Page(main).all("a")]


async def test_refusals_have_the_language_switch_and_closed_reports_do_not_link_to_themselves(
    client: NodeClient, app: web.Application
) -> None:
    response = await client.get("/report")
    text = await response.text()
    assert response.status == 503
    assert "Reports are closed" in text
    assert {"href": "/report?lang=es", "hreflang": "es", "lang": "es"} in Page(text).all("a")
    links = main_links(text)
    assert not any(link.startswith("/report?") for link in links), links
    assert links == ["/report/status?lang=en", "/?lang=en"]

    spanish = await (await client.get("/report?lang=es")).text()
    assert Page(spanish).all("html") == [{"lang": "es"}]
    assert "No se aceptan denuncias" in spanish
    assert main_links(spanish) == ["/report/status?lang=es", "/?lang=es"]

    # Another refusal (a stale form) keeps its way back, and its switch.
    await open_reports(app)
    status, text, _ = await post_form(client, "/report", report(csrf="stale"))
    assert status == 403
    assert main_links(text) == ["/report?lang=en"]
    assert {"href": "/report?lang=es", "hreflang": "es", "lang": "es"} in Page(text).all("a")


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_the_date_and_time_hints_hold_whatever_widget_the_browser_shows(
    client: NodeClient, app: web.Application, lang: str
) -> None:
    """The browser shows its own date and time widgets, in its own format (a US browser
    shows month/day/year and a.m./p.m.): the hints must not contradict them, and still
    say what to type where the browser gives a plain text box."""
    await open_reports(app)
    page = Page(await (await client.get(f"/report?lang={lang}")).text())
    assert page.by_id("occurred_on")["type"] == "date"
    assert page.by_id("occurred_time")["type"] == "time"
    t = i18n.CATALOGS[lang]
    for name in ("field.occurred_on.hint", "field.occurred_time.hint"):
        hint = t.gettext(name)
        # It names the browser's field, and gives the typed format only for a plain box.
        assert ("browser" in hint) or ("navegador" in hint), hint
        assert ("plain text box" in hint) or ("casilla de texto normal" in hint), hint
        assert not hint.lower().startswith(("year", "año", "hours", "horas")), hint
    for name in ("error.occurred_on", "error.occurred_time"):
        assert ("plain text box" in t.gettext(name)) or ("casilla" in t.gettext(name))


async def test_federation_answers_carry_only_what_a_peer_uses(client: NodeClient) -> None:
    """A peer reads msgpack: the browser headers would be a third of an in-sync session."""
    response = await client.post(
        "/federation/v1/public/sync",
        data=b"\xc1",
        headers={"Content-Type": "application/msgpack"},
    )
    assert response.status >= 400
    # A refusal says what it is (problem+json, never sniffed) and carries no browser header.
    assert response.content_type == "application/problem+json"
    assert set(SECURITY_HEADERS) & set(response.headers) == set()
    assert "Server" not in response.headers
