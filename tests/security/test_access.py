"""Access evaluation: reason codes for S1–S5 and P1, judged at the access time."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

import pytest

from ledger.application import GovLedger
from ledger.domain import AccessReason, AccessReport, SharingType
from security.access import (
    GrantTerms,
    ResourceTerms,
    SharingReadModel,
    evaluate_access,
    grant_terms,
    resource_terms,
)
from tests.ledger.domain.builders import (
    NDRC,
    PROVIDER,
    PROVIDER_DEPT,
    USER,
    USER_DEPT,
    FakeClock,
    population_entry,
)

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)
PURPOSE = "social insurance eligibility"

POP = ResourceTerms("R-POP", "PSB", SharingType.CONDITIONAL, frozenset({"id_no"}))
OPEN = ResourceTerms("R-LICENCE", "MKT", SharingType.UNCONDITIONAL, frozenset({"rep_id_no"}))
SECRET = ResourceTerms("R-SECRET", "STATE", SharingType.NOT_SHAREABLE)
# Registered conditional at T0, not_shareable from T0 + 20 days, unconditional from
# T0 + 40 days (each in force from its business time).
RECLASSIFIED = ResourceTerms(
    "R-RECLASS", "PSB", SharingType.UNCONDITIONAL, frozenset({"id_no"}),
    classified=((T0, SharingType.CONDITIONAL), (T0 + 20 * DAY, SharingType.NOT_SHAREABLE),
                (T0 + 40 * DAY, SharingType.UNCONDITIONAL)),
)  # fmt: skip

HRB_GRANT = GrantTerms(
    UUID(int=1), "HRB", "R-POP", frozenset({"name", "id_no"}), PURPOSE, T0, T0 + 30 * DAY
)
CIVIL_REVOKED = GrantTerms(
    UUID(int=2), "CIVIL", "R-POP", frozenset({"name"}), "aid", T0, T0 + 30 * DAY, T0 + 10 * DAY
)
EDU_EXPIRED = GrantTerms(
    UUID(int=3), "EDU", "R-POP", frozenset({"name"}), "enrolment", T0, T0 + 5 * DAY
)
EDU_RENEWED = GrantTerms(
    UUID(int=4), "EDU", "R-POP", frozenset({"name"}), "enrolment", T0 + 7 * DAY, T0 + 60 * DAY
)
HRB_RECLASS = GrantTerms(
    UUID(int=6), "HRB", "R-RECLASS", frozenset({"name"}), PURPOSE, T0 + DAY, T0 + 60 * DAY
)

MODEL = SharingReadModel.build(
    [POP, OPEN, SECRET, RECLASSIFIED],
    [HRB_GRANT, CIVIL_REVOKED, EDU_EXPIRED, EDU_RENEWED, HRB_RECLASS],
)


def access(
    department: str = "HRB",
    resource: str = "R-POP",
    items: tuple[str, ...] = ("name",),
    purpose: str | None = PURPOSE,
    at: datetime = T0 + DAY,
    grant: UUID | None = None,
) -> AccessReport:
    return AccessReport(
        platform_event_id="ev",
        accessor_id="officer",
        department=department,
        system=None,
        resource_code=resource,
        items=items,
        row_count=1,
        purpose=purpose,
        grant_id=grant,
        client_address=None,
        accessed_at=at,
    )


R = AccessReason
CASES = [
    ("within the grant", access(), ()),
    ("within the grant, quoting it", access(grant=HRB_GRANT.grant_id), ()),
    (
        "purpose differs only in case and spacing",
        access(purpose="  Social  Insurance eligibility"),
        (),
    ),
    ("items beyond the grant (S3)", access(items=("name", "address")), (R.ITEMS_BEYOND_GRANT,)),
    ("purpose mismatch (S4)", access(purpose="marketing"), (R.PURPOSE_MISMATCH,)),
    (
        "items and purpose both wrong",
        access(items=("address",), purpose="marketing"),
        (R.ITEMS_BEYOND_GRANT, R.PURPOSE_MISMATCH),
    ),
    ("no grant at all (S2)", access(department="FIN"), (R.NO_GRANT,)),
    ("before the grant was approved", access(at=T0 - DAY), (R.NO_GRANT,)),
    ("at the very moment of expiry", access(at=T0 + 30 * DAY), (R.GRANT_EXPIRED,)),
    (
        "revoked, then past its expiry",
        access(department="CIVIL", purpose="aid", at=T0 + 40 * DAY),
        (R.GRANT_REVOKED,),
    ),
    (
        "expired, before the renewal",
        access(department="EDU", purpose="enrolment", at=T0 + 6 * DAY),
        (R.GRANT_EXPIRED,),
    ),
    ("renewed grant in force", access(department="EDU", purpose="enrolment", at=T0 + 8 * DAY), ()),
    (
        "just before revocation",
        access(department="CIVIL", purpose="aid", at=T0 + 10 * DAY - timedelta(seconds=1)),
        (),
    ),
    (
        "at revocation",
        access(department="CIVIL", purpose="aid", at=T0 + 10 * DAY),
        (R.GRANT_REVOKED,),
    ),
    ("quoting another department's grant", access(grant=CIVIL_REVOKED.grant_id), (R.NO_GRANT,)),
    ("quoting an unknown grant", access(grant=UUID(int=99)), (R.NO_GRANT,)),
    ("not shareable (S1)", access(resource="R-SECRET"), (R.RESOURCE_NOT_SHAREABLE,)),
    ("unknown resource (S5)", access(resource="R-GHOST"), (R.UNKNOWN_RESOURCE,)),
    ("own department, not shareable", access(department="STATE", resource="R-SECRET"), ()),
    (
        "own department, conditional, no grant, no purpose",
        access(department="PSB", items=("id_no",), purpose=None),
        (),
    ),
    (
        "unconditional needs no grant",
        access(department="FIN", resource="R-LICENCE", items=("name",), purpose=None),
        (),
    ),
    (
        "unconditional sensitive_personal without purpose (P1)",
        access(department="FIN", resource="R-LICENCE", items=("rep_id_no",), purpose=" "),
        (R.PURPOSE_MISMATCH,),
    ),
    (
        "sensitive_personal with no purpose under a grant (P1)",
        access(items=("id_no",), purpose=None),
        (R.PURPOSE_MISMATCH,),
    ),
    (
        "sensitive_personal, no grant, no purpose (S2 and P1)",
        access(department="FIN", items=("id_no",), purpose=None),
        (R.NO_GRANT, R.PURPOSE_MISMATCH),
    ),
    (
        "sensitive_personal, no purpose, not shareable (S1 and P1)",
        access(resource="R-RECLASS", items=("id_no",), purpose=None, at=T0 + 21 * DAY),
        (R.RESOURCE_NOT_SHAREABLE, R.PURPOSE_MISMATCH),
    ),
    (
        "registered, conditional, no grant yet (S2)",
        access(resource="R-RECLASS", at=T0),
        (R.NO_GRANT,),
    ),
    ("conditional then, granted", access(resource="R-RECLASS", at=T0 + 20 * DAY - TICK), ()),
    (
        "not shareable from the reclassification's time (S1)",
        access(resource="R-RECLASS", at=T0 + 20 * DAY),
        (R.RESOURCE_NOT_SHAREABLE,),
    ),
    (
        "unconditional since, no grant needed",
        access(department="FIN", resource="R-RECLASS", purpose=None, at=T0 + 40 * DAY),
        (),
    ),
]


@pytest.mark.parametrize(
    ("report", "reasons"), [pytest.param(a, r, id=name) for name, a, r in CASES]
)
def test_verdict_reasons(report: AccessReport, reasons: tuple[AccessReason, ...]):
    verdict = evaluate_access(report, MODEL)
    assert set(verdict.reasons) == set(reasons)
    assert verdict.authorized is (not reasons)


def test_best_fitting_grant_in_force_decides():
    wider = replace(HRB_GRANT, grant_id=UUID(int=5), items=frozenset({"name", "address"}))
    model = SharingReadModel.build([POP], [HRB_GRANT, wider])
    assert evaluate_access(access(items=("address",)), model).authorized


def test_verdict_follows_the_ledger_grant_before_and_after_revocation():
    """Read model built from aggregates: approved, accessed, revoked, accessed again."""
    clock = FakeClock(now=T0)
    app = GovLedger(clock=clock)
    app.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    app.register_department(NDRC, USER_DEPT, "区人社局")
    app.register_resource(PROVIDER, population_entry())
    request_id = app.submit_request(
        USER,
        requester_department=USER_DEPT,
        resource_code="R-POP",
        items=["name"],
        purpose=PURPOSE,
        legal_basis="社会保险法",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 12, 31),
    )
    app.approve_request(PROVIDER, request_id, ["name"], T0 + 30 * DAY)
    clock.advance(days=5)
    app.revoke_grant(PROVIDER, request_id, "misuse")

    grant = grant_terms(app.request(request_id))
    assert grant is not None and grant.revoked_at == T0 + 5 * DAY
    model = SharingReadModel.build([resource_terms(app.resource("R-POP"))], [grant])
    assert evaluate_access(access(at=T0 + DAY, grant=request_id), model).authorized
    assert evaluate_access(access(at=T0 + 6 * DAY, grant=request_id), model).reasons == (
        AccessReason.GRANT_REVOKED,
    )


def test_pending_request_gives_no_grant():
    app = GovLedger(clock=FakeClock(now=T0))
    app.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    app.register_department(NDRC, USER_DEPT, "区人社局")
    app.register_resource(PROVIDER, population_entry())
    request_id = app.submit_request(
        USER,
        requester_department=USER_DEPT,
        resource_code="R-POP",
        items=["name"],
        purpose=PURPOSE,
        legal_basis="",
        period_start=date(2026, 3, 1),
        period_end=date(2026, 3, 31),
    )
    assert grant_terms(app.request(request_id)) is None


def test_resource_terms_date_each_classification_by_its_business_time():
    """Resource.Reclassified counts from its ``occurred_at``, not its recording: recorded
    in any order, the classification in force at an access is the last dated before it."""
    clock = FakeClock(now=T0 + 30 * DAY)
    app = GovLedger(clock=clock)
    app.register_department(NDRC, PROVIDER_DEPT, "区公安局")
    app.register_resource(PROVIDER, population_entry(), occurred_at=T0)
    for sharing, when in (
        (SharingType.UNCONDITIONAL, T0 + 20 * DAY),
        (SharingType.NOT_SHAREABLE, T0 + 10 * DAY),  # recorded later, dated earlier
    ):
        app.reclassify_resource(
            PROVIDER, "R-POP", sharing_type=sharing, legal_basis="保密法", share_condition="",
            reason="定密", occurred_at=when,
        )  # fmt: skip
    terms = resource_terms(app.resource("R-POP"))
    assert [terms.sharing_type_at(T0 + d * DAY) for d in (0, 10, 19, 20)] == [
        SharingType.CONDITIONAL, SharingType.NOT_SHAREABLE, SharingType.NOT_SHAREABLE,
        SharingType.UNCONDITIONAL,
    ]  # fmt: skip
