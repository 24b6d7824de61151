"""Request and response bodies of ``/api/v1`` (pydantic; unknown fields are refused).

Field names are the English identifiers of ``../shared/domain.md``. Each model
converts itself into the domain value the ``GovLedger`` command takes, so a
router is only: authorise, convert, call, answer.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Protocol
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ledger.domain import bounds, fact_intake, intake
from ledger.domain.access import AccessReport, AccessVerdict
from ledger.domain.catalogue import (
    CatalogueEntry,
    OpenType,
    ResourceItem,
    RiskLevel,
    Sensitivity,
    SharingType,
    UpdateCycle,
)
from ledger.domain.funding import FundKind, FundOutcome
from ledger.domain.organisation import SystemInventory, ZombieReason

# The input contract (ledger/domain/bounds.py, docs/facts.md §6): the same bounds as
# `govledger import` and the Python API. A refusal is a 422 naming the field.


def _contract(check: Any) -> Any:
    """A bounds check as a pydantic validator: its refusal becomes a ValueError."""

    def validate(value: Any) -> Any:
        try:
            return check(value)
        except bounds.BoundsError as e:
            raise ValueError(e.problem) from None

    return validate


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a time zone is required, e.g. 2026-06-30T09:15:00+08:00")
    return value


# RFC 3339 with an offset, within the ledger's range (bounds.instant), then aware.
Instant = Annotated[
    datetime,
    BeforeValidator(_contract(lambda v: bounds.instant(v, "time"))),
    AfterValidator(_aware),
]
AwareDatetime = Instant
ContentDate = Annotated[date, BeforeValidator(_contract(lambda v: bounds.content_date(v, "date")))]
_Chars = AfterValidator(_contract(lambda v: bounds.check_chars(v, "text")))
Text = Annotated[str, Field(min_length=1, max_length=bounds.MAX_TEXT), _Chars]
Code = Annotated[
    str, Field(min_length=1, max_length=bounds.MAX_CODE, pattern=bounds.CODE_PATTERN), _Chars
]
ShortText = Annotated[str, Field(max_length=bounds.MAX_TEXT), _Chars]
Fen = Annotated[int, Field(ge=0, le=bounds.MAX_FEN)]
BUSINESS_TIME = (
    "When it happened (business time, docs/facts.md): RFC 3339 with an offset, not before "
    "the earliest business time, not in the future; default: now."
)


def _when(description: str = BUSINESS_TIME) -> Any:
    return Field(default=None, description=description)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Decoded(Body):
    """A body read first by its kind's one decoder (ledger/domain/fact_intake.py), exactly
    as a line of ``govledger import`` of that kind is: both take and refuse the same
    objects (docs/import-format.md, "Bounds"). The fields below document the body and
    check the decoded values again."""

    fact_kind: ClassVar[str]

    @model_validator(mode="before")
    @classmethod
    def _the_contract(cls, data: Any) -> Any:
        try:
            return fact_intake.record_fields(cls.fact_kind, data)
        except bounds.BoundsError as e:
            raise ValueError(e.detail) from None


class Created(BaseModel):
    id: UUID


class Done(BaseModel):
    status: str = "recorded"


# ---------------------------------------------------------------- organisation


class WhenIn(Body):
    """The optional body of a command that carries nothing but when it happened."""

    occurred_at: Instant | None = _when()


class DepartmentIn(Body):
    code: Code = Field(examples=["civil_defense"])
    name: Text = Field(examples=["区人防办"])
    occurred_at: Instant | None = _when()


class CioIn(Decoded):
    fact_kind: ClassVar[str] = "department_cio"

    cio_name: Text = Field(examples=["王明"])
    cio_actor_id: Code | None = None
    occurred_at: Instant | None = _when()


class SystemIn(Body):
    department: Code = Field(examples=["hrss"])
    name: Text = Field(examples=["社会保障业务系统"])
    function: Text = Field(examples=["社保参保登记与待遇发放"])
    scope_of_use: Text = Field(examples=["全区"])
    usage_frequency: Text = Field(examples=["每日"])
    approving_body: Text = Field(examples=["区发改局"])
    approval_date: ContentDate | None = None
    funding_source: Text = Field(examples=["区财政"])
    required_to_connect: bool = False
    holds_personal_data: bool = False
    holds_important_data: bool = False
    occurred_at: Instant | None = _when()

    def inventory(self) -> SystemInventory:
        return SystemInventory(
            name=self.name,
            function=self.function,
            scope_of_use=self.scope_of_use,
            usage_frequency=self.usage_frequency,
            approving_body=self.approving_body,
            approval_date=self.approval_date,
            funding_source=self.funding_source,
        )


def _evidence(example: str = "苏高新发改〔2026〕12号") -> Any:
    """``evidence`` (issue 14): optional but recommended, on what the owner records the fact."""
    return Field(default="", examples=[example])


class ZombieIn(Body):
    reasons: list[ZombieReason] = Field(min_length=1, max_length=len(ZombieReason))
    evidence: ShortText = _evidence()
    occurred_at: Instant | None = _when()


class ConnectionIn(Body):
    evidence: ShortText = _evidence("平台接入记录 JR-2026-0412")
    occurred_at: Instant | None = _when()


class MergeIn(Body):
    integrated_system_id: UUID
    occurred_at: Instant | None = _when()


class ReasonIn(Body):
    """A system decommissioned, with why."""

    reason: ShortText = ""
    occurred_at: Instant | None = _when()


class RejectIn(Body):
    reason: ShortText = ""
    decided_at: Instant | None = _when("When the provider refused (business time); default: now.")


class RevokeIn(Body):
    reason: ShortText = ""
    revoked_at: Instant | None = _when("When the grant ended (business time); default: now.")


class MlpsIn(Body):
    mlps_level: int = Field(ge=1, le=4)
    mlps_filed: bool
    occurred_at: Instant | None = _when()


class ConnectionRequirementIn(Body):
    required_to_connect: bool
    evidence: ShortText = _evidence()
    occurred_at: Instant | None = _when()


# -------------------------------------------------------------------- catalogue


class ItemIn(Body):
    name: Text
    sensitivity: Sensitivity
    base_item: bool = False


class ResourceIn(Body):
    code: Code = Field(examples=["GX-PSB-101"])
    name: Text = Field(examples=["流动人口居住登记信息"])
    provider_department: Code = Field(examples=["psb"])
    items: list[ItemIn] = Field(min_length=1, max_length=bounds.MAX_LIST)
    sharing_type: SharingType
    legal_basis: ShortText | None = None
    open_type: OpenType
    update_cycle: UpdateCycle
    summary: ShortText = ""
    format: ShortText = ""
    publish_date: ContentDate | None = None
    share_condition: ShortText = ""
    share_method: ShortText = ""
    base_resource: bool = False
    related_resource_codes: list[Code] = Field(default_factory=list, max_length=bounds.MAX_LIST)
    occurred_at: Instant | None = _when()

    def entry(self) -> CatalogueEntry:
        data = self.model_dump(exclude={"items", "related_resource_codes", "occurred_at"})
        return CatalogueEntry(
            **data,
            items=tuple(ResourceItem(i.name, i.sensitivity, i.base_item) for i in self.items),
            related_resource_codes=tuple(self.related_resource_codes),
        )


class OwnerIn(Body):
    owner_department: Code
    occurred_at: Instant | None = _when()


class ControllerIn(Body):
    controller: Text
    occurred_at: Instant | None = _when()


class ReclassifyIn(Body):
    sharing_type: SharingType
    legal_basis: ShortText | None = None
    share_condition: ShortText = ""
    reason: Text
    occurred_at: Instant | None = _when()


class RiskAssessmentIn(Body):
    reference: Text = Field(examples=["网信办风评〔2026〕12号"])
    risk_level: RiskLevel
    summary: Text
    occurred_at: Instant | None = _when()


# ---------------------------------------------------------------------- sharing


class SharingRequestIn(Body):
    requester_department: Code = Field(examples=["civil_affairs"])
    resource_code: Code = Field(examples=["GX-PSB-001"])
    items: list[Text] = Field(min_length=1, max_length=bounds.MAX_LIST)
    purpose: Text = Field(examples=["最低生活保障资格核查"])
    legal_basis: Text = Field(examples=["《社会救助暂行办法》第十一条"])
    period_start: ContentDate
    period_end: ContentDate
    submitted_at: Instant | None = _when(
        "When the request was made (business time): it fixes the response deadline; default: now."
    )


class ApproveIn(Body):
    items: list[Text] = Field(min_length=1, max_length=bounds.MAX_LIST)
    expires_at: Instant
    decided_at: Instant | None = _when(
        "When the provider granted it (business time); default: now."
    )


class AcceptIn(Decoded):
    fact_kind: ClassVar[str] = "project_acceptance"

    accepted_at: Instant | None = _when("When the project was accepted (验收); default: now.")


# --------------------------------------------------------------------- accesses


class AccessIn(Body):
    """One access reported by the exchange platform (数据访问).

    Read first by ``ledger.domain.intake.access_fields``, exactly as a line of
    ``govledger import`` is (docs/import-format.md, "Bounds"): both take and
    refuse the same accesses.
    """

    @model_validator(mode="before")
    @classmethod
    def _the_contract(cls, data: Any) -> Any:
        try:
            return intake.access_fields(data)
        except bounds.BoundsError as e:
            raise ValueError(e.detail) from None

    platform_event_id: Text = Field(examples=["xchg-2026-000000123"])
    accessor_id: Text = Field(examples=["civil_affairs-staff-01"])
    department: Code = Field(examples=["civil_affairs"])
    system: ShortText | None = None
    resource_code: Code = Field(examples=["GX-PSB-001"])
    items: list[Text] = Field(
        min_length=1, max_length=bounds.MAX_LIST, examples=[["姓名", "公民身份号码"]]
    )
    row_count: int = Field(ge=0, le=bounds.MAX_ROW_COUNT)
    purpose: ShortText | None = Field(default=None, examples=["最低生活保障资格核查"])
    grant_id: UUID | None = None
    client_address: ShortText | None = Field(default=None, examples=["10.12.0.31"])
    accessed_at: Instant
    subjects: list[Text] = Field(
        default_factory=list,
        max_length=bounds.MAX_LIST,
        description="the data subjects whose records were read (e.g. citizen id numbers); "
        "never stored: an access names each by a random key id, found by a blind index "
        "(docs/ledger-format.md §9.1)",
    )

    def report(self) -> AccessReport:
        return access_report(self, self.accessed_at)


class AccessFields(Protocol):
    """An access as a body carries it: ``AccessIn``, or api/access_wire.py's decoded form."""

    platform_event_id: str
    accessor_id: str
    department: str
    system: str | None
    resource_code: str
    items: list[str]
    row_count: int
    purpose: str | None
    grant_id: UUID | None
    client_address: str | None
    subjects: list[str]


