"""The shipped State Council holiday notices (ledger/domain/holidays.py), checked twice.

Once against the notices' own words, transcribed here year by year (the days
off of each 放假 arrangement and each 上班 make-up day), and once, day by day,
against the independently kept ``chinese-calendar`` package.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import chinese_calendar
import pytest

from ledger.domain.calendar import CHINA_STANDARD_TIME
from ledger.domain.district_calendar import CalendarSpec
from ledger.domain.holidays import NOTICES, HolidayNotice, days_of

# (year): ([days off, as the notice lists them], [make-up working days]).
TRANSCRIBED: dict[int, tuple[list[str], list[str]]] = {
    2019: (  # 元旦 2018-12-30..2019-01-01, 2018-12-29 上班; 劳动节 as adjusted (1-4 May)
        ["2018-12-30..2019-01-01", "2019-02-04..2019-02-10", "2019-04-05",
         "2019-05-01..2019-05-04", "2019-06-07", "2019-09-13", "2019-10-01..2019-10-07"],
        ["2018-12-29", "2019-02-02", "2019-02-03", "2019-04-28", "2019-05-05", "2019-09-29",
         "2019-10-12"],
    ),
    2020: (  # 春节 extended to 2 February by the notice of 27 January 2020
        ["2020-01-01", "2020-01-24..2020-02-02", "2020-04-04..2020-04-06",
         "2020-05-01..2020-05-05", "2020-06-25..2020-06-27", "2020-10-01..2020-10-08"],
        ["2020-01-19", "2020-04-26", "2020-05-09", "2020-06-28", "2020-09-27", "2020-10-10"],
    ),
    2021: (
        ["2021-01-01..2021-01-03", "2021-02-11..2021-02-17", "2021-04-03..2021-04-05",
         "2021-05-01..2021-05-05", "2021-06-12..2021-06-14", "2021-09-19..2021-09-21",
         "2021-10-01..2021-10-07"],
        ["2021-02-07", "2021-02-20", "2021-04-25", "2021-05-08", "2021-09-18", "2021-09-26",
         "2021-10-09"],
    ),
    2022: (
        ["2022-01-01..2022-01-03", "2022-01-31..2022-02-06", "2022-04-03..2022-04-05",
         "2022-04-30..2022-05-04", "2022-06-03..2022-06-05", "2022-09-10..2022-09-12",
         "2022-10-01..2022-10-07"],
        ["2022-01-29", "2022-01-30", "2022-04-02", "2022-04-24", "2022-05-07", "2022-10-08",
         "2022-10-09"],
    ),
    2023: (
        ["2022-12-31..2023-01-02", "2023-01-21..2023-01-27", "2023-04-05",
         "2023-04-29..2023-05-03", "2023-06-22..2023-06-24", "2023-09-29..2023-10-06"],
        ["2023-01-28", "2023-01-29", "2023-04-23", "2023-05-06", "2023-06-25", "2023-10-07",
         "2023-10-08"],
    ),
    2024: (
        ["2024-01-01", "2024-02-10..2024-02-17", "2024-04-04..2024-04-06",
         "2024-05-01..2024-05-05", "2024-06-10", "2024-09-15..2024-09-17",
         "2024-10-01..2024-10-07"],
        ["2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11", "2024-09-14",
         "2024-09-29", "2024-10-12"],
    ),
    2025: (
        ["2025-01-01", "2025-01-28..2025-02-04", "2025-04-04..2025-04-06",
         "2025-05-01..2025-05-05", "2025-05-31..2025-06-02", "2025-10-01..2025-10-08"],
        ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"],
    ),
    2026: (  # 国务院办公厅关于2026年部分节假日安排的通知, 2025-11-04
        ["2026-01-01..2026-01-03", "2026-02-15..2026-02-23", "2026-04-04..2026-04-06",
         "2026-05-01..2026-05-05", "2026-06-19..2026-06-21", "2026-09-25..2026-09-27",
         "2026-10-01..2026-10-07"],
        ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
    ),
}  # fmt: skip


def test_the_published_years_2019_to_2026_are_shipped_with_their_sources() -> None:
    assert [notice.year for notice in NOTICES] == list(range(2019, 2027))
    for notice in NOTICES:
        assert f"国务院办公厅关于{notice.year}年部分节假日安排的通知" in notice.source


@pytest.mark.parametrize("notice", NOTICES, ids=lambda n: str(n.year))
def test_each_notice_is_as_transcribed(notice: HolidayNotice) -> None:
    holidays, working = TRANSCRIBED[notice.year]
    assert notice.holidays == days_of(*holidays)
    assert notice.working_days == days_of(*working)
    assert all(day.weekday() >= 5 for day in notice.working_days)  # 上班 days are weekends


def test_every_day_2019_to_2026_is_a_working_day_exactly_when_chinese_calendar_says() -> None:
    calendar = CalendarSpec.shipped().working_calendar()
    day, differ = date(2019, 1, 1), []
    while day <= date(2026, 12, 31):
        if calendar.is_working_day(day) != chinese_calendar.is_workday(day):
            differ.append(day)
        day += timedelta(days=1)
    assert differ == []


def test_spring_festival_2026_pushes_a_ten_working_day_deadline_past_the_holiday() -> None:
    # Submitted Thu 12 Feb 2026. Monday-Friday alone would give 26 February.
    policy = CalendarSpec.shipped().deadline("conditional")
    submitted = datetime(2026, 2, 12, 10, 0, tzinfo=CHINA_STANDARD_TIME)
    # 13, 14, 24, 25, 26, 27, 28 (上班), 2 Mar, 3, 4: the 10th working day is 4 March.
    assert policy.due(submitted) == date(2026, 3, 4)
