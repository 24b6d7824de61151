"""The demo's set-up (January): its calendar, departments, systems and catalogue.

The first commands of the demo's year (docs/facts.md §1, each dated when it happened):
the calendar the year is planned on, in force from the ledger's earliest day
(docs/facts.md §3); the departments and their CIOs; the information systems
inventoried on the setup day (seed §三(一)1) with the zombies and merges found that
afternoon; and the catalogue the day after (seed §三(二)5), which 网信办 assesses. The
base of ``ops.demo.loading.DemoLoader``: it holds what the loader wrote and counts it.
Split from ``ops.demo.loading`` to keep modules of one concern (docs/architecture.md,
under 600 lines).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from uuid import UUID

from ledger.application import GovLedger
from ledger.domain import (
    CatalogueEntry,
    OpenType,
    ResourceItem,
    RiskLevel,
    Sensitivity,
    SharingType,
    SystemInventory,
    ZombieReason,
)
from ledger.domain.district_calendar import CalendarSpec
from ops.demo import oversight
from ops.demo.planning import Catalogue
from ops.demo.zone import (
    DEMO_CYCLES,
    DEMO_YEAR,
    DEPARTMENT_NAMES,
    DEPARTMENTS,
    GIVEN_NAMES,
    ITEM_SENSITIVITY,
    NO_OWNER,
    NO_RISK_ASSESSMENT,
    NO_SHARE_CONDITION,
    RESOURCES,
    SETUP_DAY,
    SURNAMES,
    SYSTEMS,
    Cast,
    ResourceSpec,
    SystemSpec,
    _at,
)


class RegistrationLoader:
    """Writes the demo's set-up through ``GovLedger`` commands and counts what it wrote."""

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
