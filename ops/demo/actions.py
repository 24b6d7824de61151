"""The demo's actions of the year: sharing requests and their answers, filings and funds.

Each action is a command with its business time (docs/facts.md §1), walked in time
order with the year's accesses by ``ops.demo.loading.DemoLoader.year``: requests
submitted, approved, rejected and revoked (``LiveTerms``, the evaluator's read model,
follows the grants), projects filed, reviewed and accepted, construction and O&M
funds decided, with the planted F1–F5, S6 and S7 counted (F4 also for O&M granted to
a system whose bounding filing was rejected). Split from
``ops.demo.loading`` to keep modules of one concern (docs/architecture.md, under 600
lines).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from ledger.application import GovLedger
from ledger.domain import FundKind, FundOutcome
from ops.demo.planning import PlannedRequest
from ops.demo.registration import RegistrationLoader
from ops.demo.zone import (
    DEMO_YEAR,
    FEN_PER_WAN,
    FUNDED_DESPITE_REJECTION,
    OM_GRANTED_DESPITE_RULES,
    PROJECTS,
    RESOURCES,
    SYSTEMS,
    UNFILED_PROJECTS,
    ProjectSpec,
    SystemSpec,
    _at,
)
from security.access import GrantTerms, SharingReadModel, grant_terms, resource_terms


class LiveTerms:
    """The evaluator's read model: built once from the aggregates, updated as grants change.

    ``SharingReadModel`` holds the mappings it is given, so updating these dicts in
    place keeps one model current without rebuilding it per grant.
    """

    def __init__(self, app: GovLedger, codes: list[str]) -> None:
        self.app = app
        self._grants: dict[UUID, GrantTerms] = {}
        self._by_user: dict[tuple[str, str], list[GrantTerms]] = defaultdict(list)
        resources = {code: resource_terms(app.resource(code)) for code in codes}
        self.model = SharingReadModel(resources, self._grants, self._by_user)

    def refresh(self, request_id: UUID) -> None:
        """Re-read one request from the ledger after it was approved or revoked."""
        terms = grant_terms(self.app.request(request_id))
        if terms is None:
            return
        user = self._by_user[terms.department, terms.resource_code]
        old = self._grants.get(terms.grant_id)
        if old is None:
            user.append(terms)
        else:
            user[user.index(old)] = terms
        self._grants[terms.grant_id] = terms


# (business time, order among equal times, the command given its business time)
Action = tuple[datetime, int, Callable[[datetime], None]]


class ActionsLoader(RegistrationLoader):
    """The year's commands other than accesses, as actions dated when they happen."""

    # -- actions of the year ---------------------------------------------------

    def request_actions(self, plans: list[PlannedRequest], live: LiveTerms) -> list[Action]:
        actions: list[Action] = []
        for p in plans:
            actions.append((p.submitted, 0, partial(self._submit, p)))
            if p.decided is not None:
                actions.append((p.decided, 1, partial(self._answer, p, live)))
            if p.revoked is not None:
                actions.append((p.revoked, 2, partial(self._revoke, p, live)))
            self.tally["requests"][p.outcome] += 1
            self.tally["findings"]["S6"] += p.outcome == "unanswered"
            self.tally["findings"]["S7"] += p.outcome == "rejected_no_reason"
        self.tally["counts"]["requests"] = len(plans)
        return actions

    def _submit(self, p: PlannedRequest, when: datetime) -> None:
        self.request_ids[p.index] = self.app.submit_request(
            self.cast.clerk(p.requester),
            requester_department=p.requester,
            resource_code=p.resource,
            items=p.items,
            purpose=p.purpose,
            legal_basis=p.legal_basis,
            period_start=p.submitted.date(),
            period_end=(p.expires or p.submitted + timedelta(days=365)).date() - timedelta(days=1),
            submitted_at=when,
        )

    def _answer(self, p: PlannedRequest, live: LiveTerms, when: datetime) -> None:
        provider = self.cast.provider(self.provider_of[p.resource])
        request_id = self.request_ids[p.index]
        if p.expires is None:
            self.app.reject_request(provider, request_id, p.reason, decided_at=when)
            return
        self.app.approve_request(provider, request_id, p.granted, p.expires, decided_at=when)
        live.refresh(request_id)

    def _revoke(self, p: PlannedRequest, live: LiveTerms, when: datetime) -> None:
        provider = self.cast.provider(self.provider_of[p.resource])
        reason = self.rng.choice(("使用部门超范围使用数据", "共享协议终止", "数据安全检查发现问题"))
        self.app.revoke_grant(provider, self.request_ids[p.index], reason, revoked_at=when)
        live.refresh(self.request_ids[p.index])

    def fund_actions(self) -> list[Action]:
        """Filings and ndrc's reviews in February, funds from mid-March, acceptance in November."""
        actions: list[Action] = []
        for n, spec in enumerate(PROJECTS):
            filed = _at(date(DEMO_YEAR, 2, 2) + timedelta(days=n), 10)
            actions.append((filed, 3, partial(self._file, spec)))
            if spec.funds:
                funded = _at(date(DEMO_YEAR, 4, 13) + timedelta(days=n), 14)
                actions.append((funded, 4, partial(self._construction_funds, spec)))
            if spec.accepted:
                actions.append((_at(date(DEMO_YEAR, 11, 16), 10), 5, partial(self._accept, spec)))
        for n, (department, name, wan) in enumerate(UNFILED_PROJECTS):
            when = _at(date(DEMO_YEAR, 5, 11) + timedelta(days=n), 15)
            actions.append((when, 4, partial(self._unfiled, department, name, wan)))
        for n, system in enumerate(s for s in SYSTEMS if s.fate in ("", "zombie")):
            when = _at(date(DEMO_YEAR, 3, 16) + timedelta(days=n % 5), 9, 30 + n)
            actions.append((when, 4, partial(self._om_funds, system)))
        return actions

    def _file(self, spec: ProjectSpec, when: datetime) -> None:
        own = [self.codes[r.name] for r in RESOURCES if r.department == spec.department][:2]
        systems = [self.system_ids[name] for name in filed_systems(spec.department)]
        filing_id = self.app.file_project(
            self.cast.cio(spec.department),
            name=spec.name,
            builder=spec.department,
            investment_fen=spec.investment_wan * FEN_PER_WAN,
            om_cost_fen=spec.om_wan * FEN_PER_WAN,
            funding_channel="区级财政资金",
            resource_codes=own,
            system_ids=systems,
            mlps_filed=True,
            catalogue_preregistered=spec.preregistered,
            occurred_at=when,
            idempotency_key=f"demo-{DEMO_YEAR}-filing-{PROJECTS.index(spec)}",  # same id, one seed
        )
        self.filing_ids[spec.name] = filing_id
        if spec.review != "pending":
            approved = spec.review == "approved"
            self.app.review_project(
                self.cast.ndrc, filing_id, approved, spec.review_text, occurred_at=when
            )
        self.tally["filings"][spec.review] += 1
        self.tally["findings"]["F5"] += not spec.preregistered
        self.tally["counts"]["filings"] += 1

    def _accept(self, spec: ProjectSpec, when: datetime) -> None:
        self.app.accept_project(self.cast.ndrc, self.filing_ids[spec.name], accepted_at=when)
        self.tally["filings"]["accepted"] += 1

    def _decide(
        self,
        kind: FundKind,
        department: str,
        wan: int,
        granted: bool,
        rationale: str,
        when: datetime,
        **target: Any,
    ) -> None:
        self.app.decide_funds(
            self.cast.finance,
            kind=kind,
            year=DEMO_YEAR,
            department=department,
            amount_fen=wan * FEN_PER_WAN,
            outcome=FundOutcome.GRANTED if granted else FundOutcome.WITHHELD,
            rationale=rationale,
            decided_at=when,
            **target,
        )
        self.tally["funds"][f"{kind.value}_{'granted' if granted else 'withheld'}"] += 1
        self.tally["counts"]["fund_decisions"] += 1

    def _construction_funds(self, spec: ProjectSpec, when: datetime) -> None:
        rejected = spec.review == "rejected"
        granted = not rejected or spec.name in FUNDED_DESPITE_REJECTION
        self.tally["findings"]["F4"] += rejected and granted
        rationale = "按备案批复安排建设经费" if granted else "架构治理未通过，不予安排"
        self._decide(
            FundKind.CONSTRUCTION_FUNDS,
            spec.department,
            spec.investment_wan,
            granted,
            rationale,
            when,
            filing_id=self.filing_ids[spec.name],
            project_name=spec.name,
        )

    def _unfiled(self, department: str, name: str, wan: int, when: datetime) -> None:
        self.tally["findings"]["F3"] += 1
        self._decide(
            FundKind.CONSTRUCTION_FUNDS,
            department,
            wan,
            True,
            "部门急需，先行安排",
            when,
            project_name=name,
        )

    def _om_funds(self, spec: SystemSpec, when: datetime) -> None:
        unconnected, zombie = spec.connection == "unconnected", spec.fate == "zombie"
        granted = spec.name in OM_GRANTED_DESPITE_RULES or not (unconnected or zombie)
        self.tally["findings"]["F1"] += granted and unconnected
        self.tally["findings"]["F2"] += granted and zombie
        # F4 through the system (seed §三(五)17 不拨付运维经费): the first filing listing
        # it, the one that bounds its O&M (projections.rules.fund_state), was rejected.
        bound = next((p for p in PROJECTS if spec.name in filed_systems(p.department)), None)
        self.tally["findings"]["F4"] += granted and bound is not None and bound.review == "rejected"
        rationale = (
            "年度运维经费" if granted else "未接入共享交换平台或为僵尸系统，不予安排运维经费"
        )
        self._decide(
            FundKind.OM_FUNDS,
            spec.department,
            self.rng.randint(8, 80),
            granted,
            rationale,
            when,
            system_id=self.system_ids[spec.name],
        )


def filed_systems(department: str) -> list[str]:
    """The systems a filing of ``department`` lists: its first one still in service."""
    return [s.name for s in SYSTEMS if s.department == department and not s.fate][:1]
