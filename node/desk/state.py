"""What one running desk holds: the node it talks to, the key, and the reports opened.

:class:`Desk` is the app's one piece of state. The private key and every
opened report live in this process's memory only: nothing here writes a
file, and nothing is logged (the desk has no request log at all). Opening a
report goes through :meth:`Desk.open`, which fetches the box (the node logs
it as viewed) and opens it with the key; the opened part is kept in memory
for search and duplicates until the desk stops.
"""

import json
from dataclasses import dataclass, field
from typing import Any, Final

import jinja2
from aiohttp import web
from markupsafe import Markup

from node.desk.guard import Guard
from node.desk.nodeapi import NodeApi, NodeError
from node.web.i18n import CATALOGS, Catalog, choose_language
from protocol.keys import b64url_decode, b64url_encode
from protocol.sealing import ModeratorKey, ModeratorPublicKey, SealingError, seal
from protocol.utc import utc_text

# A first publication's audience when the moderator changes nothing, until the node says
# (GET /api/v1/moderators, "default_audience"): deployments are cameras in public space;
# an incident goes where the node's [moderation] incident_audience says, ``network`` unless
# its operator changed it (docs/moderators.md, "Choosing the audience").
DEFAULT_AUDIENCE: Final = {"deployment": "public", "incident": "network"}


class CannotOpen(Exception):
    """A box that this key does not open (sealed to other keys, or damaged)."""


@dataclass
class Opened:
    """A report as the desk knows it: the node's view, and its private part opened here."""

    view: dict[str, Any]
    private: dict[str, Any] | None  # None once purged


@dataclass
class Desk:
    api: NodeApi
    key: ModeratorKey
    guard: Guard
    node_info: dict[str, Any] = field(default_factory=dict)
    opened: dict[str, Opened] = field(default_factory=dict)
    me: str | None = None  # the holder name the node gives this desk's claims
    claimed_at: dict[str, float] = field(default_factory=dict)  # monotonic seconds
    audiences: dict[str, str] | None = None  # the node's default audience per kind
    # Per report, the draft last previewed (kind, body or None, audience), for the framed
    # view of it as the public site will show it (node.desk.sitepreview).
    previewed: dict[str, tuple[str, dict[str, Any] | None, str]] = field(default_factory=dict)

    async def default_audience(self, kind: str) -> str:
        """The audience the node says a first publication of ``kind`` goes to by default
        (asked once; a node too old to say gets :data:`DEFAULT_AUDIENCE`)."""
        if self.audiences is None:
            try:
                said = await self.api.default_audience()
            except NodeError:  # asked again next time; meanwhile the narrowest usual default
                return DEFAULT_AUDIENCE.get(kind, DEFAULT_AUDIENCE["incident"])
            self.audiences = {**DEFAULT_AUDIENCE, **said}
        return self.audiences.get(kind, DEFAULT_AUDIENCE["incident"])

    async def open(self, submission_id: str) -> Opened:
        """Fetch a submission with its box and open it here."""
        view = await self.api.submission(submission_id)
        sealed = view.get("sealed")
        private = None if sealed is None else self.open_box(sealed, submission_id)
        opened = Opened({k: v for k, v in view.items() if k != "sealed"}, private)
        self.opened[submission_id] = opened
        return opened

    def open_box(self, sealed: str, context: str) -> dict[str, Any]:
        try:
            plaintext = self.key.open(b64url_decode(sealed), context.encode("utf-8"))
        except (SealingError, ValueError) as exc:
            raise CannotOpen(context) from exc
        opened: dict[str, Any] = json.loads(plaintext)
        return opened

    async def seal_note(self, submission_id: str, text: str) -> tuple[str, list[str]]:
        """A note sealed to every current moderator key, as the notes route wants it."""
        keys = [ModeratorPublicKey.parse(m["public"]) for m in await self.api.moderators()]
        plaintext = json.dumps({"text": text}, ensure_ascii=False).encode("utf-8")
        box = seal(plaintext, keys, f"{submission_id}:note".encode())
        return b64url_encode(box), [k.key_id for k in keys]


DESK: Final = web.AppKey("desk", Desk)
TEMPLATES: Final = web.AppKey("desk_templates", jinja2.Environment)


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message_id: str) -> Markup:
    return Markup.escape(context["t"](message_id))


def environment() -> jinja2.Environment:
    """The desk's templates (its own package's), autoescaped, ``_()`` from the catalogs."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("node.desk", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_gettext, newstyle=True
    )
    env.filters["utc"] = lambda ms: "" if ms is None else utc_text(int(ms))
    return env


def catalog(request: web.Request) -> Catalog:
    lang = choose_language((request.query.get("lang"),), request.headers.get("Accept-Language", ""))
    return Catalog(lang, CATALOGS[lang])


def render(
    request: web.Request, template: str, *, http_status: int = 200, **ctx: Any
) -> web.Response:
    """A desk page in the moderator's language, with the CSRF token every form carries."""
    desk = request.app[DESK]
    t = catalog(request)
    text = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(t=t, lang=t.lang, csrf=desk.guard.csrf, node=desk.api.url, me=desk.me, **ctx)
    )
    return web.Response(text=text, status=http_status, content_type="text/html", charset="utf-8")
