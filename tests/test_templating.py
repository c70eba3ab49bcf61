"""Templates compiled ahead: every page template is in the environment's cache after
:func:`node.web.templating.compile_all`, and a node starts the job itself."""

import weakref

import jinja2
import pytest
from aiohttp import web

from node.desk.sitepreview import site_templates
from node.web import templating


def test_compile_all_leaves_every_template_compiled() -> None:
    env = templating.environment()  # a new one, not the process's shared one
    names = env.list_templates(extensions=["html"])
    assert "record.html" in names
    assert len(names) > 20
    templating.compile_all(env)
    assert env.loader is not None
    assert env.cache is not None
    loader = weakref.ref(env.loader)
    assert [name for name in names if (loader, name) not in env.cache] == []


def test_a_node_compiles_its_templates_as_it_starts(app: web.Application) -> None:
    assert templating.warm_templates in app.on_startup
    assert app[templating.TEMPLATES] is templating.shared_environment()  # one per process


def test_the_desk_preview_has_an_environment_of_its_own() -> None:
    """The desk's preview finds its own base first; the site's shared one never does."""
    preview = site_templates()
    assert preview is not templating.shared_environment()
    preview.get_template("sitepreview.html")
    with pytest.raises(jinja2.TemplateNotFound):
        templating.shared_environment().get_template("sitepreview.html")
