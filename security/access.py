"""Evaluate one reported data access against the catalogue and the grants in force.

Pure functions over a small read model the caller supplies (built from the
ledger's projections, or from aggregates with :func:`resource_terms` and
:func:`grant_terms`). No I/O, no clock: the access's own time decides, so a
replay gives the same verdict. The rules are judged by **business time**: the
terms in force at ``accessed_at`` among those the model knows (docs/projections.md
§Findings, "the access rules"): the resource's sharing type in force then (a
reclassification counts from its ``occurred_at``), the grants approved and not yet
ended then. Rules (domain.md "Compliance rules"):

* S5 ``unknown_resource``       resource not in the catalogue on record
* S1 ``resource_not_shareable`` another department reads a resource not_shareable then
* S2 ``no_grant`` / ``grant_expired`` / ``grant_revoked``
                                 conditional resource, no grant in force at access time
* S3 ``items_beyond_grant``     items outside the grant's items
* S4 ``purpose_mismatch``       purpose differs from the grant's purpose
* P1 ``purpose_mismatch``       sensitive_personal items read with no recorded purpose
                                 (with or without S1/S2: P1 stands on its own)

Not findings: the provider reading its own resource; any department reading
an unconditional resource (51号: used directly from the exchange platform).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from uuid import UUID

from ledger.domain import (
    AccessReason,
    AccessReport,
    AccessVerdict,
    RequestStatus,
    Resource,
    Sensitivity,
    SharingRequest,
    SharingType,
)

AUTHORIZED = AccessVerdict.authorize()


@dataclass(frozen=True, slots=True)
class ResourceTerms:
    """What the evaluator needs of a catalogue entry.

    ``sharing_type`` is the current one; ``classified`` (each classification with the
    time it is in force from, registration's first, sorted by that time, ties in
    recording order; empty: ``sharing_type`` always) dates it: :meth:`sharing_type_at`
    is the one in force at a moment."""

    code: str
    provider_department: str
    sharing_type: SharingType
    sensitive_personal_items: frozenset[str] = frozenset()
    classified: tuple[tuple[datetime, SharingType], ...] = ()

    def sharing_type_at(self, moment: datetime) -> SharingType:
        """The classification in force at ``moment``: the last from at or before it (before
        the first, the first: a resource is judged S5 only when not on record)."""
        found = self.sharing_type if not self.classified else self.classified[0][1]
        for since, sharing in self.classified:
            if since > moment:
                break
            found = sharing
        return found

    def edges(self) -> tuple[datetime, ...]:
        """The instants at which the classification in force changes."""
        return tuple(since for since, _ in self.classified)


@dataclass(frozen=True, slots=True)
class GrantTerms:
    """An approved request: who may read which items, for what, from when until when."""

    grant_id: UUID
    department: str
    resource_code: str
    items: frozenset[str]
    purpose: str
    approved_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None

    # Expiry, or the revocation if it came first; computed once (every access asks).
    ended_at: datetime = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        revoked, expires = self.revoked_at, self.expires_at
        object.__setattr__(self, "ended_at", expires if revoked is None else min(expires, revoked))

    def in_force_at(self, moment: datetime) -> bool:
        """Half-open: in force from approval, up to (not at) expiry or revocation."""
        return self.approved_at <= moment < self.ended_at

    def lapse_reason(self, moment: datetime) -> AccessReason | None:
        """Why this grant no longer covered ``moment``; None if it had not ended by then."""
        if self.ended_at > moment:
            return None
        if self.revoked_at is not None and self.revoked_at < self.expires_at:
            return AccessReason.GRANT_REVOKED
        return AccessReason.GRANT_EXPIRED


@dataclass(frozen=True)
class SharingReadModel:
    """Catalogue by code, grants by id and by (department, resource code)."""

    resources: Mapping[str, ResourceTerms]
    grants: Mapping[UUID, GrantTerms]
    grants_by_user: Mapping[tuple[str, str], Sequence[GrantTerms]] = field(repr=False)

    @classmethod
    def build(
        cls, resources: Iterable[ResourceTerms], grants: Iterable[GrantTerms]
    ) -> SharingReadModel:
        by_user: defaultdict[tuple[str, str], list[GrantTerms]] = defaultdict(list)
        by_id: dict[UUID, GrantTerms] = {}
        for grant in grants:
            by_id[grant.grant_id] = grant
            by_user[grant.department, grant.resource_code].append(grant)
        return cls({r.code: r for r in resources}, by_id, dict(by_user))


def same_purpose(stated: str | None, granted: str) -> bool:
    """Purposes are free text today: compare ignoring case and surrounding/inner spacing."""
    if stated is None:
        return False
    return stated == granted or _normalised(stated) == _normalised(granted)


@lru_cache(maxsize=4096)
def _normalised(purpose: str) -> str:
    """A platform repeats a handful of purposes across millions of accesses: cached."""
    return " ".join(purpose.split()).casefold()


def _candidate_grants(access: AccessReport, model: SharingReadModel) -> Sequence[GrantTerms]:
    """The quoted grant if it is this department's for this resource; else all of theirs.

    A quoted grant of another department or resource covers nothing (S2).
    """
    user = (access.department, access.resource_code)
    if access.grant_id is None:
        return model.grants_by_user.get(user, ())
    quoted = model.grants.get(access.grant_id)
    if quoted is None or (quoted.department, quoted.resource_code) != user:
        return ()
    return (quoted,)


def _within_grant(access: AccessReport, grant: GrantTerms) -> tuple[AccessReason, ...]:
    """S3 and S4 (and P1's 'beyond the grant's purpose') against one grant in force."""
    reasons: list[AccessReason] = []
    if not grant.items.issuperset(access.items):
        reasons.append(AccessReason.ITEMS_BEYOND_GRANT)
    if not same_purpose(access.purpose, grant.purpose):
        reasons.append(AccessReason.PURPOSE_MISMATCH)
    return tuple(reasons)


def _lapse(grants: Sequence[GrantTerms], moment: datetime) -> AccessReason:
    """S2's reason: that of the grant which ended last before ``moment``, else no grant."""
    lapses = [
        (grant.ended_at, reason)
        for grant in grants
        if (reason := grant.lapse_reason(moment)) is not None
    ]
    return max(lapses, key=itemgetter(0))[1] if lapses else AccessReason.NO_GRANT


