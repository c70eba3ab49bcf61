"""The desk's defences as a local web UI: who may talk to it, and what its pages may do.

A desk on 127.0.0.1 is reachable by every page the moderator's browser opens
and every process on the machine, so, as Jupyter does:

- **a secret in the URL** the desk prints: opening it once exchanges the
  secret for a session cookie (``HttpOnly``, ``SameSite=Strict``) and
  redirects to the same page without it, so the secret leaves the address
  bar and the history. Every other request needs the cookie;
- **a strict Host check**: only ``127.0.0.1:PORT`` and ``localhost:PORT``,
  so a DNS-rebinding page (``evil.example`` resolving to 127.0.0.1) is refused;
- **CSRF**: every POST carries the session's CSRF token (a form field or the
  ``X-CSRF-Token`` header), and an ``Origin`` or ``Sec-Fetch-Site`` that is
  not the desk's own is refused before anything else;
- **a strict Content-Security-Policy**: the desk's own scripts and styles
  only, nothing inline, no request to any other origin, no framing.

Refusals are plain text: they go to whoever is not the moderator.
"""

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

COOKIE: Final = "banscan_desk"
SECRET_PARAM: Final = "secret"  # noqa: S105 (a parameter name)
CSRF_FIELD: Final = "csrf"
CSRF_HEADER: Final = "X-CSRF-Token"
POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS: Final = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",  # no-referrer would make a form's Origin "null"
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# A handler sets ``request[FRAMED] = True`` on the one page the desk frames in itself (the
# draft as the public site shows it): it may be framed by the desk, never by another origin.
FRAMED: Final = web.RequestKey("desk_framed", bool)
_FRAMED_HEADERS: Final = {
    **_HEADERS,
    "Content-Security-Policy": POLICY.replace("frame-ancestors 'none'", "frame-ancestors 'self'"),
    "X-Frame-Options": "SAMEORIGIN",
}
_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Guard:
    """The secret, the session it opens, and the port the desk listens on (known once bound)."""

    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    session: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    port: int = 0

    def hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    def origins(self) -> frozenset[str]:
        return frozenset(f"http://{host}" for host in self.hosts())

    def url(self, host: str = "127.0.0.1") -> str:
        """The URL to open: the one place the secret is shown."""
        return f"http://{host}:{self.port}/?{SECRET_PARAM}={self.secret}"


def _refuse(status: int, text: str) -> web.Response:
    return web.Response(status=status, text=text + "\n", headers=_HEADERS)


def _same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def guard_middleware(guard: Guard) -> Middleware:
    """The middleware that applies :class:`Guard` to every request, static files included."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.headers.get("Host") not in guard.hosts():
            return _refuse(403, "refused: this desk answers only on its own address")
        origin = request.headers.get("Origin")
        if origin is not None and origin not in guard.origins():
            return _refuse(403, "refused: a request from another origin")
        if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return _refuse(403, "refused: a request from another site")
        secret = request.query.get(SECRET_PARAM)
        if secret is not None and request.method == "GET":
            if not _same(secret, guard.secret):
                return _refuse(403, "refused: wrong secret; open the URL banscan desk printed")
            query = {k: v for k, v in request.query.items() if k != SECRET_PARAM}
            target = request.rel_url.with_query(query)
            response = web.Response(status=303, headers={**_HEADERS, "Location": str(target)})
            response.set_cookie(COOKIE, guard.session, httponly=True, samesite="Strict", path="/")
            return response
        if not _same(request.cookies.get(COOKIE), guard.session):
            return _refuse(
                403, "refused: no desk session; open the URL banscan desk printed in its terminal"
            )
        if request.method not in _SAFE_METHODS:
            token = request.headers.get(CSRF_HEADER)
            if token is None and request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                token = str((await request.post()).get(CSRF_FIELD, ""))
            if not _same(token, guard.csrf):
                return _refuse(403, "refused: the form's CSRF token is missing or wrong")
        try:
            answer = await handler(request)
        except web.HTTPException as exc:  # a 404, a redirect: the same headers
            exc.headers.update(_HEADERS)
            raise
        answer.headers.update(_FRAMED_HEADERS if request.get(FRAMED) else _HEADERS)
        return answer

    return middleware
