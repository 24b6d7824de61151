"""Recording refusals from the API and the console (issue #16 "Every reader audited").

Failed sign-ins (401, the console's login form) and commands refused to an authenticated
caller (403) are appended to the refusal record (security/audit_log.py), through the rate
limit of security/audit.py; the ledger itself stays unchanged. Recording never changes the
answer: if the record cannot be written, the refusal is still answered and the failure
logged.
"""

from __future__ import annotations

import logging
import re
from typing import Final

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from api.deps import services
from api.logging import scrub
from security.audit import RefusalLimiter
from security.audit_log import Refusal, RefusalKind, RefusalLog
from security.principal import Principal

log = logging.getLogger("govledger.api.refusals")
_KEY_ID: Final = re.compile(r"glk_([0-9a-f]{16})_")
ANONYMOUS: Final = "anonymous"


def limiter(request: Request) -> RefusalLimiter:
    state = request.app.state
    if not hasattr(state, "refusal_limiter"):
        state.refusal_limiter = RefusalLimiter()
    found: RefusalLimiter = state.refusal_limiter
    return found


def credential_id_of(credential: str | None) -> str:
    """The key id a presented credential names (never its secret); else empty."""
    found = _KEY_ID.search(credential or "")
    return found[1] if found else ""


def record(
    request: Request,
    kind: RefusalKind,
    reason: str,
    principal: Principal | None = None,
    credential: str | None = None,
) -> bool:
    """Record one refusal if the rate limit admits it; True if recorded."""
    client = request.client.host if request.client else ""
    suppressed = limiter(request).admit(client)
    if suppressed is None:
        return False
    try:
        RefusalLog(services(request).settings).append(
            Refusal.now(
                kind,
                subject=principal.subject if principal else ANONYMOUS,
                credential_id=principal.credential_id
                if principal
                else credential_id_of(credential),
                client_address=client,
                method=request.method,
                # A credential a client misplaced in the path (/accesses/glk_…) never
                # reaches the database (docs/security.md "Secrets"), nor one in a reason.
                path=scrub(request.url.path),
                reason=scrub(reason),
                suppressed=suppressed,
            )
        )
    except Exception:  # the refusal is answered whatever happens to its record
        log.exception("could not record a refusal")
        return False
    return True


async def record_async(
    request: Request,
    kind: RefusalKind,
    reason: str,
    principal: Principal | None = None,
    credential: str | None = None,
) -> None:
    await run_in_threadpool(record, request, kind, reason, principal, credential)
