"""bench/agencypage.py runs for real in a tiny mode and reports its target."""

from pathlib import Path

from bench import agencypage


def test_the_agency_page_benchmark_times_the_real_page_at_a_tiny_scale(tmp_path: Path) -> None:
    rows = agencypage.run(0.001, 1, 1, tmp_path, pages=20)
    assert rows[0][1] == "1,310 records"
    assert rows[0][2].startswith("built now")
    measure, value, verdict = rows[1]
    assert measure.startswith("GET /agencies/{id}, cold")
    assert value.endswith(" ms")
    assert "<= 50 ms" in verdict
    # The second run measures the node the first one kept.
    assert agencypage.run(0.001, 1, 1, tmp_path, pages=5)[0][2].startswith("cached")
