import pytest

from ledger.domain import AccessReason, AccessVerdict, Actor, DomainError, ErrorCode, Role
from ledger.domain.transcodings import ActorAsDict
from ledger.errors import LedgerError


def test_domain_error_is_a_ledger_error_with_a_machine_code():
    error = DomainError(ErrorCode.NOT_SHAREABLE, "R-1 is not_shareable")
    assert isinstance(error, LedgerError)
    assert error.code == "not_shareable"
    assert str(error) == "not_shareable: R-1 is not_shareable"


def test_actor_role_given_as_text_becomes_the_enum():
    actor = Actor("u1", "ndrc", None)  # type: ignore[arg-type]
    assert actor.role is Role.NDRC


@pytest.mark.parametrize(
    ("actor_id", "role", "department"),
    [
        ("", Role.NDRC, None),
        ("u1", "mayor", None),
        ("u1", Role.DEPARTMENT_CLERK, None),  # department-bound role needs a department
        ("u1", Role.DATA_PROVIDER, ""),
    ],
)
def test_malformed_actors_are_refused(actor_id, role, department):
    with pytest.raises(DomainError) as caught:
        Actor(actor_id, role, department)
    assert caught.value.code is ErrorCode.INVALID_ACTOR


def test_verdict_is_authorized_iff_it_has_no_reasons():
    assert AccessVerdict.authorize().authorized
    refused = AccessVerdict.refuse(AccessReason.NO_GRANT)
    assert not refused.authorized
    assert refused.reasons == (AccessReason.NO_GRANT,)


def test_verdict_reasons_are_distinct_and_sorted_so_equal_verdicts_are_equal():
    one = AccessVerdict((AccessReason.PURPOSE_MISMATCH, AccessReason.ITEMS_BEYOND_GRANT))
    other = AccessVerdict(
        (AccessReason.ITEMS_BEYOND_GRANT, AccessReason.PURPOSE_MISMATCH, "purpose_mismatch")  # type: ignore[arg-type]
    )
    assert one == other
    assert one.reasons == (AccessReason.ITEMS_BEYOND_GRANT, AccessReason.PURPOSE_MISMATCH)


def test_verdict_outside_the_closed_reason_set_is_refused():
    with pytest.raises(DomainError) as caught:
        AccessVerdict(("looked_suspicious",))  # type: ignore[arg-type]
    assert caught.value.code is ErrorCode.INVALID_VALUE
    with pytest.raises(DomainError):
        AccessVerdict.refuse()


def test_stored_actor_loads_even_if_it_would_now_be_refused():
    """History must load after a rule tightens: decoding does not re-validate."""
    stored = {
        "actor_id": "",
        "role": "cio",
        "department_code": None,
        "client_address": None,
        "request_id": "r-1",
    }
    actor = ActorAsDict().decode(stored)
    assert (actor.actor_id, actor.role, actor.request_id) == ("", Role.CIO, "r-1")
    assert ActorAsDict().encode(actor) == stored
