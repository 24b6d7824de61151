"""Request-scoped dependencies: the services of this process, and who is calling.

``require(permission)`` authenticates the bearer token, checks the permission
and yields a :class:`Caller` whose ``actor`` goes into every event written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain.actor import Actor
from projections.sharing_terms import SharingTerms
from security.auth import Authenticator
from security.policy import Permission, authorize
from security.principal import Principal


@dataclass
class Services:
    """What one API process holds: built once in ``create_app``."""

    settings: Settings
    ledger: GovLedger
    sharing_terms: SharingTerms
    authenticator: Authenticator


@dataclass(frozen=True)
class Caller:
    principal: Principal
    actor: Actor


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def require(permission: Permission) -> Callable[..., Caller]:
    """A dependency: authenticate, authorise ``permission``, and name the actor."""

    def caller(
        request: Request,
        authorization: Annotated[str | None, Header()] = None,
    ) -> Caller:
        principal = services(request).authenticator.authenticate(authorization)
        authorize(principal, permission)
        client = request.client.host if request.client else None
        actor = principal.to_actor(client_address=client, request_id=request.state.request_id)
        return Caller(principal, actor)

    return caller


ServicesDep = Annotated[Services, Depends(services)]
