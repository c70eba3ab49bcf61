"""The Jinja2 environment the pages render with, built once per process.

Templates live in ``node/web/templates/``; HTML is autoescaped, and ``_()`` in a
template looks its message id up in the catalog of the request being answered:
the render context's ``t`` (:class:`node.web.i18n.Catalog`). A translation is
escaped like any other text, so no catalog can put markup in a page.

Compiling a template takes milliseconds (record.html and the fields it includes,
44 ms; all 28, about a quarter of a second), so a node compiles them all in the
background as it starts (:func:`warm_templates`) rather than on each one's first
visitor: the first record page after a start took 52 ms, 5 ms after
(bench/README.md). The environment holds no state of one app's, so every app in a
process shares it (:func:`shared_environment`), and its compiled templates.
"""

import asyncio
import functools
from typing import Final

import jinja2
from aiohttp import web
from markupsafe import Markup

from node.state import TASKS, after_start_sync

TEMPLATES: Final = web.AppKey("templates", jinja2.Environment)


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message_id: str) -> Markup:
    return Markup.escape(context["t"](message_id))


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, count: int) -> Markup:
    return Markup.escape(context["t"].translations.ngettext(singular, plural, count))


def environment(*first: jinja2.BaseLoader) -> jinja2.Environment:
    """A new environment; ``first``: loaders asked before the site's templates (the
    desk's preview of a public page has a base of its own)."""
    site = jinja2.PackageLoader("node.web", "templates")
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([*first, site]) if first else site,
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


@functools.cache
def shared_environment() -> jinja2.Environment:
    """The site's environment: one per process, shared by its apps (nothing in it is
    one app's), so templates are compiled once."""
    return environment()


def compile_all(env: jinja2.Environment) -> None:
    """Compile every template into ``env``'s cache (kept: its cache holds 400)."""
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)


async def warm_templates(app: web.Application) -> None:
    """An ``on_startup`` hook: :func:`compile_all` in a thread, in the background (a
    visitor who comes first compiles the template they need, as before)."""
    env = app[TEMPLATES]
    warming = after_start_sync(app, lambda: asyncio.to_thread(compile_all, env))
    app[TASKS].start("warm-templates", warming)
