"""The weight of the site's pages: each page fetched with every file it links, each file
gzip-compressed (level 6, what nginx, Caddy or a CDN in front would send) and added up.

A page's HTML and its stylesheets (and what they ``@import``) make its **HTML + CSS**
weight; its scripts (``<script src>``, ``modulepreload``, a script's address in a
``data-`` attribute, and the modules and workers those scripts load by a literal
address) its **JavaScript**; images, fonts and the rest are counted as **other** and
have no target. Targets (issue 12): HTML + CSS at most 60 KB on every page; the map
page's JavaScript at most 300 KB; no JavaScript on any other page but a record page's
signature check. 1 KB here is 1,000 bytes.
"""

import gzip
import html.parser
import re
import urllib.parse
from dataclasses import dataclass, field

from bench.querytiming import Client

MAX_HTML_CSS = 60_000
MAX_MAP_JS = 300_000
MAP_PAGES = ("/map", "/embed/map")
SCRIPT_ADDRESS = re.compile(r"(?:/|\.{1,2}/)\S+\.m?js(?:\?\S*)?$")
CSS_LINKS = re.compile(rb"""@import\s+(?:url\()?["']?([^"')\s;]+)|url\(["']?([^"')]+)["']?\)""")
JS_LINKS = re.compile(
    rb"""(?:(?:import|export)\s*(?:[\w*{}\s,$]+from\s*)?|import\(\s*|Worker\(\s*|["'])"""
    rb"""["']?((?:\.{1,2}/|/static/)[^"'\s]+?\.m?js(?:\?[^"'\s]*)?)["']"""
)


class _Links(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.css: list[str] = []
        self.js: list[str] = []
        self.other: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {name: value or "" for name, value in attrs}
        rel = a.get("rel", "").split()
        # A module a script imports from an address the page gives it (data-ed25519="...").
        self.js += [v for k, v in a.items() if k.startswith("data-") and SCRIPT_ADDRESS.match(v)]
        if tag == "link" and "stylesheet" in rel:
            self.css.append(a["href"])
        elif tag == "link" and ("modulepreload" in rel or a.get("as") == "script"):
            self.js.append(a["href"])
        elif tag == "script" and a.get("src"):
            self.js.append(a["src"])
        elif tag == "link" and a.get("href") and rel and "alternate" not in rel:
            self.other.append(a["href"])
        elif tag in ("img", "source", "iframe", "object") and (a.get("src") or a.get("data")):
            self.other.append(a.get("src") or a.get("data") or "")


@dataclass(slots=True)
class Weight:
    """A page's gzip-compressed bytes by type, and the files counted."""

    page: str
    html: int = 0
    css: int = 0
    js: int = 0
    other: int = 0
    files: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def html_css(self) -> int:
        return self.html + self.css


def gz(body: bytes) -> int:
    return len(gzip.compress(body, compresslevel=6))


def _same_origin(base: str, href: str) -> str | None:
    """The path of ``href`` on the node, or None for another origin (counted as an error)."""
    joined = urllib.parse.urljoin(base, href)
    parts = urllib.parse.urlsplit(joined)
    if parts.scheme or parts.netloc:
        return None
    return joined


def weigh(client: Client, page: str) -> Weight:
    """Fetch ``page`` and every file it links (once each), and weigh them."""
    weight = Weight(page)
    status, body = client.get(page)
    if status != 200:
        weight.error = "not built yet (404)" if status == 404 else f"HTTP {status}"
        return weight
    weight.html = weight.files[page] = gz(body)
    links = _Links()
    links.feed(body.decode("utf-8", errors="replace"))
    queue = [("css", h) for h in links.css] + [("js", h) for h in links.js]
    queue += [("other", h) for h in links.other]
    while queue:
        kind, href = queue.pop(0)
        path = _same_origin(page, href)
        if path is None:
            weight.error = f"links another origin: {href}"
            continue
        if path in weight.files:
            continue
        status, data = client.get(path)
        if status != 200:
            weight.error = f"HTTP {status} for {path}"
            continue
        size = weight.files[path] = gz(data)
        setattr(weight, kind, getattr(weight, kind) + size)
        queue += _linked(kind, path, data)
    return weight


def _linked(kind: str, path: str, data: bytes) -> list[tuple[str, str]]:
    """What a stylesheet or a script loads in turn, by a literal address."""
    if kind == "css":
        found = []
        for imported, url in CSS_LINKS.findall(data):
            if imported:
                found.append(("css", urllib.parse.urljoin(path, imported.decode())))
            elif url and not url.startswith(b"data:"):
                found.append(("other", urllib.parse.urljoin(path, url.decode())))
        return found
    if kind == "js":
        return [("js", urllib.parse.urljoin(path, m.decode())) for m in JS_LINKS.findall(data)]
    return []


def verdicts(weight: Weight, record_pages: set[str]) -> tuple[str, str]:
    """The HTML + CSS verdict and the JavaScript verdict of one page."""
    html_css = "ok" if weight.html_css <= MAX_HTML_CSS else "ABOVE TARGET"
    if weight.page in MAP_PAGES:
        js = "ok" if weight.js <= MAX_MAP_JS else "ABOVE TARGET"
    elif weight.page in record_pages:
        js = "ok (the record check)"
    else:
        js = "ok (none)" if weight.js == 0 else "SCRIPT ON A PAGE THAT SHOULD HAVE NONE"
    return html_css, js