def access_report(body: AccessFields, accessed_at: datetime) -> AccessReport:
    return AccessReport(
        platform_event_id=body.platform_event_id,
        accessor_id=body.accessor_id,
        department=body.department,
        system=body.system,
        resource_code=body.resource_code,
        items=tuple(body.items),
        row_count=body.row_count,
        purpose=body.purpose,
        grant_id=body.grant_id,
        client_address=body.client_address,
        accessed_at=accessed_at,
        subjects=tuple(body.subjects),
    )


class AccessBatchIn(Body):
    accesses: list[AccessIn] = Field(min_length=1)


IN_FUTURE = "accessed_at_in_future"


class AccessOut(BaseModel):
    id: UUID
    platform_event_id: str
    authorized: bool
    reasons: list[str]
    newly_recorded: bool
    flags: list[str] = Field(
        default_factory=list,
        description=f"`{IN_FUTURE}`: the access is dated later than the ledger's clock plus "
        "the clock skew; recorded all the same (docs/facts.md §6)",
    )

    @classmethod
    def of(
        cls,
        access_id: UUID,
        report: AccessReport,
        verdict: AccessVerdict,
        new: bool,
        in_future: bool = False,
    ) -> Any:
        return cls(
            id=access_id,
            platform_event_id=report.platform_event_id,
            authorized=verdict.authorized,
            reasons=[str(r) for r in verdict.reasons],
            newly_recorded=new,
            flags=[IN_FUTURE] if in_future else [],
        )


