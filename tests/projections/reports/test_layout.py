"""Column widths of report tables (projections/reports/layout.py; issue #15 Layout)."""

from __future__ import annotations

from projections.reports.layout import LINE_UNITS, PADDING, units, widths
from projections.reports.model import LedgerAnchor, Report, ReportKind, Row, Section, Table
from projections.reports.render import UNBROKEN, render_html

COLUMNS = ("账本位置", "部门", "经费类别", "系统或项目", "金额（元）", "决定", "检查结果")
LONG = "F1 向应接入而未接入共享交换平台的系统安排运维经费；F2 向僵尸或已停用系统安排经费"


def audit_list() -> Table:
    rows = tuple(
        Row((4358 + n, "区行政审批局（approval_bureau）", "运维经费", "一体化政务服务平台",
             "12,000,000.00", "予以安排", LONG if n % 2 else "合规"))
        for n in range(6)
    )  # fmt: skip
    return Table("逐笔检查", COLUMNS, rows, ledger_list=True)


def test_short_cells_codes_and_amounts_get_room_to_stay_whole() -> None:
    table = audit_list()
    found = widths(table, table.rows, None, whole=UNBROKEN, size="list")
    assert abs(sum(found) - 100) < 0.1
    # A column's text gets its share of the line less the cell's padding; percentages
    # are rounded to 0.001 %: a hundredth of a unit either way.
    line = LINE_UNITS["list"]
    room = {c: line * w / 100 - PADDING["list"] + 0.01 for c, w in zip(COLUMNS, found, strict=True)}
    assert room["经费类别"] >= units("运维经费")  # was two characters wide
    assert room["决定"] >= units("予以安排")
    assert room["金额（元）"] >= units("12,000,000.00")
    assert room["部门"] >= units("approval_bureau）")
    # The long text takes what is left, and most of it.
    assert room["检查结果"] == max(room.values())


def test_the_evidence_column_is_laid_out_too() -> None:
    table = Table("汇总", ("部门", "笔数"), (Row(("区民政局", 3), (1, 2, 3, 9)),))
    found = widths(table, table.rows, ["1–3, 9"], whole=UNBROKEN)
    assert len(found) == 3 and abs(sum(found) - 100) < 0.1


def test_when_even_the_floors_do_not_fit_they_are_shared_in_proportion() -> None:
    cells = tuple(f"{n:,}.00" for n in range(10**9, 10**9 + 20))
    table = Table("宽表", tuple(f"第{n}列" for n in range(20)), (Row(cells),))
    found = widths(table, table.rows, None, whole=UNBROKEN, size="wide")
    assert len(set(found)) == 1 and abs(sum(found) - 100) < 0.1


def test_units_count_ideographs_twice() -> None:
    assert units("运维经费") == 8 and units("（元）") == 6
    assert 8 < units("om_funds") < 10  # Latin letters are a little over half an ideograph


def test_a_document_number_is_a_floor_of_its_column() -> None:
    basis = "苏高新办〔2019〕2号 §三(五)17 不予审批, 不拨付"
    table = Table("问题", ("依据", "事实"), (Row((basis, LONG * 3)),))
    found = widths(table, table.rows, None, whole=UNBROKEN)
    assert LINE_UNITS[""] * found[0] / 100 - PADDING[""] + 0.01 >= units("苏高新办〔2019〕2号")


def test_a_time_stays_whole_and_a_long_id_does_not_crowd_out_the_text() -> None:
    columns = ("账本位置", "访问时间", "访问者", "授权", "违规情形")
    rows = tuple(
        Row((763 + n, "2025-01-13 10:02", "planning-staff-03", "ab" * 16 if n else "—",
             "S5 访问目录以外的未知资源；S2 无有效授权访问有条件共享资源"))
        for n in range(3)
    )  # fmt: skip
    table = Table("违规访问台账", columns, rows, ledger_list=True)
    found = widths(table, rows, None, whole=UNBROKEN, size="list")
    room = dict(zip(columns, (LINE_UNITS["list"] * w / 100 - PADDING["list"] for w in found),
                    strict=True))  # fmt: skip
    assert room["访问时间"] >= units("2025-01-13 10:02") - 0.01
    assert room["违规情形"] > room["授权"] >= 12


def test_every_table_of_the_html_gets_one_col_per_column() -> None:
    anchor = LedgerAnchor("id", "sha256", 9, "ab" * 32, None)
    summary = Table("汇总", ("部门", "笔数"), (Row(("区民政局", 3), (1,)),))
    sections = (
        Section("一", "甲", tables=(audit_list(),)),
        Section("二", "乙", tables=(summary,)),
    )
    report = Report(ReportKind.AUDIT, "审计", 2026, "副", "2026-01-01 00:00", anchor, sections)
    html = render_html(report)
    assert html.count("<colgroup>") == 2 and 'class="fixed' in html
    # The audit list (first column 账本位置) has no evidence column; the summary has one.
    assert [block.count("<col ") for block in html.split("<colgroup>")[1:]] == [7, 3]
