"""Who may do what: one explicit table of permissions to roles.

The table is the whole policy: no role inherits from another and no rule
lives elsewhere, so reviewers (and ``print(format_matrix())``) read it in one
place. Department-bound roles (department_clerk, data_provider, cio) may in
addition act only for their own department; :func:`authorize` checks that
when the caller names the department concerned.

``admin`` registers departments and manages keys, and reads no records.
Today keys are minted only with ``govledger keys`` by an operator who holds
the database credentials; ``MANAGE_KEYS`` is reserved for a keys API.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from ledger.domain.actor import Role
from security.principal import PermissionDenied, Principal, SecurityCode


class Permission(StrEnum):
    """Things a caller may ask the service to do."""

    SUBMIT_REQUEST = "submit_request"
    DECIDE_REQUEST = "decide_request"
    INGEST_ACCESS = "ingest_access"
    FILE_PROJECT = "file_project"
    REVIEW_PROJECT = "review_project"
    DECIDE_FUNDS = "decide_funds"
    REGISTER_CATALOGUE = "register_catalogue"
    REGISTER_SYSTEM = "register_system"
    SET_CONNECTION_REQUIREMENT = "set_connection_requirement"
    RECORD_CONNECTION = "record_connection"
    MARK_ZOMBIE = "mark_zombie"
    READ_LEDGER_FEED = "read_ledger_feed"
    READ_AUDIT_VIEWS = "read_audit_views"
    READ_PERSONAL_DATA_VIEWS = "read_personal_data_views"
    READ_ANOMALIES = "read_anomalies"
    REVIEW_ANOMALY = "review_anomaly"
    RECORD_RISK_ASSESSMENT = "record_risk_assessment"
    REPORT_REFRESH = "report_refresh"
    RECORD_PIA = "record_pia"
    APPROVE_CORE_DATA = "approve_core_data"
    SUBMIT_ANNUAL_REPORT = "submit_annual_report"
    COMPILE_ZONE_REPORT = "compile_zone_report"
    RECORD_PROCESSOR = "record_processor"
    REPORT_PROJECT_PROGRESS = "report_project_progress"
    EVALUATE_PROJECT = "evaluate_project"
    REVISE_FILED_AMOUNTS = "revise_filed_amounts"
    RAISE_QUALITY_OBJECTION = "raise_quality_objection"
    RESOLVE_QUALITY_OBJECTION = "resolve_quality_objection"
    ISSUE_RECTIFICATION = "issue_rectification"
    REPORT_RECTIFICATION = "report_rectification"
    VERIFY_RECTIFICATION = "verify_rectification"
    ISSUE_AUDIT_SUGGESTION = "issue_audit_suggestion"
    RESPOND_AUDIT_SUGGESTION = "respond_audit_suggestion"
    CONFIRM_AUDIT_SUGGESTION = "confirm_audit_suggestion"
    ISSUE_REPORT = "issue_report"
    DECLARE_SECURITY_FACTS = "declare_security_facts"
    DECLARE_PLAN_FACTS = "declare_plan_facts"
    VERIFY = "verify"
    EXPORT = "export"
    MANAGE_KEYS = "manage_keys"
    MANAGE_DEPARTMENTS = "manage_departments"
    OPEN_CONSOLE = "open_console"
    ANSWER_SUBJECT_REQUEST = "answer_subject_request"
    ERASE_SUBJECT = "erase_subject"


_R = Role
# Permission -> roles allowed. Comments cite domain.md's actor table.
POLICY: Mapping[Permission, frozenset[Role]] = MappingProxyType(
    {
        # A using department applies for a conditional resource (51号).
        Permission.SUBMIT_REQUEST: frozenset({_R.DEPARTMENT_CLERK, _R.CIO}),
        # The provider answers within the time limit (51号 §14).
        Permission.DECIDE_REQUEST: frozenset({_R.DATA_PROVIDER, _R.CIO}),
        # The exchange platform is the source of data-access facts.
        Permission.INGEST_ACCESS: frozenset({_R.EXCHANGE_PLATFORM}),
        # Departments file their projects with ndrc (seed §三(五)17).
        Permission.FILE_PROJECT: frozenset({_R.DEPARTMENT_CLERK, _R.CIO}),
        Permission.REVIEW_PROJECT: frozenset({_R.NDRC}),
        Permission.DECIDE_FUNDS: frozenset({_R.FINANCE}),
        # Providers list resources; ndrc compiles the catalogue.
        Permission.REGISTER_CATALOGUE: frozenset({_R.DATA_PROVIDER, _R.CIO, _R.NDRC}),
        # Departments inventory their systems (seed §三(一)1).
        Permission.REGISTER_SYSTEM: frozenset({_R.DEPARTMENT_CLERK, _R.CIO}),
        # Separation of duties (issue 14): the inputs of F1 and F2 are not the funded
        # department's to set. ndrc lists the systems that must connect (seed §三(三)12)
        # and marks zombies (seed §三(一)3); the exchange platform's operator records a
        # connection it sees. The actor is kept on each fact: who, and the reasons given.
        Permission.SET_CONNECTION_REQUIREMENT: frozenset({_R.NDRC}),
        Permission.RECORD_CONNECTION: frozenset({_R.EXCHANGE_PLATFORM}),
        Permission.MARK_ZOMBIE: frozenset({_R.NDRC}),
        # The raw event feed: the auditor reads everything.
        Permission.READ_LEDGER_FEED: frozenset({_R.AUDITOR}),
        Permission.READ_AUDIT_VIEWS: frozenset(
            {_R.AUDITOR, _R.NDRC, _R.FINANCE, _R.SECURITY_OFFICER, _R.PERFORMANCE_OFFICE}
        ),
        # Personal-information oversight (PIPL): auditor and 网信办 only.
        Permission.READ_PERSONAL_DATA_VIEWS: frozenset({_R.AUDITOR, _R.SECURITY_OFFICER}),
        Permission.READ_ANOMALIES: frozenset({_R.SECURITY_OFFICER, _R.AUDITOR}),
        Permission.REVIEW_ANOMALY: frozenset({_R.SECURITY_OFFICER}),
        Permission.RECORD_RISK_ASSESSMENT: frozenset({_R.SECURITY_OFFICER}),
        # Issue 14 facts (docs/facts.md §7): each recorded by the role that owns it.
        # Only the exchange platform sees a refresh land (S11), as it sees accesses.
        Permission.REPORT_REFRESH: frozenset({_R.EXCHANGE_PLATFORM}),
        # PIPL §55: the providing department assesses before providing personal data (P2).
        Permission.RECORD_PIA: frozenset({_R.DATA_PROVIDER, _R.CIO}),
        # 数据安全法 §21: 网信办 records the special approval to share core data (D1).
        Permission.APPROVE_CORE_DATA: frozenset({_R.SECURITY_OFFICER}),
        # Seed 四(二): each department reports its year; ndrc compiles the zone's report
        # and, as the leading group's office, records the group's approval (I3).
        Permission.SUBMIT_ANNUAL_REPORT: frozenset({_R.DEPARTMENT_CLERK, _R.CIO}),
        Permission.COMPILE_ZONE_REPORT: frozenset({_R.NDRC}),
        # 数据安全法 §40: the entrusting department records its 受托方.
        Permission.RECORD_PROCESSOR: frozenset({_R.DEPARTMENT_CLERK, _R.CIO}),
        # Seed §三(五)17 跟踪: the builder reports; 评价 is ndrc's, not the builder's.
        Permission.REPORT_PROJECT_PROGRESS: frozenset({_R.DEPARTMENT_CLERK, _R.CIO}),
        Permission.EVALUATE_PROJECT: frozenset({_R.NDRC}),
        # 调整概算: ndrc, which received the filing, revises its amounts; not the builder.
        Permission.REVISE_FILED_AMOUNTS: frozenset({_R.NDRC}),
        # 51号: a user disputes data quality; the provider (校核) answers it.
        Permission.RAISE_QUALITY_OBJECTION: frozenset(
            {_R.DEPARTMENT_CLERK, _R.DATA_PROVIDER, _R.CIO}
        ),
        Permission.RESOLVE_QUALITY_OBJECTION: frozenset({_R.DATA_PROVIDER, _R.CIO}),
        # 审计法 §45 (docs/facts.md §8): the auditor notifies and verifies; the
        # notified department (its clerk or CIO, checked per record) reports.
        Permission.ISSUE_RECTIFICATION: frozenset({_R.AUDITOR}),
        Permission.REPORT_RECTIFICATION: frozenset({_R.DEPARTMENT_CLERK, _R.CIO}),
        Permission.VERIFY_RECTIFICATION: frozenset({_R.AUDITOR}),
        # 国家审计准则 §122: the auditor suggests and checks the answer; the addressed
        # department (its clerk or CIO, checked per record) says whether it adopts it.
        Permission.ISSUE_AUDIT_SUGGESTION: frozenset({_R.AUDITOR}),
        Permission.RESPOND_AUDIT_SUGGESTION: frozenset({_R.DEPARTMENT_CLERK, _R.CIO}),
        Permission.CONFIRM_AUDIT_SUGGESTION: frozenset({_R.AUDITOR}),
        # docs/reports.md: who signs a report issues it (审计局, 网信办, 区发改局).
        Permission.ISSUE_REPORT: frozenset({_R.AUDITOR, _R.SECURITY_OFFICER, _R.NDRC}),
        # 条例 §33 facts: 网信办 or the department itself (commands narrow it per kind).
        Permission.DECLARE_SECURITY_FACTS: frozenset(
            {_R.SECURITY_OFFICER, _R.DEPARTMENT_CLERK, _R.DATA_PROVIDER, _R.CIO}
        ),
        # Declared records of the seed plan (docs/facts.md §11): 处室 systems are ndrc's
        # finding, self-inspections the department's, 分级保护 the department's or 网信办's,
        # 上云 the department's or ndrc's (ledger/commands/declarations.py narrows per kind).
        Permission.DECLARE_PLAN_FACTS: frozenset(
            {_R.NDRC, _R.SECURITY_OFFICER, _R.DEPARTMENT_CLERK, _R.DATA_PROVIDER, _R.CIO}
        ),
        Permission.VERIFY: frozenset({_R.AUDITOR, _R.SECURITY_OFFICER}),
        Permission.EXPORT: frozenset({_R.AUDITOR}),
        Permission.MANAGE_KEYS: frozenset({_R.ADMIN}),
        Permission.MANAGE_DEPARTMENTS: frozenset({_R.ADMIN}),
        # 个人信息保护法 §44-47 (docs/privacy.md): 网信办 answers a person's request to know
        # who read their records, and erases their personal data.
        Permission.ANSWER_SUBJECT_REQUEST: frozenset({_R.SECURITY_OFFICER}),
        Permission.ERASE_SUBJECT: frozenset({_R.SECURITY_OFFICER}),
        # The web console (api/console) is for oversight; each page also asks its own permission.
        Permission.OPEN_CONSOLE: frozenset({_R.AUDITOR, _R.SECURITY_OFFICER, _R.ADMIN}),
    }
)
assert set(POLICY) == set(Permission), "every permission has a row"


def allowed_roles(permission: Permission) -> frozenset[Role]:
    return POLICY[permission]


def permissions_of(role: Role) -> frozenset[Permission]:
    return frozenset(p for p, roles in POLICY.items() if role in roles)


def is_allowed(principal: Principal, permission: Permission, department: str | None = None) -> bool:
    """The boolean form of :func:`authorize`, for building menus and views."""
    try:
        authorize(principal, permission, department)
    except PermissionDenied:
        return False
    return True


def authorize(principal: Principal, permission: Permission, department: str | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``principal`` may do ``permission``.

    ``department`` is the department the action concerns, when it concerns
    one: a department-bound principal may act only for its own.
    """
    if principal.role not in POLICY[permission]:
        raise PermissionDenied(
            SecurityCode.ROLE_NOT_PERMITTED,
            f"role {principal.role.value} may not {permission.value}",
        )
    if (
        principal.is_department_bound
        and department is not None
        and department != principal.department_code
    ):
        raise PermissionDenied(
            SecurityCode.DEPARTMENT_MISMATCH,
            f"role {principal.role.value} of department {principal.department_code} "
            f"may not act for department {department}",
        )


def permission_matrix() -> dict[Role, dict[Permission, bool]]:
    """Role × permission, every cell present: what a test or a review prints."""
    return {role: {p: role in POLICY[p] for p in Permission} for role in Role}


def format_matrix() -> str:
    """The matrix as a plain-text table, one permission per line, ``x`` where allowed."""
    roles = list(Role)
    width = max(len(p.value) for p in Permission)
    header = " " * width + " | " + " ".join(f"{i:>2}" for i in range(len(roles)))
    legend = "  ".join(f"{i}={r.value}" for i, r in enumerate(roles))
    lines = [legend, header]
    for p in Permission:
        cells = " ".join(f"{'x' if r in POLICY[p] else '.':>2}" for r in roles)
        lines.append(f"{p.value:<{width}} | {cells}")
    return "\n".join(lines)
