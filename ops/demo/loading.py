"""The demo's loader: every fact through a ``GovLedger`` command, dated when it happened.

The demo back-fills its year: each registration, filing, review, decision,
request, answer, revocation and access carries its business time
(docs/facts.md §1), and the calendar it was planned on is recorded first, in
force from the ledger's earliest business time (docs/facts.md §3). Recorded
late or live, the facts are the same.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from uuid import UUID

from ledger.application import GovLedger
from ledger.domain import (
    AccessReport,
    AccessVerdict,
    CatalogueEntry,
    FundKind,
    FundOutcome,
    OpenType,
    ResourceItem,
    RiskLevel,
    Sensitivity,
    SharingType,
    SystemInventory,
    ZombieReason,
)
from ledger.domain.district_calendar import CalendarSpec
from ledger.errors import LedgerError
from ops.demo import follow_up, obligations, oversight
from ops.demo.planning import (
    AccessPlanner,
    Catalogue,
    PlannedAccess,
    PlannedRequest,
    RequestPlanner,
    allocate,
)
from ops.demo.summary import DemoSummary, summary_of
from ops.demo.zone import (
    ACCESS_START,
    BATCH_SIZE,
    DEFAULT_ACCESSES,
    DEFAULT_SEED,
    DEFAULT_VIOLATION_RATE,
    DEMO_CYCLES,
    DEMO_YEAR,
    DEPARTMENT_NAMES,
    DEPARTMENTS,
    FEN_PER_WAN,
    FUNDED_DESPITE_REJECTION,
    GIVEN_NAMES,
    ITEM_SENSITIVITY,
    NO_OWNER,
    NO_RISK_ASSESSMENT,
    NO_SHARE_CONDITION,
    OFF_HOURS_RATE,
    OM_GRANTED_DESPITE_RULES,
    PROJECTS,
    REQUESTS,
    RESOURCES,
    SETUP_DAY,
    SURNAMES,
    SYSTEMS,
    UNFILED_PROJECTS,
    YEAR_END,
    Cast,
    ProjectSpec,
    ResourceSpec,
    SystemSpec,
    _at,
)
from security.access import (
    GrantTerms,
    SharingReadModel,
    evaluate_access,
    grant_terms,
    resource_terms,
)


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


class DemoError(LedgerError):
    """The demo cannot run here (a ledger with data), or it planted what it did not get."""


# (business time, order among equal times, the command given its business time)
Action = tuple[datetime, int, Callable[[datetime], None]]


class DemoLoader:
    """Writes the demo through ``GovLedger`` commands and counts what it wrote."""

    def __init__(
        self,
        app: GovLedger,
        rng: random.Random,
        progress: Callable[[int], None],
        calendar: CalendarSpec,
    ) -> None:
        self.app, self.rng, self.progress = app, rng, progress
        self.calendar = calendar
        self.cast = Cast()
        self.system_ids: dict[str, UUID] = {}
        self.using_system: dict[str, str] = {}
        self.codes: dict[str, str] = {}  # resource name -> code
        self.request_ids: dict[int, UUID] = {}
        self.filing_ids: dict[str, UUID] = {}
        self.provider_of: dict[str, str] = {}
        self.tally: dict[str, Counter[str]] = defaultdict(Counter)
        self.examples: dict[str, str] = {}

    # -- setup (January) -------------------------------------------------------

    def record_calendar(self) -> None:
        """The calendar the year is planned on, in force from the ledger's earliest day."""
        self.app.record_calendar(self.cast.ndrc, self.calendar)

    def departments(self) -> None:
        registered, named = _at(SETUP_DAY, 9), _at(SETUP_DAY, 9, 30)
        for i, (code, name, _) in enumerate(DEPARTMENTS):
            self.app.register_department(self.cast.ndrc, code, name, occurred_at=registered)
            cio = SURNAMES[i % len(SURNAMES)] + GIVEN_NAMES[i % len(GIVEN_NAMES)]
            if code != oversight.NO_CIO:  # I6 planted
                cio_id = self.cast.cio(code).actor_id
                self.app.name_cio(self.cast.clerk(code), code, cio, cio_id, occurred_at=named)
            self.tally["counts"]["departments"] += 1

    def systems(self) -> None:
        """Inventoried on the setup day (seed §三(一)1); zombies and merges found that afternoon."""
        for spec in SYSTEMS:
            self.system_ids[spec.name] = self._system(spec, _at(SETUP_DAY, 10))
        for spec in SYSTEMS:
            self._fate(spec, _at(SETUP_DAY, 15))
            if spec.connection == "connected" and not spec.fate:
                self.using_system.setdefault(spec.department, str(self.system_ids[spec.name]))

    def _system(self, spec: SystemSpec, when: datetime) -> UUID:
        cio, rng = self.cast.cio(spec.department), self.rng
        inventory = SystemInventory(
            name=spec.name,
            function=spec.function,
            scope_of_use=rng.choice(("全区", "本部门", "本部门及各板块")),
            usage_frequency=rng.choice(("每日", "每周", "每月")),
            approving_body="区发改局",
            approval_date=date(rng.randint(2012, 2024), rng.randint(1, 12), rng.randint(1, 28)),
            funding_source=rng.choice(("区级财政资金", "上级专项资金", "部门预算")),
        )
        system_id = self.app.register_system(
            cio, spec.department, inventory, holds_personal_data="P" in spec.holds,
            holds_important_data="I" in spec.holds, occurred_at=when,
        )  # fmt: skip
        if spec.connection != "exempt":  # ndrc's listing (seed §三(三)12), not the CIO's
            self.app.set_connection_requirement(self.cast.ndrc, system_id, True, occurred_at=when)
        self.app.record_mlps(cio, system_id, *spec.mlps, occurred_at=when)
        if spec.connection == "connected":
            self.app.connect_system(self.cast.platform, system_id, occurred_at=when)  # its fact
        if spec.on_cloud:
            self.app.move_system_on_cloud(cio, system_id, occurred_at=when)
        self._count_system(spec)
        return system_id

    def _count_system(self, spec: SystemSpec) -> None:
        counts = self.tally["systems"]
        counts["registered"] += 1
        counts["connected"] += spec.connection == "connected"
        counts["required_not_connected"] += spec.connection == "unconnected"
        counts["on_cloud"] += spec.on_cloud
        counts["mlps_unfiled"] += not spec.mlps[1]
        self.tally["findings"]["I2"] += bool(spec.holds) and not spec.mlps[1]

    def _fate(self, spec: SystemSpec, when: datetime) -> None:
        cio, system_id = self.cast.cio(spec.department), self.system_ids[spec.name]
        if spec.fate == "zombie":
            reasons = self.rng.sample(list(ZombieReason), 2)
            self.app.mark_system_zombie(self.cast.ndrc, system_id, reasons, occurred_at=when)
        elif spec.fate.startswith("merged:"):
            into = self.system_ids[spec.fate.split(":", 1)[1]]
            self.app.merge_system(cio, system_id, into, occurred_at=when)
        elif spec.fate == "decommissioned":
            reason = "功能并入区级平台，停止运行"
            self.app.decommission_system(cio, system_id, reason, occurred_at=when)
        if spec.fate:
            self.tally["systems"][spec.fate.split(":")[0]] += 1
        self.tally["counts"]["systems"] += 1

    def catalogue(self) -> Catalogue:
        abbr = {code: a for code, _, a in DEPARTMENTS}
        serial: Counter[str] = Counter()
        for spec in RESOURCES:
            serial[spec.department] += 1
            code = f"GX-{abbr[spec.department]}-{serial[spec.department]:03d}"
            self.codes[spec.name] = code
            self._resource(code, spec)
        view = self._catalogue_view()
        self.provider_of = view.provider
        return view

    def _entry(self, code: str, spec: ResourceSpec) -> CatalogueEntry:
        rng = self.rng
        names = [n.rstrip("*") for n in spec.items.split(",")]
        items = tuple(
            ResourceItem(n, ITEM_SENSITIVITY.get(n, Sensitivity.GENERAL), raw.endswith("*"))
            for n, raw in zip(names, spec.items.split(","), strict=True)
        )
        sharing = {
            "U": SharingType.UNCONDITIONAL,
            "C": SharingType.CONDITIONAL,
            "N": SharingType.NOT_SHAREABLE,
        }[spec.sharing]
        personal = any(
            i.sensitivity in (Sensitivity.PERSONAL, Sensitivity.SENSITIVE_PERSONAL) for i in items
        )
        open_to_public = sharing is SharingType.UNCONDITIONAL and not personal
        open_type = OpenType.UNCONDITIONAL if open_to_public else OpenType.NOT_OPEN
        condition = "限于法定职责范围内使用，经提供方审核同意"
        if sharing is SharingType.UNCONDITIONAL or spec.name in NO_SHARE_CONDITION:
            condition = ""
        return CatalogueEntry(
            code=code,
            name=spec.name,
            provider_department=spec.department,
            items=items,
            sharing_type=sharing,
            legal_basis=spec.legal_basis,
            open_type=open_type,
            update_cycle=rng.choice(DEMO_CYCLES),
            summary=f"{DEPARTMENT_NAMES[spec.department]}提供的{spec.name}",
            format=rng.choice(("数据库表", "接口服务", "电子文件")),
            publish_date=SETUP_DAY,
            share_condition=condition,
            share_method="" if sharing is SharingType.NOT_SHAREABLE else "共享交换平台接口",
            base_resource=any(i.base_item for i in items),
        )

    def _resource(self, code: str, spec: ResourceSpec) -> None:
        """Catalogued the day after the systems (seed §三(二)5); 网信办 assesses that afternoon."""
        entry = self._entry(code, spec)
        provider = self.cast.provider(spec.department)
        listed = _at(SETUP_DAY + timedelta(days=1), 9)
        self.app.register_resource(provider, entry, occurred_at=listed)
        if spec.name not in NO_OWNER:
            self.app.assign_resource_owner(provider, code, spec.department, occurred_at=listed)
            self.app.assign_resource_controller(provider, code, spec.department, occurred_at=listed)
        if spec.name not in NO_RISK_ASSESSMENT:
            assessed = _at(SETUP_DAY + timedelta(days=1), 15)
            self.app.record_risk_assessment(
                self.cast.cac, code, *self._assessment(entry), occurred_at=assessed
            )
        counts = self.tally["resources"]
        counts[entry.sharing_type.value] += 1
        counts["base"] += entry.base_resource
        counts["with_sensitive_personal"] += any(
            i.sensitivity is Sensitivity.SENSITIVE_PERSONAL for i in entry.items
        )
        counts["no_owner"] += spec.name in NO_OWNER
        counts["no_risk_assessment"] += spec.name in NO_RISK_ASSESSMENT
        findings = self.tally["findings"]
        findings["S9"] += (
            entry.base_resource and entry.sharing_type is not SharingType.UNCONDITIONAL
        )
        findings["S10"] += spec.name in NO_SHARE_CONDITION
        self.tally["counts"]["resources"] += 1

    def _assessment(self, entry: CatalogueEntry) -> tuple[str, RiskLevel, str]:
        self.tally["counts"]["risk_assessments"] += 1
        n = self.tally["counts"]["risk_assessments"]
        grades = {i.sensitivity for i in entry.items}
        level = RiskLevel.LOW
        if grades & {Sensitivity.PERSONAL, Sensitivity.IMPORTANT}:
            level = RiskLevel.MEDIUM
        if grades & {Sensitivity.SENSITIVE_PERSONAL, Sensitivity.CORE}:
            level = RiskLevel.HIGH
        return f"苏高新网信评〔{DEMO_YEAR}〕{n}号", level, f"{entry.name}共享风险评估"

    def _catalogue_view(self) -> Catalogue:
        resources = [self.app.resource(code) for code in self.codes.values()]
        return Catalogue(
            provider={r.code: r.provider_department for r in resources},
            sharing={r.code: r.sharing_type for r in resources},
            items={r.code: tuple(i.name for i in r.items) for r in resources},
            sensitive={r.code: r.items_with(Sensitivity.SENSITIVE_PERSONAL) for r in resources},
        )

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
        systems = [
            self.system_ids[s.name]
            for s in SYSTEMS
            if s.department == spec.department and not s.fate
        ][:1]
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

    # -- the year --------------------------------------------------------------

    def year(
        self, actions: list[Action], accesses: AccessPlanner, total: int, live: LiveTerms
    ) -> None:
        """Walk the days: each day's commands and accesses in time order, accesses batched."""
        by_day: dict[date, list[Action]] = defaultdict(list)
        for action in actions:
            by_day[action[0].date()].append(action)
        days = [ACCESS_START + timedelta(days=n) for n in range((YEAR_END - ACCESS_START).days + 1)]
        counts = allocate(total, days, self.calendar.working_calendar().is_working_day)
        first = min([*by_day, ACCESS_START])
        for day in [first + timedelta(days=n) for n in range((ACCESS_START - first).days)]:
            self._run(sorted(by_day.pop(day, []), key=lambda a: (a[0], a[1])))
        batch: list[tuple[AccessReport, AccessVerdict]] = []
        for day, count in zip(days, counts, strict=True):
            todays = sorted(by_day.pop(day, []), key=lambda a: (a[0], a[1]))
            planned = accesses.day(day, count)
            batch = self._merge(todays, planned, batch, live)
        self._flush(batch)
        for day in sorted(by_day):  # nothing is planned after the year; kept for safety
            self._run(sorted(by_day[day], key=lambda a: (a[0], a[1])))

    def _run(self, actions: list[Action]) -> None:
        for when, _, act in actions:
            act(when)  # every command dated when it happened

    def _merge(
        self,
        actions: list[Action],
        planned: list[PlannedAccess],
        batch: list[tuple[AccessReport, AccessVerdict]],
        live: LiveTerms,
    ) -> list[tuple[AccessReport, AccessVerdict]]:
        i = 0
        for access in planned:
            while i < len(actions) and actions[i][0] <= access.report.accessed_at:
                self._run([actions[i]])
                i += 1
            batch.append((access.report, self._judge(access, live)))
            if len(batch) == BATCH_SIZE:
                batch = self._flush(batch)
        self._run(actions[i:])
        return batch

    def _judge(self, access: PlannedAccess, live: LiveTerms) -> AccessVerdict:
        verdict = evaluate_access(access.report, live.model)
        if verdict.reasons != access.expected:
            raise DemoError(
                f"{access.report.platform_event_id}: planted {access.kind} {access.expected}, "
                f"evaluated {verdict.reasons}"
            )
        obligations.provided(self, access.report)  # D1's plant
        counts = self.tally["accesses"]
        counts["recorded"] += 1
        counts["authorized" if verdict.authorized else "unauthorized"] += 1
        if access.kind == "off_hours_sensitive":
            self.tally["anomalies"]["off_hours_sensitive"] += 1
        for reason in verdict.reasons:
            self.tally["violations"][reason.value] += 1
            self.examples.setdefault(reason.value, access.report.platform_event_id)
        return verdict

    def _flush(
        self, batch: list[tuple[AccessReport, AccessVerdict]]
    ) -> list[tuple[AccessReport, AccessVerdict]]:
        if batch:
            self.app.record_accesses(self.cast.platform, batch)
            self.progress(len(batch))
        return []


