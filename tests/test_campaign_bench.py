"""bench/agencypage.py runs for real in a tiny mode and reports its target."""

from bench import agencypage


async def test_the_agency_page_benchmark_measures_at_a_tiny_scale() -> None:
    rows = await agencypage.run(0.001, pages=20)
    assert rows[0][1] == "1,310 records"
    measure, value, verdict = rows[1]
    assert measure.startswith("agency page, 11 queries")
    assert value.endswith(" ms")
    assert "<= 50 ms" in verdict
