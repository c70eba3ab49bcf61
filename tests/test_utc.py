"""protocol.utc: the one formatter of moments, checked against the standard library."""

import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.utc import Style, utc_text

MOMENT = 1_772_368_496_789  # 2026-03-01 12:34:56.789 UTC
# From 1970 to the last millisecond of 9999.
MS = st.integers(min_value=0, max_value=253_402_300_799_999)


@pytest.mark.parametrize(
    ("style", "text"),
    [
        ("date", "2026-03-01"),
        ("seconds", "2026-03-01 12:34:56Z"),
        ("rfc3339", "2026-03-01T12:34:56.789Z"),
        ("isoformat", "2026-03-01T12:34:56.789+00:00"),
        ("basic", "20260301T123456Z"),
        ("basic-date", "20260301"),
    ],
)
def test_each_style(style: Style, text: str) -> None:
    assert utc_text(MOMENT, style) == text


def test_seconds_is_the_default() -> None:
    assert utc_text(MOMENT) == "2026-03-01 12:34:56Z"


def test_the_epoch_and_the_last_millisecond_of_a_day() -> None:
    assert utc_text(0, "rfc3339") == "1970-01-01T00:00:00.000Z"
    assert utc_text(86_399_999, "rfc3339") == "1970-01-01T23:59:59.999Z"
    assert utc_text(86_400_000, "date") == "1970-01-02"


@given(MS)
def test_agrees_with_datetime(ms: int) -> None:
    moment = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(
        milliseconds=ms
    )
    assert utc_text(ms, "isoformat") == moment.isoformat(timespec="milliseconds")
    assert utc_text(ms, "seconds") == moment.strftime("%Y-%m-%d %H:%M:%SZ")
    assert utc_text(ms, "basic") == moment.strftime("%Y%m%dT%H%M%SZ")
    assert utc_text(ms, "date") == moment.date().isoformat()
