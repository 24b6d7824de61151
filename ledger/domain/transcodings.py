"""JSON transcodings for the domain's value objects (they become hash-chained bytes).

Each encodes to plain JSON with stable key names; changing a name or shape
changes stored bytes and needs a new transcoding name, not an edit.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from ledger.domain.access import AccessReason, AccessVerdict
from ledger.domain.actor import Actor, Role
from ledger.domain.catalogue import ResourceItem, Sensitivity


class ActorAsDict(Transcoding):
    type = Actor
    name = "actor"

    def encode(self, obj: Actor) -> dict[str, Any]:
        return {
            "actor_id": obj.actor_id,
            "role": obj.role.value,
            "department_code": obj.department_code,
            "client_address": obj.client_address,
            "request_id": obj.request_id,
        }

    def decode(self, data: dict[str, Any]) -> Actor:
        # Stored facts are not re-validated: rules may tighten, history must still load.
        actor = object.__new__(Actor)
        for name in ("actor_id", "department_code", "client_address", "request_id"):
            object.__setattr__(actor, name, data[name])
        object.__setattr__(actor, "role", Role(data["role"]))
        return actor


class ResourceItemAsDict(Transcoding):
    type = ResourceItem
    name = "resource_item"

    def encode(self, obj: ResourceItem) -> dict[str, Any]:
        return {"name": obj.name, "sensitivity": obj.sensitivity.value, "base_item": obj.base_item}

    def decode(self, data: dict[str, Any]) -> ResourceItem:
        return ResourceItem(data["name"], Sensitivity(data["sensitivity"]), data["base_item"])


class AccessVerdictAsDict(Transcoding):
    type = AccessVerdict
    name = "access_verdict"

    def encode(self, obj: AccessVerdict) -> dict[str, Any]:
        return {"authorized": obj.authorized, "reasons": [reason.value for reason in obj.reasons]}

    def decode(self, data: dict[str, Any]) -> AccessVerdict:
        return AccessVerdict(tuple(AccessReason(reason) for reason in data["reasons"]))


class DateAsISO(Transcoding):
    """Calendar dates (approval_date, publish_date, response_due) as YYYY-MM-DD."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def register_domain_transcodings(transcoder: JSONTranscoder) -> None:
    for transcoding in (ActorAsDict(), ResourceItemAsDict(), AccessVerdictAsDict(), DateAsISO()):
        transcoder.register(transcoding)
