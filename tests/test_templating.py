"""Templates compiled ahead: every page template is in the environment's cache after
:func:`node.web.templating.compile_all`, and a node starts the job itself."""

import weakref

from aiohttp import web

from node.web import templating


def test_compile_all_leaves_every_template_compiled() -> None:
    env = templating.environment.__wrapped__()  # a fresh one, not the process's
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
    assert app[templating.TEMPLATES] is templating.environment()  # one per process
