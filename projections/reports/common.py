"""What every report shares: its ledger anchor, how to verify it, department names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from ledger.domain.calendar import CHINA_STANDARD_TIME
from projections.reports.model import LedgerAnchor
from projections.reports.oversight import Oversight
from projections.reports.views_facts import ReportFacts

VERIFY_STEPS = (
    "1. 取得与本报告同一账本的只读副本或访问权限，执行 `govledger verify --full`，"
    "确认哈希链自创世记录至报告所列账本位置完整无断裂。",
    "2. 对附录所列每个账本位置执行 `govledger prove --position N`（或 "
    "`govledger evidence`），取得该记录的存在性证明，并与签名检查点的树根核对。",
    "3. 用可信公钥核验附录所附签名检查点（C2SP 签名注记）的签名及见证人联署；"
    "检查点的树大小不小于报告所列账本位置时，报告所引全部记录均受其保护。",
    "4. 报告中的每个数字均可由账本记录重新计算得出：汇总行列出部分账本位置及记录总数，"
    "完整清单可在同一账本位置经查询接口（`/views/...?at=N`）取得；"
    "以同一账本位置重新生成报告（`govledger report … --at N`），结果应完全一致。",
)


class Anchored(Protocol):
    """What a report's anchor and scope read: the views' facts at the report's position."""

    @property
    def ledger_id(self) -> str: ...
    @property
    def hash_algorithm(self) -> str: ...
    @property
    def position(self) -> int: ...
    @property
    def head_hash(self) -> bytes: ...
    def departments(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Inputs:
    """What a report is built from: the views' facts at its position, the year, the
    newest checkpoint, and the views' findings and anomalies at the same position."""

    facts: ReportFacts
    year: int
    checkpoint: str | None
    oversight: Oversight


def anchor(facts: Anchored, checkpoint: str | None) -> LedgerAnchor:
    return LedgerAnchor(
        ledger_id=facts.ledger_id,
        hash_algorithm=facts.hash_algorithm,
        position=facts.position,
        head_hash=facts.head_hash.hex(),
        checkpoint=checkpoint,
    )


def now_text() -> str:
    """The moment of generation on the zone's clock (北京时间, Asia/Shanghai)."""
    return local(datetime.now(UTC)).strftime("%Y-%m-%d %H:%M（北京时间）")


def department_label(facts: Anchored, code: str) -> str:
    department = facts.departments().get(code)
    return f"{department.name}（{code}）" if department else code


def local(moment: datetime) -> datetime:
    """The zone's own clock: a report's year and months are China Standard Time."""
    return moment.astimezone(CHINA_STANDARD_TIME)


def scope_paragraph(facts: Anchored, year: int) -> str:
    return (
        f"本报告数据取自账本 {facts.ledger_id}（{facts.hash_algorithm} 哈希链）"
        f"第 1 至第 {facts.position} 号记录，统计期间为 {year} 年 1 月 1 日至 12 月 31 日"
        "（以业务发生时间计）；各类在册对象的状态取该账本位置时的状态。"
    )


def empty_year_notice(year: int, records: int, counted: str) -> str:
    """The cover's warning when the year has none of what the report counts (``records``
    is how many it has); empty otherwise."""
    if records:
        return ""
    return (
        f"提示：账本中没有 {year} 年度的{counted}记录。本报告各项数字均为零，"
        "仅说明账本未记录该年度的相关业务，不表示该年度没有发生。"
    )


def sharing_notice(facts: ReportFacts, year: int, requests: int) -> str:
    """The risk and annual reports' warning: no access, request or decision in ``year``."""
    accesses = sum(g.count for g in facts.accesses)
    decisions = sum(1 for d in facts.decisions if d.year == year)
    return empty_year_notice(year, accesses + requests + decisions, "共享申请、数据访问和经费决定")
