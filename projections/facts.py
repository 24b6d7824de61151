"""Ledger rows as the projections read them: topic, entity and the event's JSON state.

Projections decode the stored JSON directly instead of going through the
application's mapper: a rebuild touches every row, and the mapper's domain
objects cost several times the decoding (docs/projections.md, "Tracking").
The JSON shapes are those of ``ledger.domain.transcodings`` (``_type_``/``_data_``
wrappers for datetimes, dates, uuids, actors, items and verdicts).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from typing import Any, NamedTuple

import msgspec

from ledger.domain.calendar import CHINA_STANDARD_TIME

CST = CHINA_STANDARD_TIME
ACCESS = "DataAccess.Recorded"

# The event field that carries when the fact happened (domain time), per short topic.
DOMAIN_TIME_FIELD: dict[str, str] = {
    ACCESS: "accessed_at",
    "SharingRequest.Submitted": "submitted_at",
    "SharingRequest.Approved": "decided_at",
    "SharingRequest.Rejected": "decided_at",
    "SharingRequest.Revoked": "revoked_at",
    "SharingRequest.Expired": "expired_at",
    "FundDecision.Decided": "decided_at",
    "ProjectFiling.Accepted": "accepted_at",
    "PersonalDataView.Recorded": "viewed_at",
    "DataSubject.Erased": "erased_at",  # docs/privacy.md
    "AnomalyReview.Started": "reviewed_at",
    "AnomalyReview.Reviewed": "reviewed_at",
    "DistrictCalendar.Set": "in_force_from",
    # The facts of issue 14 (docs/facts.md §7, docs/rules-inputs.md), v1 with it.
    "ResourceRefresh.Reported": "refreshed_at",
    "ImpactAssessment.Recorded": "assessed_at",
    "CoreDataApproval.Granted": "approved_at",
    "CoreDataApproval.Withdrawn": "withdrawn_at",
    "AnnualSharingReport.Submitted": "submitted_at",
    "AnnualSharingReport.Approved": "approved_at",
    "ContractedProcessor.Entrusted": "occurred_at",
    "ContractedProcessor.Ended": "occurred_at",
    "ProjectProgress.Reported": "reported_at",
    "ProjectEvaluation.Recorded": "evaluated_at",
    "FiledAmountsRevision.Recorded": "revised_at",
    "QualityObjection.Raised": "raised_at",
    "QualityObjection.Resolved": "resolved_at",
    # docs/facts.md §8, §9
    "Rectification.Notified": "notified_at",
    "Rectification.Reported": "reported_at",
    "Rectification.Verified": "verified_at",
    "AuditSuggestion.Issued": "issued_at",
    "AuditSuggestion.Responded": "responded_at",
    "AuditSuggestion.Confirmed": "confirmed_at",
    "SecurityLead.Appointed": "appointed_at",
    "ResourceStorage.Declared": "declared_at",
    "SystemMeasures.Declared": "declared_at",
    "IssuedReport.Issued": "issued_at",
    # docs/facts.md §11: the plan's declared records
    "Declaration.Declared": "declared_at",
}
# Kinds that gained ``occurred_at`` at version 2 (docs/facts.md §3, §4): their business
# time is ``occurred_at``, or, in a version 1 state, the record time (``timestamp``).
OCCURRED_AT_TOPICS = frozenset(
    {
        "Department.Registered",
        "Department.CioNamed",
        "InformationSystem.Registered",
        "InformationSystem.ConnectionRequirementSet",
        "InformationSystem.Connected",
        "InformationSystem.MovedOnCloud",
        "InformationSystem.MarkedZombie",
        "InformationSystem.MergedInto",
        "InformationSystem.Decommissioned",
        "InformationSystem.MlpsRecorded",
        "InformationSystem.DataHoldingsDeclared",
        "Resource.Registered",
        "Resource.OwnerAssigned",
        "Resource.ControllerAssigned",
        "Resource.Reclassified",
        "Resource.RiskAssessed",
        "ProjectFiling.Filed",
        "ProjectFiling.ArchitectureApproved",
        "ProjectFiling.ArchitectureRejected",
    }
)


class Fact(NamedTuple):
    """One decoded ledger row (a tuple: a million of them are made on a rebuild)."""

    position: int
    entity: str  # originator id, uuid hex
    topic: str  # short topic, e.g. "SharingRequest.Approved"
    data: dict[str, Any]
    hash: bytes
    state: bytes  # the stored JSON, as recorded


class _Wrapped(msgspec.Struct, gc=False):
    """A ``{"_type_", "_data_"}`` value (datetime_iso here): its text only."""

    data: str = msgspec.field(name="_data_")


class _ActorData(msgspec.Struct, gc=False):
    actor_id: Any
    role: Any


class _Actor(msgspec.Struct, gc=False):
    data: _ActorData = msgspec.field(name="_data_")


class _VerdictData(msgspec.Struct, gc=False):
    reasons: Any


class _Verdict(msgspec.Struct, gc=False):
    data: _VerdictData = msgspec.field(name="_data_")


class AccessState(msgspec.Struct, gc=False):
    """The fields of a ``DataAccess.Recorded`` state the projections use (ledger-format §12).

    Decoding straight into these (other keys skipped) costs about 60% of a full
    ``orjson.loads`` into dicts (measured ~3.3 against ~5.4 µs), on most rows of any
    ledger. Leaves are ``Any``: whatever JSON the row holds reaches the fold as the
    dict decoding gave it; a row without these fields stops the run, as before.
    """

    actor: _Actor
    platform_event_id: Any
    accessor_id: Any
    department: Any
    system: Any
    resource_code: Any
    items: Any
    row_count: Any
    purpose: Any
    grant_id: Any
    accessed_at: _Wrapped
    verdict: _Verdict
    timestamp: _Wrapped  # when the ledger recorded it (docs/facts.md §6: dated in future)


decode_access = msgspec.json.Decoder(AccessState).decode


def access_state(data: dict[str, Any]) -> AccessState:
    """The access fields of an already decoded state (a ``Fact``'s data)."""
    return msgspec.convert(data, AccessState)


def short_topic(topic: str) -> str:
    return topic.rpartition(":")[2]


def entity_hex(originator_id: str) -> str:
    return originator_id.replace("-", "")


def when(value: Any) -> datetime | None:
    """A ``datetime_iso`` value (or None)."""
    if value is None:
        return None
    return datetime.fromisoformat(value["_data_"])


def day(value: Any) -> date | None:
    """A ``date_iso`` value (or None)."""
    if value is None:
        return None
    return date.fromisoformat(value["_data_"])


def uuid_text(value: Any) -> str | None:
    """A uuid as 32 hex digits, from a ``uuid_hex`` value or a hyphenated string."""
    if value is None:
        return None
    if isinstance(value, dict):
        return str(value["_data_"]).replace("-", "")
    return str(value).replace("-", "")


def actor_of(data: dict[str, Any]) -> dict[str, Any]:
    actor: dict[str, Any] = data["actor"]["_data_"]
    return actor


def domain_time(fact: Fact) -> datetime | None:
    """When the fact happened (its business time, docs/facts.md §1), if the kind has one.

    A version 1 state of a kind that gained ``occurred_at`` happened, as far as the
    ledger knows, when it was recorded (docs/facts.md §4): never the time of a
    neighbouring event.
    """
    if fact.topic in OCCURRED_AT_TOPICS:
        return when(fact.data.get("occurred_at") or fact.data.get("timestamp"))
    name = DOMAIN_TIME_FIELD.get(fact.topic)
    return when(fact.data.get(name)) if name else None


def event_time(fact: Fact) -> datetime:
    """Domain time if the event has one, else when it was recorded (its timestamp)."""
    found = domain_time(fact)
    if found is not None:
        return found
    recorded = when(fact.data["timestamp"])
    assert recorded is not None
    return recorded


def local_day(moment: datetime) -> str:
    """The China Standard Time calendar day of ``moment``, as YYYY-MM-DD."""
    return moment.astimezone(CST).date().isoformat()


def stable_id(*parts: str) -> str:
    """A short stable id for a finding or an anomaly: equal inputs, equal ids, any run."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]