def _conditional_reasons(access: AccessReport, model: SharingReadModel) -> tuple[AccessReason, ...]:
    candidates = _candidate_grants(access, model)
    in_force = [g for g in candidates if g.in_force_at(access.accessed_at)]
    if not in_force:
        return (_lapse(candidates, access.accessed_at),)
    if len(in_force) == 1:  # the common case: the platform quoted the grant
        return _within_grant(access, in_force[0])
    # With several grants in force, judge against the one that fits best.
    return min((_within_grant(access, g) for g in in_force), key=len)


def _sensitive_without_purpose(access: AccessReport, resource: ResourceTerms) -> bool:
    """P1 (PIPL §28): sensitive_personal items read with no recorded purpose."""
    touches = not resource.sensitive_personal_items.isdisjoint(access.items)
    return touches and not (access.purpose or "").strip()


def evaluate_access(access: AccessReport, model: SharingReadModel) -> AccessVerdict:
    """The verdict for one access, judged at ``access.accessed_at`` (business time)."""
    moment = access.accessed_at
    resource = model.resources.get(access.resource_code)
    if resource is None:
        return AccessVerdict.refuse(AccessReason.UNKNOWN_RESOURCE)
    if access.department == resource.provider_department:
        return AUTHORIZED  # ownership stays with the provider (51号); no grant needed
    sharing = resource.sharing_type_at(moment)
    reasons: tuple[AccessReason, ...] = ()
    if sharing is SharingType.NOT_SHAREABLE:
        reasons = (AccessReason.RESOURCE_NOT_SHAREABLE,)
    elif sharing is SharingType.CONDITIONAL:
        reasons = _conditional_reasons(access, model)
    if _sensitive_without_purpose(access, resource):
        # P1 stands on its own: beside S1, with or without a grant in force.
        reasons = (*reasons, AccessReason.PURPOSE_MISMATCH)
    return AccessVerdict(reasons) if reasons else AUTHORIZED


