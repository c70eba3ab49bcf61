"""Subdivisions by name (node/web/regions.py): the shipped names are iso-codes' as
pycountry has them, in English and Spanish, and an unknown code stays a code."""

from deploy import regions as build
from node.web.regions import REGIONS_FILE, region_name


def test_the_shipped_names_are_those_deploy_regions_builds() -> None:
    assert REGIONS_FILE.read_text(encoding="utf-8") == build.text()


def test_a_subdivision_is_named_in_the_visitors_language() -> None:
    assert region_name("en", "US", "CA") == "California"
    assert region_name("en", "US", "NY") == "New York"
    assert region_name("es", "US", "NY") == "Nueva York"
    assert region_name("es", "US", "CA") == "California"  # no Spanish name of its own
    assert region_name("en", "ES", "CT") == "Catalunya"  # without "[Cataluña]"
    assert region_name("en", "US", "ZZ") == "US-ZZ"
    assert region_name("fr", "AU", "NSW") == "New South Wales"
