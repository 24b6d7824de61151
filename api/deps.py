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
from projections.runner import check_views_version
from projections.sharing_terms import SharingTerms
from projections.store import ViewsVersionError
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
        request.state.principal = principal  # a refusal names whom it refused (api/refusals.py)
        authorize(principal, permission)
        client = request.client.host if request.client else None
        actor = principal.to_actor(client_address=client, request_id=request.state.request_id)
        return Caller(principal, actor)

    return caller


ServicesDep = Annotated[Services, Depends(services)]


def views_current(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """A router's dependency: 503 ``store_unavailable`` with ``Retry-After`` while the read
    models are of another schema version than this process's (an upgrade under way: the
    new worker's rebuild not yet swapped in, or this process not yet restarted). A caller
    without valid credentials still gets its 401 first (this runs before the route's own
    authentication, which then decides 403)."""
    found = services(request)
    try:
        check_views_version(found.settings)
    except ViewsVersionError:
        found.authenticator.authenticate(authorization)
        raise


IDEMPOTENCY_KEY_DESCRIPTION = (
    "Optional; send one whenever you may retry (the exchange platform and clerks' tools "
    "retry on timeouts). A unique string per intended create, e.g. a UUID, 1-255 visible "
    'ASCII characters (an RFC 8941 sf-string in quotes, `"…"`, is accepted too). A retry '
    "with the same key and the same body creates nothing and answers 201 with the first "
    "record's id; the same key with a different body is 409 `idempotency_key_reused`. "
    "Keys belong to the credential's subject and to this endpoint, and never expire. "
    "Without a key every request creates a new record."
)


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            max_length=257,
            pattern=r"^[\x20-\x7e]+$",
            description=IDEMPOTENCY_KEY_DESCRIPTION,
        ),
    ] = None,
) -> str | None:
    """The request's Idempotency-Key (IETF httpapi draft), without sf-string quotes."""
    if key is not None and len(key) >= 2 and key[0] == key[-1] == '"':
        return key[1:-1]
    return key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]