class Evaluator:
    """:func:`evaluate_access` against one model that does not change, remembering verdicts.

    A platform's batch repeats a few (resource, department, quoted grant, items,
    purpose) many times, and the verdict depends on nothing else but the access's
    time, and on that only through which candidate grants had begun or ended by
    then: it is the same between one grant's start or end and the next (the
    verdict's *stretch*). So each verdict is kept with its stretch, and an access
    alike in those five and inside the stretch gets it without being judged
    again. The judgment itself stays :func:`evaluate_access`'s alone.

    Only for a model nobody changes in place (``projections.sharing_terms``
    builds a new one on every change); a model whose mappings are updated in
    place (the demo's) is judged with :func:`evaluate_access` itself.
    """

    MEMO_LIMIT = 4096  # forgotten whole past this: a platform names few combinations

    def __init__(self, model: SharingReadModel) -> None:
        self.model = model
        self._memo: dict[tuple[object, ...], tuple[AccessVerdict, Stretch]] = {}

    def __call__(self, access: AccessReport) -> AccessVerdict:
        items = access.items
        if type(items) is not tuple:  # e.g. a list: not a key; judged as it is
            return evaluate_access(access, self.model)
        key = (access.resource_code, access.department, access.grant_id, items, access.purpose)
        moment = access.accessed_at
        known = self._memo.get(key)
        if known is not None:
            verdict, (start, end) = known
            if (start is None or start <= moment) and (end is None or moment < end):
                return verdict
        verdict = evaluate_access(access, self.model)
        if len(self._memo) >= self.MEMO_LIMIT:
            self._memo.clear()
        self._memo[key] = (verdict, _stretch(access, self.model))
        return verdict


# From (inclusive) and until (exclusive); None: unbounded on that side.
Stretch = tuple[datetime | None, datetime | None]


def _stretch(access: AccessReport, model: SharingReadModel) -> Stretch:
    """The times around ``access.accessed_at`` at which the resource is not reclassified
    and no candidate grant begins or ends: ``sharing_type_at``, ``in_force_at`` and
    ``lapse_reason`` give the same answers all through it."""
    resource = model.resources.get(access.resource_code)
    if resource is None:
        return (None, None)  # the verdict does not depend on time
    edges: list[datetime] = list(resource.edges())
    if resource.sharing_type is SharingType.CONDITIONAL or any(
        sharing is SharingType.CONDITIONAL for _, sharing in resource.classified
    ):
        for grant in _candidate_grants(access, model):
            edges += (grant.approved_at, grant.ended_at)
    moment = access.accessed_at
    start: datetime | None = None
    end: datetime | None = None
    for edge in edges:
        if edge <= moment:
            start = edge if start is None else max(start, edge)
        else:
            end = edge if end is None else min(end, edge)
    return (start, end)


def resource_terms(resource: Resource) -> ResourceTerms:
    return ResourceTerms(
        code=resource.code,
        provider_department=resource.provider_department,
        sharing_type=resource.sharing_type,
        sensitive_personal_items=resource.items_with(Sensitivity.SENSITIVE_PERSONAL),
        classified=resource.classified,
    )


def grant_terms(request: SharingRequest) -> GrantTerms | None:
    """The grant an approved (possibly since revoked or expired) request gave; else None."""
    granted = {RequestStatus.APPROVED, RequestStatus.REVOKED, RequestStatus.EXPIRED}
    if request.status not in granted or request.expires_at is None:
        return None
    assert request.decided_at is not None  # set with the approval
    return GrantTerms(
        grant_id=request.id,
        department=request.requester_department,
        resource_code=request.resource_code,
        items=frozenset(request.granted_items),
        purpose=request.purpose,
        approved_at=request.decided_at,
        expires_at=request.expires_at,
        revoked_at=request.revoked_at,
    )
