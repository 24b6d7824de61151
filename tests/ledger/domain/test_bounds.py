"""The input contract's values (ledger/domain/bounds.py; docs/facts.md §6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import bounds
from ledger.domain.bounds import BoundsError, TimeBounds
from ledger.domain.errors import ErrorCode

NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "1969-12-31T15:59:59Z",
        "2100-01-01T00:00:00+08:00",
        "2026-06-30T09:15:00",
        "2026-06-30T09:15:00.1234567Z",
        "2026-06-30t09:15:00z",
        "2026-06-30T09:15:00+24:00",
        "2026-02-30T09:15:00Z",
        "20260630T091500Z",
        "2026-W26-2T09:15:00Z",
    ],
)
def test_instants_outside_the_contract_are_refused(text: str) -> None:
    with pytest.raises(BoundsError):
        bounds.instant(text, "t")


@given(st.datetimes(timezones=st.timezones()))
def test_any_instant_either_is_in_range_or_is_refused_without_overflow(moment: datetime) -> None:
    try:
        accepted = bounds.in_range(moment, "t")
    except BoundsError:
        return
    accepted.astimezone(UTC)  # what readers do: it never overflows inside the range
    (accepted + timedelta(days=400)).astimezone(UTC)


@given(
    st.datetimes(
        min_value=datetime(1969, 1, 1), max_value=datetime(2101, 1, 1), timezones=st.timezones()
    )
)
def test_the_cheap_range_test_agrees_with_the_exact_one(moment: datetime) -> None:
    offset = moment.utcoffset()
    exact = (
        offset is not None
        and offset % timedelta(minutes=1) == timedelta(0)
        and bounds.FIRST_INSTANT <= moment < bounds.LAST_INSTANT
    )
    assert bounds.within_range(moment) == exact


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("a\x00b", r"U\+0000"),
        ("a\ud800", r"U\+D800"),
        ("a\x7f", r"U\+007F"),
        ("x" * 2001, "longer than 2000"),
        ("   ", "blank"),
        (7, "expected a string"),
        (None, "expected a string"),
    ],
)
def test_texts_outside_the_contract_are_refused(value: object, problem: str) -> None:
    with pytest.raises(BoundsError, match=problem):
        bounds.text(value, "accessor_id")


def test_texts_are_stripped_as_the_api_strips_them() -> None:
    assert bounds.text("\u3000 x\t\n", "f") == "x"
    assert bounds.text(" " + "x" * 2000 + " ", "f") == "x" * 2000
    assert bounds.text("a\nb\tc", "f") == "a\nb\tc"  # inner tab and line break are text


@pytest.mark.parametrize("value", [-1, 10**12 + 1, 2**63, True, 5.0, "12", None])
def test_counts_outside_the_contract_are_refused(value: object) -> None:
    with pytest.raises(BoundsError):
        bounds.count(value, "row_count", maximum=bounds.MAX_ROW_COUNT)


def test_time_bounds_refuse_the_past_before_the_era_and_a_person_s_future() -> None:
    limits = TimeBounds()
    with pytest.raises(BoundsError) as early:
        limits.check(datetime(2017, 12, 31, 23, 59, tzinfo=bounds.FIRST_INSTANT.tzinfo), "t", NOW)
    assert early.value.code is ErrorCode.TIME_OUT_OF_RANGE
    with pytest.raises(BoundsError) as ahead:
        limits.check(NOW + timedelta(hours=8), "t", NOW)
    assert ahead.value.code is ErrorCode.TIME_IN_FUTURE
    assert limits.check(NOW + timedelta(seconds=300), "t", NOW)  # within the skew
    assert limits.in_future(NOW + timedelta(seconds=301), NOW)


def test_content_dates_have_their_own_wider_range() -> None:
    assert bounds.content_date("2012-06-01", "approval_date") == date(2012, 6, 1)
    for bad in ("1969-12-31", "2101-01-01", "2026-6-1", "2026-06-01T00:00:00Z", 20260601):
        with pytest.raises(BoundsError):
            bounds.content_date(bad, "approval_date")


def test_every_value_of_an_event_is_checked() -> None:
    for value, problem in (
        (("ok", "a\x00"), r"U\+0000"),
        ({"k": 2**70}, "beyond"),
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), "outside"),
        (["x"] * 501, "more than 500"),
    ):
        with pytest.raises(BoundsError, match=problem):
            bounds.check_value(value, "field")
    bounds.check_value(("ok", 12, None, True, date(2020, 1, 1)), "field")
