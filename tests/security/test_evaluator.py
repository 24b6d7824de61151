"""The remembering evaluator (security/access.py ``Evaluator``) gives exactly the verdicts
of ``evaluate_access``, whatever order the accesses come in: at, just before and just after
every grant's start, expiry and revocation and a resource's registration and
reclassifications, quoted grant or not, on every kind of resource."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain import AccessReport
from security.access import Evaluator, evaluate_access
from tests.security.test_access import (
    CIVIL_REVOKED,
    DAY,
    EDU_EXPIRED,
    EDU_RENEWED,
    HRB_GRANT,
    HRB_RECLASS,
    MODEL,
    PURPOSE,
    RECLASSIFIED,
    T0,
    access,
)

GRANTS = [HRB_GRANT, CIVIL_REVOKED, EDU_EXPIRED, EDU_RENEWED, HRB_RECLASS]
EDGES = sorted(
    {edge for g in GRANTS for edge in (g.approved_at, g.expires_at, g.revoked_at) if edge}
    | set(RECLASSIFIED.edges())  # registration and reclassifications
)
TICK = timedelta(microseconds=1)
TIMES = st.one_of(
    st.sampled_from([edge + shift for edge in EDGES for shift in (-TICK, 0 * TICK, TICK)]),
    st.integers(-5 * 86_400, 70 * 86_400).map(lambda s: T0 + timedelta(seconds=s)),
)
ACCESSES = st.builds(
    access,
    department=st.sampled_from(["HRB", "CIVIL", "EDU", "FIN", "PSB", "MKT"]),
    resource=st.sampled_from(["R-POP", "R-LICENCE", "R-SECRET", "R-RECLASS", "R-NONE"]),
    items=st.sampled_from([("name",), ("name", "id_no"), ("address",), ("rep_id_no",)]),
    purpose=st.sampled_from([PURPOSE, "aid", "enrolment", "marketing", None, " "]),
    at=TIMES,
    grant=st.sampled_from([None, *(g.grant_id for g in GRANTS)]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(ACCESSES, min_size=1, max_size=60))
def test_remembered_verdicts_are_the_evaluators(accesses: list[AccessReport]) -> None:
    evaluate = Evaluator(MODEL)
    for report in accesses * 2:  # the second round answers from what was remembered
        assert evaluate(report) == evaluate_access(report, MODEL), report


def test_a_verdict_is_not_carried_past_a_grants_end() -> None:
    evaluate = Evaluator(MODEL)
    before, at_end = access(at=T0 + 30 * DAY - TICK), access(at=T0 + 30 * DAY)
    assert evaluate(before).authorized
    assert not evaluate(at_end).authorized  # the same five fields, another stretch
    assert (
        evaluate(access(at=T0 - TICK)).reasons
        == evaluate_access(access(at=T0 - TICK), MODEL).reasons
    )


def test_a_verdict_is_not_carried_past_a_reclassification() -> None:
    evaluate = Evaluator(MODEL)
    moved = RECLASSIFIED.classified[1][0]  # not_shareable from here
    assert evaluate(access(resource="R-RECLASS", at=moved - TICK)).authorized
    assert not evaluate(access(resource="R-RECLASS", at=moved)).authorized
