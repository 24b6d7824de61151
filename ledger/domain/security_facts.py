"""Facts 《网络数据安全管理条例》 第三十三条 asks the annual risk report to state (issue 15).

The 网络数据安全负责人 and contact of a department or of the zone (not the CIO:
the CIO runs informatisation, the lead answers for data security); a catalogue
resource's storage period and location; and a system's technical measures
(encryption, backup, labelling, access control, authentication — each in place or
not, with a description). Each is declared under a reference (the appointment
or filing document), so a later declaration supersedes the earlier one and the
views keep the latest by business time (docs/facts.md §10). Natural ids: the same
declaration again is one record (ledger/commands/security_facts.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.domain import bounds
from ledger.domain.actor import Actor
from ledger.domain.bounds import BoundsError
from ledger.domain.obligations import natural_id

MEASURES = ("encryption", "backup", "labelling", "access_control", "authentication")
ZONE_SCOPE = "zone"


class SecurityLead(Aggregate):
    """网络数据安全负责人 of a department (``scope`` its code) or of the zone (``zone``)."""

    class Appointed(Aggregate.Created):
        actor: Actor
        scope: str
        reference: str
        name: str
        contact: str
        appointed_at: datetime

    @staticmethod
    def create_id(scope: str, reference: str) -> UUID:
        return natural_id("security_lead", scope, reference)

    @classmethod
    def record(cls, actor: Actor, **fields: Any) -> SecurityLead:
        record_id = cls.create_id(fields["scope"], fields["reference"])
        return cls._create(cls.Appointed, id=record_id, actor=actor, **fields)

    @event(Appointed)
    def __init__(
        self,
        *,
        actor: Actor,
        scope: str,
        reference: str,
        name: str,
        contact: str,
        appointed_at: datetime,
    ) -> None:
        self.scope = scope
        self.reference = reference
        self.name = name
        self.contact = contact
        self.appointed_at = appointed_at


class ResourceStorage(Aggregate):
    """A catalogue resource's storage period (e.g. 长期, 5年) and storage location."""

    class Declared(Aggregate.Created):
        actor: Actor
        resource_code: str
        reference: str
        storage_period: str
        storage_location: str
        declared_at: datetime

    @staticmethod
    def create_id(resource_code: str, reference: str) -> UUID:
        return natural_id("resource_storage", resource_code, reference)

    @classmethod
    def record(cls, actor: Actor, **fields: Any) -> ResourceStorage:
        record_id = cls.create_id(fields["resource_code"], fields["reference"])
        return cls._create(cls.Declared, id=record_id, actor=actor, **fields)

    @event(Declared)
    def __init__(
        self,
        *,
        actor: Actor,
        resource_code: str,
        reference: str,
        storage_period: str,
        storage_location: str,
        declared_at: datetime,
    ) -> None:
        self.resource_code = resource_code
        self.reference = reference
        self.storage_period = storage_period
        self.storage_location = storage_location
        self.declared_at = declared_at


class SystemMeasures(Aggregate):
    """A system's technical measures: ``measures`` maps each of MEASURES to
    ``{"in_place": bool, "description": str}``."""

    class Declared(Aggregate.Created):
        actor: Actor
        system_id: UUID
        reference: str
        measures: dict[str, Any]
        declared_at: datetime

    @staticmethod
    def create_id(system_id: UUID, reference: str) -> UUID:
        return natural_id("system_measures", system_id, reference)

    @classmethod
    def record(cls, actor: Actor, **fields: Any) -> SystemMeasures:
        record_id = cls.create_id(fields["system_id"], fields["reference"])
        return cls._create(cls.Declared, id=record_id, actor=actor, **fields)

    @event(Declared)
    def __init__(
        self,
        *,
        actor: Actor,
        system_id: UUID,
        reference: str,
        measures: dict[str, Any],
        declared_at: datetime,
    ) -> None:
        self.system_id = system_id
        self.reference = reference
        self.measures = measures
        self.declared_at = declared_at


def read_measures(value: object, field: str) -> dict[str, Any]:
    """``measures`` of a body or import line: every one of MEASURES, each
    ``{"in_place": bool, "description": text}`` (the description may say why not)."""
    if not isinstance(value, dict):
        raise BoundsError(field, f"expected an object with {', '.join(MEASURES)}")
    if set(value) != set(MEASURES):
        raise BoundsError(field, f"expected exactly the keys {', '.join(MEASURES)}")
    read: dict[str, Any] = {}
    for name in MEASURES:
        entry = value[name]
        if not isinstance(entry, dict) or set(entry) != {"in_place", "description"}:
            raise BoundsError(f"{field}.{name}", 'expected {"in_place", "description"}')
        if not isinstance(entry["in_place"], bool):
            raise BoundsError(f"{field}.{name}.in_place", "expected true or false")
        description = bounds.text(entry["description"], f"{field}.{name}.description")
        read[name] = {"in_place": entry["in_place"], "description": description}
    return read
