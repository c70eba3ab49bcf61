"""The report pages' gettext catalogs: complete, compiled, and shipped.

Every message the templates and code can ask for (as ``pybabel extract -F babel.cfg``
finds them) is translated in every catalog; the committed ``.mo`` files are what
compiling the ``.po`` files gives; a wheel carries the templates and ``.mo`` files.
"""

import io
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from node.config import Config
from node.web import i18n, templating
from node.web.i18n import CATALOGS
from node.web.site import NAVIGATION, SiteInfo
from node.web.static import static_url

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "node" / "web" / "locales"
LANGUAGES = ("en", "es")


def extracted_ids() -> set[str]:
    with (ROOT / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    found = extract_from_dir(str(ROOT), method_map, options_map)
    return {message for _, _, message, _, _ in found if isinstance(message, str)}


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as stream:
        return read_po(stream)


def po_file(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{i18n.DOMAIN}.po"


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"%\((\w+)\)s", text))


def test_the_node_speaks_english_and_spanish() -> None:
    assert set(CATALOGS) == set(LANGUAGES)
    assert sorted(path.name for path in LOCALES.iterdir() if path.is_dir()) == list(LANGUAGES)


def test_every_catalog_translates_every_message_the_pages_use() -> None:
    used = extracted_ids()
    assert {"page.title", "status.bad", "errors.prefix", "country.GB", "error.form"} <= used
    assert len(used) > 300
    template = {message.id for message in read_catalog(LOCALES / "messages.pot") if message.id}
    assert template == used, "messages.pot is stale: run pybabel extract (docs/operators.md)"
    english = {message.id: str(message.string) for message in read_catalog(po_file("en"))}
    for lang in LANGUAGES:
        catalog = read_catalog(po_file(lang))
        assert not catalog.fuzzy, f"{lang}: the catalog is marked fuzzy"
        assert not catalog.obsolete, f"{lang}: obsolete entries {sorted(catalog.obsolete)}"
        messages = {message.id: message for message in catalog if message.id}
        missing = sorted(used - set(messages))
        assert not missing, f"{lang}: messages used but not in the catalog: {missing}"
        assert set(messages) == used, f"{lang}: unused {sorted(set(messages) - used)}"
        for message_id, message in messages.items():
            assert isinstance(message.string, str), f"{lang}: {message_id} has plurals"
            assert message.string.strip(), f"{lang}: {message_id} is empty"
            assert not message.fuzzy, f"{lang}: {message_id} is fuzzy"
            assert placeholders(message.string) == placeholders(english[message_id]), (
                lang,
                message_id,
            )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_committed_mo_is_the_compiled_po(lang: str) -> None:
    compiled = io.BytesIO()
    write_mo(compiled, read_catalog(po_file(lang)))
    committed = po_file(lang).with_suffix(".mo").read_bytes()
    assert committed == compiled.getvalue(), f"run pybabel compile for {lang}"


def test_a_message_missing_from_a_catalog_is_an_error_not_its_id() -> None:
    with pytest.raises(KeyError):
        CATALOGS["es"].gettext("page.no_such_message")


def test_a_translation_is_text_not_markup() -> None:
    env = templating.environment()
    page = env.from_string("{{ _('lang.switch_label') }} {{ _('toolarge.body', max_kb=size) }}")
    t = i18n.Catalog("en", CATALOGS["en"])
    assert page.render(t=t, size="<b>") == (
        "Language: This node accepts reports of up to &lt;b&gt; KB. Shorten the description"
        " or the lists of links and names, and send it again."
    )
    assert callable(env.autoescape)
    assert env.autoescape("report_form.html")


@pytest.mark.slow
def test_a_wheel_carries_the_templates_and_compiled_catalogs(tmp_path: Path) -> None:
    """Built offline with the setuptools the test extra installs (tests talk to no network)."""
    source = tmp_path / "source"
    for package in ("node", "protocol", "storage", "federation"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", *offline, "-w", str(tmp_path), str(source)],
        check=True,
        timeout=300,
    )
    [wheel] = tmp_path.glob("banscan-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    templates = {
        f"node/web/templates/{path.name}" for path in (ROOT / "node/web/templates").glob("*.html")
    }
    assert templates
    assert templates <= names
    assert {f"node/web/locales/{lang}/LC_MESSAGES/messages.mo" for lang in LANGUAGES} <= names
    assert "node/web/static/site.css" in names
    assert "node/web/regions.json" in names  # subdivision names (node/web/regions.py)
    # The desk's own page code travels in the package, as the node never serves it.
    desk = {f"node/desk/templates/{p.name}" for p in (ROOT / "node/desk/templates").glob("*.html")}
    assert desk <= names
    assert {"node/desk/static/desk.js", "node/desk/static/desk.css"} <= names


def test_a_right_to_left_language_gets_dir_rtl() -> None:
    env = templating.environment()
    page = env.get_template("status_result.html")
    context: dict[str, object] = {
        "site": SiteInfo.from_config(Config()),
        "static_url": static_url,
        "navigation": NAVIGATION,
        "nav": None,
        "switch_to": None,
        "other_languages": [],
        "failed": False,
    }
    for lang, expected in (("en", '<html lang="en">'), ("ar", '<html lang="ar" dir="rtl">')):
        t = i18n.Catalog(lang, CATALOGS["en"])
        assert expected in page.render(t=t, status="status.received", **context)
