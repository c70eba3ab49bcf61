"""The Jinja2 environment the report pages render with, built once per app.

Templates live in ``node/web/templates/``; HTML is autoescaped, and ``_()`` in a
template looks its message id up in the catalog of the request being answered:
the render context's ``t`` (:class:`node.web.i18n.Catalog`). A translation is
escaped like any other text, so no catalog can put markup in a page.
"""

from typing import Final

import jinja2
from aiohttp import web
from markupsafe import Markup

TEMPLATES: Final = web.AppKey("templates", jinja2.Environment)


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message_id: str) -> Markup:
    return Markup.escape(context["t"](message_id))


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, count: int) -> Markup:
    return Markup.escape(context["t"].translations.ngettext(singular, plural, count))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("node.web", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    return env
