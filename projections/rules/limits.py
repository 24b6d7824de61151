"""The thresholds the plan and the law leave open, with their defaults and sources.

domain.md "Thresholds are configuration with these defaults"; docs/rules-inputs.md
names each. Like I1's ``zombie_idle_days`` (``projections.rules.calendars``), every
one is read from the ``time_limits`` of the district calendar in force at the moment
judged (``DistrictCalendar.Set``, docs/facts.md §3), so an operator extends or changes
it by recording a calendar, and a judgment as of a past date uses the value then in
force. The defaults below apply when no recorded calendar names the limit.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from projections.facts import CST
from projections.rules.calendars import calendar_at, time_limit

State = dict[str, Any]

# F1 (seed §三(三)12 "2019年起，凡已明确须接入而实际未接入…财政部门原则上不予安排运维
# 经费"): O&M funds are judged against the connection requirement from this year on;
# a decision both made and for a year before it is not (projections.rules.fund_state).
CONNECTION_FUNDS_FROM_YEAR = 2019
# S11 (编制指南 "动态更新"): days in one update cycle; ``irregular`` is never judged.
# The 编制指南 names the cycles, not their lengths: a month is taken at its longest.
CYCLE_DAYS: dict[str, int] = {
    "real_time": 1,
    "daily": 1,
    "weekly": 7,
    "monthly": 31,
    "quarterly": 92,
    "semiannual": 183,
    "annual": 366,
}
# S11: days of grace after a cycle ends before it is late (编制指南 leaves it open).
REFRESH_GRACE_DAYS = 1
# I3 (seed 四(二)): departments report by 12-31 of the year, ndrc compiles by 01-31 of
# the next; the leading group's approval is due by then plus this grace (the plan
# names no date for it).
DEPARTMENT_REPORT_DUE = "12-31"
ZONE_REPORT_DUE = "01-31"
ZONE_APPROVAL_GRACE_DAYS = 0
# F8 (seed §三(五)17 "利用程度低…的运维经费"): fewer recorded accesses than this on
# the 365 days (CST) ending with an O&M grant's day is "little used" (less than once a
# month; projections.rules.fund_sums).
LITTLE_USED_ACCESSES_PER_YEAR = 12
# I4, I5 (seed §三(五)17 "申报、跟踪、验收、评价"): an approved project not yet
# accepted with no progress report for this many days; an accepted project with no
# evaluation this many days after acceptance.
PROJECT_TRACKING_INTERVAL_DAYS = 183
PROJECT_EVALUATION_DAYS = 365
# I6 (seed 四(四) "明确各部门信息主管(CIO)"): days a registered department may go with
# no CIO on record (the plan names no period; a month to appoint one).
CIO_GRACE_DAYS = 30
# D3 (数据安全法 §40; 个人信息保护法 §21 "委托合同…终止的，受托人应当…返还…或者予以删除"):
# days after an entrustment's period_end by which its end must be on record (the law
# names no period; a month to return or delete the data and record it).
PROCESSOR_END_GRACE_DAYS = 30
# S13 (51号 数据质量异议 "及时校核"): working days a provider has to resolve an
# objection to its data; the text says 及时 only, so the count a request's answer
# gets (51号 §14, 10 working days) is used by analogy.
QUALITY_OBJECTION_WORKING_DAYS = 10
# I7 (seed §三(二)6 "2019年底…50%以上…上云，2020年底…全部上云"): the share (percent)
# of the zone's systems on the government cloud at the end of 2019, and of every
# later year. Years before 2019 have no target.
CLOUD_TARGET_2019_PERCENT = 50
CLOUD_TARGET_PERCENT = 100
CLOUD_FIRST_TARGET_YEAR = 2019
# I7, services (seed §三(二)8 "2019 年完成 50%的服务上云，2020 年基本实现政务服务全部
# 上云"): the share of the departments' declared public services on the cloud.
CLOUD_SERVICES_TARGET_2019_PERCENT = 50
CLOUD_SERVICES_TARGET_PERCENT = 100
# I7, data (附件1 第7项 "基本完成…基础数据资源上云", 2019年12月底前; §三(二)7): the
# share of base resources (基础信息资源) whose data is on the cloud at each year end
# from 2019. "基本完成" is read as all; lower it to tolerate stragglers.
CLOUD_DATA_TARGET_PERCENT = 100
# I8 (seed §三(一)4 "杜绝以处室等内设机构名义存在的独立信息系统", 2019年12月底前):
# from the end of this year a system kept under an internal division's name is found.
INTERNAL_UNIT_SYSTEMS_DUE_YEAR = 2019
# I9 (seed §三(一)1 自查报告, 2018年11月底前): the plan's date, and for a department
# registered later the days it has after registration (the plan names none for it:
# a quarter, the time the plan gave the first survey).
SELF_INSPECTION_DUE_YEAR = 2018
SELF_INSPECTION_DUE = "11-30"
SELF_INSPECTION_GRACE_DAYS = 90


def limit(state: State, moment: datetime, name: str, default: int) -> int:
    """A whole-number limit in force at ``moment`` (the calendar's, else the default)."""
    return time_limit(state, moment, name, default)


def cycle_days(state: State, moment: datetime, cycle: str) -> int | None:
    """Days of ``cycle`` in force at ``moment`` (``refresh_cycle_days_<cycle>``), None:
    the cycle is not judged (irregular, or unknown)."""
    default = CYCLE_DAYS.get(cycle)
    if default is None:
        return None
    return limit(state, moment, f"refresh_cycle_days_{cycle}", default)


def month_day(state: State, moment: datetime, name: str, default: str) -> str:
    """An ``MM-DD`` limit in force at ``moment`` (department_report_due, zone_report_due)."""
    calendar = calendar_at(state, moment)
    value = calendar["time_limits"].get(name) if calendar is not None else None
    return value if isinstance(value, str) else default


def end_of_day(year: int, mm_dd: str) -> datetime:
    """The first instant after the CST day ``year-mm-dd`` (02-29 in a common year: 02-28)."""
    month, day = (int(part) for part in mm_dd.split("-"))
    try:
        due = date(year, month, day)
    except ValueError:
        due = date(year, month, day - 1)
    return datetime.combine(due + timedelta(days=1), time(), CST)