def load_demo(
    app: GovLedger,
    *,
    accesses: int = DEFAULT_ACCESSES,
    seed: int = DEFAULT_SEED,
    progress: Callable[[int], None] = lambda _n: None,
    violation_rate: float = DEFAULT_VIOLATION_RATE,
    requests: int = REQUESTS,
) -> DemoSummary:
    """Load the demo year into an empty ledger; ``progress`` gets each access batch's size."""
    if accesses < 0 or not 0 <= violation_rate <= 1 - OFF_HOURS_RATE:
        raise DemoError("accesses must be >= 0 and violation_rate within [0, 0.995]")
    start = app.recorder.max_notification_id() or 0
    if start:
        raise DemoError("the ledger already holds events: load the demo into a fresh ledger")
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    # The ledger's configured calendar if it has one, else the State Council's notices.
    calendar = app.calendar or CalendarSpec.shipped()
    loader = DemoLoader(app, rng, progress, calendar)
    loader.record_calendar()
    loader.departments()
    loader.systems()
    catalogue = loader.catalogue()
    live = LiveTerms(app, list(loader.codes.values()))
    plans = RequestPlanner(calendar, rng, catalogue).plan(requests)
    planner = AccessPlanner(rng, catalogue, plans, loader.cast, loader.using_system, violation_rate)
    planner.grant_ids = loader.request_ids  # filled as the year's requests are submitted
    actions = loader.request_actions(plans, live) + loader.fund_actions()
    obligations.before_the_year(loader, plans)
    loader.year(actions, planner, accesses, live)
    obligations.after_the_year(loader)
    oversight.plant(loader)
    follow_up.record(loader)
    events = (app.recorder.max_notification_id() or 0) - start
    return summary_of(loader.tally, loader.examples, seed, events)
