"""Browser-facing protections: security headers on every response, and CSRF for the forms.

:func:`add_security_headers` runs as every response is prepared, so streamed
exports, problem+json answers and aiohttp's own errors carry the headers too.
A header a handler set is left alone. The policy allows no script and no inline style at
all: the pages under ``/report`` are plain HTML with one same-origin stylesheet.

CSRF uses a double-submit cookie. ``GET`` of a form sets ``banscan_csrf``, a
random value that says nothing about the person, and puts an HMAC of it (under
a secret held in memory by this process) in a hidden field. A ``POST`` is
refused unless both are there and match, or when the browser says, with
``Sec-Fetch-Site``, that another site sent it. Because the field is an HMAC, a
cookie planted from a sibling domain does not help a forger; the price is that
a form loaded before a restart of the node must be loaded again.
"""

import base64
import hashlib
import hmac
import re
import secrets
from typing import Final

from aiohttp import web


def content_security_policy(
    *,
    scripts: bool = False,
    workers: bool = False,
    connect: bool = False,
    frame_ancestors: tuple[str, ...] = (),
) -> str:
    """The policy of a page: everything from this origin only, and only what it needs.

    ``scripts``: same-origin scripts (the map, the record check); ``workers``:
    same-origin web workers and ``blob:`` images (MapLibre); ``connect``:
    ``fetch`` to this origin (map data, tiles); ``frame_ancestors``: the origins
    that may show the page in a frame (none by default)."""
    ancestors = " ".join(frame_ancestors) or "'none'"
    directives = [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data: blob:" if workers else "img-src 'self'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
        "base-uri 'none'",
    ]
    if scripts:
        directives.append("script-src 'self'")
    if workers:
        directives.append("worker-src 'self' blob:")
        directives.append("child-src 'self' blob:")
    if connect:
        directives.append("connect-src 'self'")
    return "; ".join(directives)


CONTENT_SECURITY_POLICY: Final = content_security_policy()
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=(), interest-cohort=()",
}
# Node-to-node answers (msgpack a peer reads, or problem+json; never a page a browser
# shows) carry none of them: they are bytes a browser alone acts on, on every exchange
# between nodes (bench/README.md, "bench/insync.py"). Not even nosniff: no federation
# answer has a type a browser sniffs (application/msgpack, application/problem+json).
FEDERATION_PREFIX: Final = "/federation/"
FEDERATION_BODY_TYPE: Final = "application/msgpack"
CSRF_COOKIE: Final = "banscan_csrf"
CSRF_FIELD: Final = "csrf"
CSRF_PATH: Final = "/report"
_CSRF_COOKIE_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{43}$")
_CSRF_SECRET: Final = secrets.token_bytes(32)


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Add :data:`SECURITY_HEADERS` to a response about to be sent (``on_response_prepare``).

    A page whose own policy lets other origins frame it (``/embed/map``) gets no
    ``X-Frame-Options``, which could only forbid that; federation answers get none."""
    if request.path.startswith(FEDERATION_PREFIX):
        response.headers.popall("Server", None)
        if response.headers.get("Content-Type") == FEDERATION_BODY_TYPE:
            # A 200 answer is msgpack by the protocol; a refusal keeps its problem+json type.
            del response.headers["Content-Type"]  # aiohttp's version, of no use to a peer
        return
    policy = response.headers.get("Content-Security-Policy", "")
    framable = "frame-ancestors" in policy and "frame-ancestors 'none'" not in policy
    for name, value in SECURITY_HEADERS.items():
        if not (framable and name == "X-Frame-Options"):
            response.headers.setdefault(name, value)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def csrf_cookie(request: web.Request) -> str:
    """The request's CSRF cookie if it has a well-formed one (so tabs share it), else a new one."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return cookie if _CSRF_COOKIE_PATTERN.match(cookie) else _b64(secrets.token_bytes(32))


def csrf_token(cookie: str) -> str:
    """The hidden field's value for a cookie."""
    return _b64(hmac.new(_CSRF_SECRET, cookie.encode("ascii"), hashlib.sha256).digest())


def set_csrf_cookie(request: web.Request, response: web.StreamResponse, cookie: str) -> None:
    forwarded_https = request.headers.get("X-Forwarded-Proto", "").strip().lower() == "https"
    response.set_cookie(
        CSRF_COOKIE,
        cookie,
        path=CSRF_PATH,
        httponly=True,
        samesite="Strict",
        secure=request.secure or forwarded_https,
    )


def cross_site(request: web.Request) -> bool:
    """Whether the browser says another site sent this request."""
    return request.headers.get("Sec-Fetch-Site", "").strip().lower() == "cross-site"


def has_csrf_cookie(request: web.Request) -> bool:
    return bool(_CSRF_COOKIE_PATTERN.match(request.cookies.get(CSRF_COOKIE, "")))


def csrf_valid(request: web.Request, token: str | None) -> bool:
    """Whether a POST carries a well-formed cookie and the matching hidden field."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if token is None or not _CSRF_COOKIE_PATTERN.match(cookie):
        return False
    return hmac.compare_digest(csrf_token(cookie).encode("ascii"), token.encode("utf-8"))
