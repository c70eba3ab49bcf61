"""The site's page filters: what a URL asks for, checked and applied per kind."""

import pytest
from aiohttp.test_utils import make_mocked_request

from node.problems import BadParameter
from node.web.filters import PageFilter, form_fields, page_filter


def filter_of(query: str) -> PageFilter:
    return page_filter(make_mocked_request("GET", f"/map?{query}"), extra=("bbox",))


def test_empty_fields_of_a_submitted_form_are_dropped() -> None:
    page = filter_of("country=&city=+Berlin+&status=&frt=&lang=es")
    assert page.values == {"city": "Berlin"}
    assert page.query("deployment").cities == ("Berlin",)
    assert page.query("incident").audiences == ("public",)


def test_a_filter_of_one_kind_is_not_applied_to_the_other() -> None:
    page = filter_of("frt=confirmed&category=harassment")
    assert page.query("deployment").frt == ("confirmed",)
    assert page.query("deployment").categories == ()
    assert page.query("incident").categories == ("harassment",)
    assert not page.applies_to("incident")
    assert not page.applies_to("deployment")
    statuses = filter_of("status=verified,confirmed")
    assert statuses.query("incident").statuses == ("verified",)
    assert statuses.query("deployment").statuses == ("confirmed",)
    assert filter_of("status=removed").applies_to("deployment")
    assert not filter_of("status=removed").applies_to("incident")


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("colour=red", "colour"),
        ("category=weather", "category"),
        ("frt=maybe", "frt"),
        ("status=lost", "status"),
        ("country=XX", "country"),
        ("occurred_from=2025-02-30", "occurred_from"),
        ("occurred_from=2025-03-01&occurred_to=2025-02-01", "occurred_to"),
        ("city=a&city=b", "city"),
        ("city=" + "x" * 201, "city"),
    ],
)
def test_a_bad_value_is_refused_by_name(query: str, parameter: str) -> None:
    with pytest.raises(BadParameter) as raised:
        filter_of(query)
    assert raised.value.detail.startswith(f"{parameter}:")


def test_links_keep_the_filter_and_the_language() -> None:
    page = filter_of("country=GB&city=London")
    assert page.link("/incidents", "es", after="abc") == (
        "/incidents?country=GB&city=London&after=abc&lang=es"
    )
    assert page.link("/map", "en", city=None) == "/map?country=GB&lang=en"


def test_the_form_offers_what_applies_to_the_kinds_shown() -> None:
    names = [name for name, _ in form_fields(("deployment",))]
    assert names == ["country", "city", "status", "frt", "occurred_from", "occurred_to"]
    fields = dict(form_fields(("incident",)))
    assert "frt" not in fields
    assert fields["status"] == ["unverified", "corroborated", "verified"]
