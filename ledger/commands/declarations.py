"""The one command of the declared records (ledger/domain/declarations.py; docs/facts.md §11).

Who may declare each kind — the role that owns the fact, as the other issue-14 facts
(separation of duties: a department does not clear a finding against itself):

- ``system_unit``: 区发改局 (``ndrc``) only. It runs the 专项调查 (seed §三(一)1) and
  the finding (I8) is against the department; the department clears it by merging
  the system into its 大系统 or decommissioning it, which it records itself.
- ``self_inspection``: the department's clerk or CIO, for its own department (the
  report is the department's, sent to 区发改局).
- ``classified_protection``: the system's department (clerk or CIO) or 区网信办
  (``security_officer``), as MLPS is recorded beside it.
- ``resource_cloud``: the provider's clerk, data provider or CIO, or 区发改局 (which
  leads 上云, seed §三(二)7).
- ``service_cloud``: the department's clerk or CIO, or 区发改局 (§三(二)8).

What a declaration names must exist (the system, department or resource; the
systems a self-inspection lists must be the department's). The same declaration
again answers its id; other content under the same reference is ``record_exists``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.commands.obligations import DEPARTMENT_STAFF
from ledger.commands.security_facts import SecurityFactsCommands
from ledger.domain.actor import Actor, Role
from ledger.domain.declarations import SUBJECT_FIELD, Declaration, DeclarationKind
from ledger.domain.errors import DomainError, ErrorCode
from ledger.domain.values import parse_enum

_K = DeclarationKind
# kind -> roles that may declare it; None in the department column: not department-bound.
DECLARERS: dict[DeclarationKind, frozenset[Role]] = {
    _K.SYSTEM_UNIT: frozenset({Role.NDRC}),
    _K.SELF_INSPECTION: DEPARTMENT_STAFF,
    _K.CLASSIFIED_PROTECTION: DEPARTMENT_STAFF | {Role.SECURITY_OFFICER},
    _K.RESOURCE_CLOUD: DEPARTMENT_STAFF | {Role.DATA_PROVIDER, Role.NDRC},
    _K.SERVICE_CLOUD: DEPARTMENT_STAFF | {Role.NDRC},
}


class DeclarationCommands(SecurityFactsCommands):
    """``declare``: one declared record of any kind."""

    def declare(self, actor: Actor, kind: str | DeclarationKind, **fields: Any) -> UUID:
        """Record ``kind`` with the fields ``ledger.domain.fact_intake.KINDS[kind]`` decodes."""
        kind = parse_enum(DeclarationKind, str(kind), "kind")
        self._require_role(actor, DECLARERS[kind], f"declare {kind.value}")
        subject_value = fields.pop(SUBJECT_FIELD[kind])
        department = self._subject_department(kind, subject_value)
        self._check_acts_for(actor, department)
        if kind is _K.SELF_INSPECTION:
            for system_id in (*fields.get("to_integrate", ()), *fields.get("to_connect", ())):
                if self.system(system_id).department != department:
                    raise DomainError(
                        ErrorCode.DEPARTMENT_MISMATCH,
                        f"system {system_id} is not {department}'s",
                    )
        reference = fields.pop("reference")
        evidence = fields.pop("evidence", "")
        at = self.business_time(fields.pop("declared_at", None), "declared_at")
        subject = subject_value.hex if isinstance(subject_value, UUID) else str(subject_value)
        record = Declaration.declare(
            actor, kind, subject, reference=reference, content=fields, evidence=evidence,
            declared_at=at,
        )  # fmt: skip
        return self._save_once(record, "declared_at")

    def _subject_department(self, kind: DeclarationKind, subject: Any) -> str:
        """The department the subject belongs to (it must exist)."""
        field = SUBJECT_FIELD[kind]
        if field == "system_id":
            return str(self.system(subject).department)
        if field == "resource_code":
            return str(self.resource(subject).provider_department)
        self._require_department(subject)
        return str(subject)
