"""The report document model: what a report says, before any format renders it.

A report is sections of paragraphs, tables and charts (issue #4 item 4). Every
table row that states a figure carries the ledger positions that prove it, so
each renderer can print the evidence beside the figure or in the appendix
(附录). Renderers (``render.py``) never compute: they lay out this model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

Cell = str | int | float


class ReportKind(StrEnum):
    RISK = "risk"  # 网信办 风险评估报告
    ANNUAL = "annual"  # 年度报告
    AUDIT = "audit"  # 审计局 经费决定合规审计报告


class ChartKind(StrEnum):
    LINE = "line"
    BAR = "bar"
    BARH = "barh"


@dataclass(frozen=True)
class Row:
    """One line of a table; ``positions`` are the ledger positions behind its figures.

    A row that sums many records (every access of a purpose, say) cites some of them
    and says how many there are (``records``): the report's size follows what it shows,
    not the ledger's length; the views answer the full list at the report's position.
    """

    cells: tuple[Cell, ...]
    positions: tuple[int, ...] = ()
    records: int = 0  # records behind the row when more than ``positions`` cites

    @property
    def evidence(self) -> str:
        """The positions as an auditor reads them, with the count of those not cited."""
        text = compress_positions(self.positions)
        cited = len(set(self.positions))
        if self.records > cited:
            more = f"共 {self.records} 条记录"
            return f"{text} 等，{more}" if text else more
        return text


@dataclass(frozen=True)
class Table:
    """A table; ``ledger_list`` marks a 台账 (one line per ledger fact), exported to XLSX."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    ledger_list: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row.cells) != len(self.columns):
                raise ValueError(f"{self.title}: row {row.cells!r} has the wrong width")

    @property
    def positions(self) -> tuple[int, ...]:
        return tuple(sorted({p for row in self.rows for p in row.positions}))


@dataclass(frozen=True)
class Chart:
    """A chart of one series; ``labels`` and ``values`` pair up."""

    title: str
    kind: ChartKind
    labels: tuple[str, ...]
    values: tuple[float, ...]
    value_label: str
    positions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.values):
            raise ValueError(f"{self.title}: labels and values differ in length")


@dataclass(frozen=True)
class Section:
    number: str
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


@dataclass(frozen=True)
class LedgerAnchor:
    """Where the report stands in the ledger: the state it was computed from."""

    ledger_id: str
    hash_algorithm: str
    position: int
    head_hash: str
    checkpoint: str | None  # the newest signed checkpoint note, exactly as stored


@dataclass(frozen=True)
class Report:
    kind: ReportKind
    title: str
    year: int
    subtitle: str
    generated_at: str
    anchor: LedgerAnchor
    sections: tuple[Section, ...]
    verification: tuple[str, ...] = field(default=())
    # Said on the cover when the year holds no record the report counts (issue #15).
    notice: str = ""

    def tables(self) -> Iterable[tuple[Section, Table]]:
        for section in self.sections:
            for table in section.tables:
                yield section, table


def compress_positions(positions: Sequence[int]) -> str:
    """``1,2,3,7`` → ``1–3, 7``: the evidence list as an auditor reads it."""
    ordered = sorted(set(positions))
    parts: list[str] = []
    start = previous = None
    for position in ordered:
        if previous is not None and position == previous + 1:
            previous = position
            continue
        if start is not None:
            parts.append(_span(start, previous))
        start = previous = position
    if start is not None:
        parts.append(_span(start, previous))
    return ", ".join(parts)


def _span(start: int, end: int | None) -> str:
    return str(start) if end is None or end == start else f"{start}–{end}"
