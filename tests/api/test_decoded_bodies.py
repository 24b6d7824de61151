"""The bodies of filings, reviews, acceptances, fund decisions and CIOs are read by their
kind's one decoder (ledger/domain/fact_intake.py), as an ``import`` line is (issue 14).

Each valid body is bent in one field at a time — left out, null, of another JSON
type, too long, out of range, not one of the allowed values, a time without an
offset — plus one unknown field. The API's body model (api/schemas.py) and the
import decoder must take and refuse the same objects, and read a taken one alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel, ValidationError

from api.schemas import AcceptIn, CioIn, Decoded, FilingIn, FundDecisionIn, ReviewIn
from ledger.domain import bounds
from ledger.domain.bounds import BoundsError
from ledger.domain.fact_intake import record_fields

SYSTEM = "8c1f5f6e-2a8e-4a53-9a0e-3d7a2f0b9c11"
WHEN = "2025-03-02T10:00:00+08:00"
VALID: dict[type[Decoded], dict[str, Any]] = {
    CioIn: {"cio_name": "王明", "cio_actor_id": "hrb-cio", "occurred_at": WHEN},
    AcceptIn: {"accepted_at": WHEN},
    ReviewIn: {"approved": False, "architecture_review": "重复建设", "occurred_at": WHEN},
    FilingIn: {
        "name": "区人社业务系统升级",
        "builder": "HRB",
        "investment_fen": 120_000_000,
        "om_cost_fen": 0,
        "funding_channel": "区级财政资金",
        "resource_codes": ["R-POP"],
        "system_ids": [SYSTEM],
        "mlps_filed": True,
        "catalogue_preregistered": False,
        "occurred_at": WHEN,
    },
    FundDecisionIn: {
        "kind": "om_funds",
        "year": 2025,
        "department": "HRB",
        "amount_fen": 8_000_000,
        "outcome": "granted",
        "rationale": "年度运维",
        "system_id": SYSTEM,
        "project_name": "",
        "filing_id": None,
        "decided_at": WHEN,
    },
}
BENT: tuple[object, ...] = (
    None,
    "",
    " ",
    "x" * (bounds.MAX_TEXT + 1),
    "bad code!",
    "2025-03-02T10:00:00",  # no offset
    "1900-01-01T00:00:00+08:00",
    -1,
    bounds.MAX_FEN + 1,
    1999,
    2.5,
    True,
    "true",
    "5",
    [],
    ["x"],
    {},
    "misc",
)


def _bodies() -> Iterator[tuple[type[Decoded], dict[str, Any]]]:
    for model, valid in VALID.items():
        yield model, valid
        yield model, {**valid, "unknown": 1}
        for name in valid:
            yield model, {k: v for k, v in valid.items() if k != name}
            for value in BENT:
                yield model, {**valid, name: value}


def _plain(value: object) -> object:
    """A decoded value as the model's dump has it (lists, strings of enums)."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value.value if hasattr(value, "value") and not isinstance(value, UUID) else value


CASES = list(_bodies())


@pytest.mark.parametrize(("model", "body"), CASES, ids=[f"{m.__name__}-{i}" for i, (m, _) in
                                                       enumerate(CASES)])  # fmt: skip
def test_the_api_body_and_the_import_line_agree(
    model: type[BaseModel], body: dict[str, Any]
) -> None:
    kind = model.fact_kind  # type: ignore[attr-defined]
    try:
        decoded = record_fields(kind, body)
    except BoundsError:
        with pytest.raises(ValidationError):
            model.model_validate(body)
        return
    taken = model.model_validate(body).model_dump(exclude_unset=True)
    assert {k: _plain(v) for k, v in taken.items()} == {k: _plain(v) for k, v in decoded.items()}


def test_every_valid_body_is_taken() -> None:
    for model, body in VALID.items():
        model.model_validate(body)  # the bent cases above are measured against these
        record_fields(model.fact_kind, body)
