"""China's official holidays and 调休 make-up working days, as the State Council published them.

Each year's days come from the General Office of the State Council's notice on
that year's holiday arrangements (国务院办公厅关于<year>年部分节假日安排的通知),
published by Xinhua and on www.gov.cn; where a later notice changed a year, both
are named. ``holidays`` are the days a notice gives off (放假): a range "A至B放假(调休)"
is every day from A to B, weekends within it included, as the notice counts
them (共N天); "X日放假，与周末连休" is the day X alone (the weekend is off
anyway). ``working_days`` are the Saturdays and Sundays worked (上班).
``tests/ledger/domain/test_holidays.py`` checks each working day against the
``chinese-calendar`` package.

Years after the last one here are added by the operator (docs/configuration.md,
``GOVLEDGER_CALENDAR_FILE``), never by editing history: a published year does
not change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


@dataclass(frozen=True, slots=True)
class HolidayNotice:
    """One year's arrangement: the days off and the make-up working days."""

    year: int
    source: str
    holidays: tuple[date, ...]
    working_days: tuple[date, ...]


def days_of(*spans: str) -> tuple[date, ...]:
    """``"2026-02-15..2026-02-23"`` ranges and single ``"2026-06-19"`` days, in order."""
    result: list[date] = []
    for span in spans:
        first, _, last = span.partition("..")
        day, end = date.fromisoformat(first), date.fromisoformat(last or first)
        while day <= end:
            result.append(day)
            day += timedelta(days=1)
    return tuple(result)


def _notice(
    year: int, source: str, holidays: tuple[str, ...], working: tuple[str, ...]
) -> HolidayNotice:
    return HolidayNotice(year, source, days_of(*holidays), days_of(*working))


NOTICES: tuple[HolidayNotice, ...] = (
    _notice(
        2019,
        "国务院办公厅关于2019年部分节假日安排的通知（国办发明电〔2018〕15号，2018-12-06）；"
        "国务院办公厅关于调整2019年劳动节假期安排的通知（国办发明电〔2019〕3号，2019-03-22）",
        (
            "2018-12-30..2019-01-01",  # 元旦
            "2019-02-04..2019-02-10",  # 春节
            "2019-04-05",  # 清明节 (与周末连休: the weekend is off anyway)
            "2019-05-01..2019-05-04",  # 劳动节 (as adjusted)
            "2019-06-07",  # 端午节
            "2019-09-13",  # 中秋节
            "2019-10-01..2019-10-07",  # 国庆节
        ),
        (
            "2018-12-29",
            "2019-02-02",
            "2019-02-03",
            "2019-04-28",
            "2019-05-05",
            "2019-09-29",
            "2019-10-12",
        ),
    ),
    _notice(
        2020,
        "国务院办公厅关于2020年部分节假日安排的通知（国办发明电〔2019〕16号，2019-11-21）；"
        "国务院办公厅关于延长2020年春节假期的通知（国办发明电〔2020〕1号，2020-01-27）",
        (
            "2020-01-01",
            "2020-01-24..2020-02-02",  # 春节, extended to 2 February (the 1 Feb make-up day fell)
            "2020-04-04..2020-04-06",
            "2020-05-01..2020-05-05",
            "2020-06-25..2020-06-27",
            "2020-10-01..2020-10-08",  # 国庆节、中秋节
        ),
        ("2020-01-19", "2020-04-26", "2020-05-09", "2020-06-28", "2020-09-27", "2020-10-10"),
    ),
    _notice(
        2021,
        "国务院办公厅关于2021年部分节假日安排的通知（国办发明电〔2020〕27号，2020-11-25）",
        (
            "2021-01-01..2021-01-03",
            "2021-02-11..2021-02-17",
            "2021-04-03..2021-04-05",
            "2021-05-01..2021-05-05",
            "2021-06-12..2021-06-14",
            "2021-09-19..2021-09-21",
            "2021-10-01..2021-10-07",
        ),
        (
            "2021-02-07",
            "2021-02-20",
            "2021-04-25",
            "2021-05-08",
            "2021-09-18",
            "2021-09-26",
            "2021-10-09",
        ),
    ),
    _notice(
        2022,
        "国务院办公厅关于2022年部分节假日安排的通知（国办发明电〔2021〕11号，2021-10-25）",
        (
            "2022-01-01..2022-01-03",
            "2022-01-31..2022-02-06",
            "2022-04-03..2022-04-05",
            "2022-04-30..2022-05-04",
            "2022-06-03..2022-06-05",
            "2022-09-10..2022-09-12",
            "2022-10-01..2022-10-07",
        ),
        (
            "2022-01-29",
            "2022-01-30",
            "2022-04-02",
            "2022-04-24",
            "2022-05-07",
            "2022-10-08",
            "2022-10-09",
        ),
    ),
    _notice(
        2023,
        "国务院办公厅关于2023年部分节假日安排的通知（国办发明电〔2022〕16号，2022-12-08）",
        (
            "2022-12-31..2023-01-02",
            "2023-01-21..2023-01-27",
            "2023-04-05",
            "2023-04-29..2023-05-03",
            "2023-06-22..2023-06-24",
            "2023-09-29..2023-10-06",
        ),
        (
            "2023-01-28",
            "2023-01-29",
            "2023-04-23",
            "2023-05-06",
            "2023-06-25",
            "2023-10-07",
            "2023-10-08",
        ),
    ),
    _notice(
        2024,
        "国务院办公厅关于2024年部分节假日安排的通知（国办发明电〔2023〕7号，2023-10-25）",
        (
            "2024-01-01",
            "2024-02-10..2024-02-17",
            "2024-04-04..2024-04-06",
            "2024-05-01..2024-05-05",
            "2024-06-10",
            "2024-09-15..2024-09-17",
            "2024-10-01..2024-10-07",
        ),
        (
            "2024-02-04",
            "2024-02-18",
            "2024-04-07",
            "2024-04-28",
            "2024-05-11",
            "2024-09-14",
            "2024-09-29",
            "2024-10-12",
        ),
    ),
    _notice(
        2025,
        "国务院办公厅关于2025年部分节假日安排的通知（国办发明电〔2024〕12号，2024-11-12）",
        (
            "2025-01-01",
            "2025-01-28..2025-02-04",
            "2025-04-04..2025-04-06",
            "2025-05-01..2025-05-05",
            "2025-05-31..2025-06-02",
            "2025-10-01..2025-10-08",
        ),
        ("2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28", "2025-10-11"),
    ),
    _notice(
        2026,
        "国务院办公厅关于2026年部分节假日安排的通知（2025-11-04）",
        (
            "2026-01-01..2026-01-03",
            "2026-02-15..2026-02-23",
            "2026-04-04..2026-04-06",
            "2026-05-01..2026-05-05",
            "2026-06-19..2026-06-21",
            "2026-09-25..2026-09-27",
            "2026-10-01..2026-10-07",
        ),
        ("2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"),
    ),
)
