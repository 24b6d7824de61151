"""Commands declaring the facts of 《网络数据安全管理条例》 第三十三条 (docs/facts.md §10).

Who may declare (the HTTP gate is security/policy.py ``declare_security_facts``;
this is the check for the Python API and ``govledger import``): a department's
网络数据安全负责人 by 区网信办 (``security_officer``) or by that department's clerk
or CIO, the zone's only by 区网信办; a resource's storage by its provider's
clerk, data provider or CIO; a system's measures by its department's clerk or CIO.
Each has a natural id (kind, subject, reference): the same declaration again
answers its id, other content under the same reference is ``record_exists``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.commands.obligations import DEPARTMENT_STAFF, ObligationCommands
from ledger.domain.actor import Actor, Role
from ledger.domain.security_facts import (
    ZONE_SCOPE,
    ResourceStorage,
    SecurityLead,
    SystemMeasures,
)

_LEAD_ROLES = DEPARTMENT_STAFF | {Role.SECURITY_OFFICER}
_STORAGE_ROLES = DEPARTMENT_STAFF | {Role.DATA_PROVIDER}


class SecurityFactsCommands(ObligationCommands):
    """``appoint_security_lead``, ``declare_resource_storage``, ``declare_system_measures``."""

    def appoint_security_lead(self, actor: Actor, **fields: Any) -> UUID:
        """网络数据安全负责人 and contact of a department or of the zone (not the CIO)."""
        scope = fields["scope"]
        if scope == ZONE_SCOPE:
            self._require_role(actor, {Role.SECURITY_OFFICER}, "appoint the zone's security lead")
        else:
            self._require_role(actor, _LEAD_ROLES, "appoint a security lead")
            self._check_acts_for(actor, scope)
            self._require_department(scope)
        fields["appointed_at"] = self.business_time(fields.get("appointed_at"), "appointed_at")
        return self._save_once(SecurityLead.record(actor, **fields), "appointed_at")

    def declare_resource_storage(self, actor: Actor, **fields: Any) -> UUID:
        """Storage period and location of a catalogue resource, by its provider."""
        self._require_role(actor, _STORAGE_ROLES, "declare a resource's storage")
        resource = self.resource(fields["resource_code"])
        self._check_acts_for(actor, resource.provider_department)
        fields["declared_at"] = self.business_time(fields.get("declared_at"), "declared_at")
        return self._save_once(ResourceStorage.record(actor, **fields), "declared_at")

    def declare_system_measures(self, actor: Actor, system_id: UUID, **fields: Any) -> UUID:
        """A system's technical measures, by its department."""
        self._require_role(actor, DEPARTMENT_STAFF, "declare a system's measures")
        system = self.system(system_id)
        self._check_acts_for(actor, system.department)
        fields["declared_at"] = self.business_time(fields.get("declared_at"), "declared_at")
        record = SystemMeasures.record(actor, system_id=system_id, **fields)
        return self._save_once(record, "declared_at")
