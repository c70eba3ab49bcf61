"""Build ``node/web/regions.json``: ISO 3166-2 subdivision names, in English and Spanish.

    python deploy/regions.py            # rebuild from pycountry (the test extra)
    python deploy/regions.py --check    # exit 1 when the shipped file differs

The pages name a jurisdiction's subdivision (``US-CA``) by its name in the
visitor's language (node/web/regions.py). The names are Debian's iso-codes
data as ``pycountry`` ships it: each subdivision's name (the local one, as
ISO 3166-2 gives it: ``Bayern``, ``Île-de-France``), without the alternative
spelling some carry in brackets (``Catalunya [Cataluña]`` becomes
``Catalunya``), and iso-codes' Spanish translation where it has one that
differs (``Nueva York``, ``Nueva Gales del Sur``). ``en`` holds every code;
``es`` only the differing ones, the page falling back to ``en``.
tests/test_regions.py checks the shipped file against pycountry.
"""

import argparse
import gettext
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

OUT: Final = Path(__file__).resolve().parent.parent / "node" / "web" / "regions.json"
LANGUAGES: Final = ("es",)
_ALTERNATIVE = re.compile(r"\s*\[[^\]]*\]$")


def names() -> dict[str, dict[str, str]]:
    """``{"en": {code: name}, "es": {code: name where it differs}}``."""
    import pycountry  # the test extra's; only this build script and its test need it

    english: dict[str, str] = {}
    others: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    catalogs = {
        lang: gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=[lang])
        for lang in LANGUAGES
    }
    for subdivision in pycountry.subdivisions:
        code, name = subdivision.code, subdivision.name
        english[code] = _ALTERNATIVE.sub("", name)
        for lang, catalog in catalogs.items():
            translated = _ALTERNATIVE.sub("", catalog.gettext(name))
            if translated != english[code]:
                others[lang][code] = translated
    return {"en": dict(sorted(english.items()))} | {
        lang: dict(sorted(found.items())) for lang, found in others.items()
    }


def text() -> str:
    return json.dumps(names(), ensure_ascii=False, separators=(",", ":"), indent=0) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare the shipped file")
    args = parser.parse_args(argv)
    built = text()
    if args.check:
        same = OUT.is_file() and OUT.read_text(encoding="utf-8") == built
        print(f"{OUT}: {'up to date' if same else 'differs from pycountry; rebuild it'}")
        return 0 if same else 1
    OUT.write_text(built, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