class AccessBatchOut(BaseModel):
    """Counts, and the flagged accesses (unauthorized, or dated in the future) with their
    reasons and flags; the others are not echoed back, which keeps a 10,000-access answer
    small."""

    recorded: int
    already_recorded: int
    unauthorized: int
    flagged: list[AccessOut]
    dated_in_future: int = 0


# ------------------------------------------------------------- filings and funds


class FilingIn(Decoded):
    fact_kind: ClassVar[str] = "project_filing"

    name: Text = Field(examples=["区政务数据共享交换平台二期"])
    builder: Code = Field(examples=["ndrc"])
    investment_fen: Fen = Field(examples=[350_000_000])
    om_cost_fen: Fen = Field(examples=[42_000_000])
    funding_channel: Text = Field(examples=["区级财政资金"])
    resource_codes: list[Code] = Field(default_factory=list, max_length=bounds.MAX_LIST)
    system_ids: list[UUID] = Field(default_factory=list, max_length=bounds.MAX_LIST)
    mlps_filed: bool
    catalogue_preregistered: bool
    occurred_at: Instant | None = _when()


class ReviewIn(Decoded):
    fact_kind: ClassVar[str] = "project_review"

    approved: bool
    architecture_review: Text
    occurred_at: Instant | None = _when()


class FundDecisionIn(Decoded):
    fact_kind: ClassVar[str] = "fund_decision"

    kind: FundKind
    year: int = Field(ge=2000, le=2100)
    department: Code
    amount_fen: Fen
    outcome: FundOutcome
    rationale: Text
    system_id: UUID | None = None
    project_name: ShortText | None = None
    filing_id: UUID | None = None
    decided_at: Instant | None = _when("When finance decided (business time); default: now.")


# ---------------------------------------------------------------------- ledger


class LedgerHead(BaseModel):
    ledger_id: str
    hash_algorithm: str
    created_at: str
    head_position: int


class FeedEvent(BaseModel):
    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: str = Field(description="the stored state bytes, base64")
    prev_hash: str
    hash: str


class FeedPage(BaseModel):
    events: list[FeedEvent]
    next_after: int = Field(description="pass as `after` to read on; equals `after` at the head")
