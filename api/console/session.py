"""Console sessions: a signed, short-lived cookie naming the principal, and CSRF tokens.

The browser presents its API key or JWT once, on the login form; the cookie
that follows carries only who the principal is (subject, role, department,
credential id), a random session id, its expiry and a random CSRF token, signed
with HMAC (itsdangerous) and stamped with its issue time. It never carries the
credential, so nothing secret sits client-side in clear. The cookie is ``HttpOnly``,
``SameSite=Strict`` and ``Secure`` when the request came over https.

An API-key session is re-checked against the key store on every request, so a
revoked key ends its sessions at once (security/apikeys.py reads the row
every time, and so do we). A JWT session lasts at most the session lifetime.

退出 ends the session on the server: its id goes into the ended sessions that
every worker process reads on every request (security/ended_sessions.py), so a
copy of the cookie taken before logout is refused by all of them; docs/console.md
"Sign-in and sessions".

CSRF: every POST form carries the session's token (``csrf`` field or
``X-CSRF-Token`` header), compared in constant time; the login form, which
has no session yet, is bound to a separately signed nonce cookie.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from ledger.config import Settings
from ledger.errors import ConfigurationError
from security.apikeys import ApiKeys
from security.ended_sessions import ended_sessions
from security.principal import CredentialKind, InvalidPrincipalError, Principal

SESSION_COOKIE: Final = "govledger_console"
LOGIN_COOKIE: Final = "govledger_console_login"
LOGIN_FORM_SECONDS: Final = 600
MIN_KEY_BYTES: Final = 32


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str
    session_id: str  # random; the server records it (hashed) when the session is ended
    expires_at: int  # Unix seconds, fixed at sign-in
    name: str = ""  # the person the credential is bound to (the key's label), shown by name


class SessionCodec:
    """Signs and opens session and login cookies with one process-wide key."""

    def __init__(self, key: bytes, lifetime_seconds: int) -> None:
        self.lifetime_seconds = lifetime_seconds
        self._session = URLSafeTimedSerializer(key, salt="govledger-console-session")
        self._login = URLSafeTimedSerializer(key, salt="govledger-console-login")

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionCodec:
        return cls(_session_key(settings), max(settings.console_session_minutes, 1) * 60)

    def issue(self, principal: Principal, name: str = "") -> tuple[str, Session]:
        expires_at = int(time.time()) + self.lifetime_seconds
        session = Session(
            principal, secrets.token_urlsafe(32), secrets.token_urlsafe(32), expires_at, name
        )
        payload = {
            "sub": principal.subject,
            "role": principal.role.value,
            "dept": principal.department_code,
            "cid": principal.credential_id,
            "kind": principal.kind.value,
            "csrf": session.csrf,
            "sid": session.session_id,
            "exp": expires_at,
            "name": name,
        }
        return self._session.dumps(payload), session

    def open(self, cookie: str | None) -> Session | None:
        """The session of a cookie that is ours, intact and young enough; else ``None``.

        Young enough: within the lifetime configured now and before the expiry written
        at sign-in (which the ended-session record keeps: a longer lifetime configured
        later cannot outlive a pruned row).
        """
        if not cookie:
            return None
        try:
            data: dict[str, Any] = self._session.loads(cookie, max_age=self.lifetime_seconds)
            principal = Principal(
                subject=str(data["sub"]),
                role=data["role"],
                department_code=data["dept"],
                credential_id=str(data["cid"]),
                kind=CredentialKind(data["kind"]),
            )
            session_id, expires_at = str(data["sid"]), int(data["exp"])
            if not session_id or expires_at <= time.time():
                return None
            name = str(data.get("name") or "")
            return Session(principal, str(data["csrf"]), session_id, expires_at, name)
        except (BadSignature, SignatureExpired, KeyError, TypeError, ValueError):
            return None
        except InvalidPrincipalError:
            return None

    def login_nonce(self) -> tuple[str, str]:
        """(cookie value, form value) binding a login form to this browser."""
        nonce = secrets.token_urlsafe(24)
        return self._login.dumps(nonce), nonce

    def login_nonce_matches(self, cookie: str | None, form_value: str) -> bool:
        if not cookie or not form_value:
            return False
        try:
            nonce = str(self._login.loads(cookie, max_age=LOGIN_FORM_SECONDS))
        except (BadSignature, SignatureExpired):
            return False
        return hmac.compare_digest(nonce, form_value)


def csrf_matches(session: Session, supplied: str | None) -> bool:
    return bool(supplied) and hmac.compare_digest(session.csrf, supplied or "")


def still_valid(session: Session, api_keys: ApiKeys) -> bool:
    """A session holds until it is ended (logout, any worker); an API-key session only
    while its key is unrevoked and unchanged too. Reads only."""
    if ended_sessions(api_keys.store).is_ended(session.session_id):
        return False
    principal = session.principal
    if principal.kind is not CredentialKind.API_KEY:
        return True
    found = api_keys.store.find(principal.credential_id)
    if found is None:
        return False
    record = found[0]
    return (
        record.active
        and record.role == principal.role
        and record.department_code == principal.department_code
    )


def end_session(session: Session, api_keys: ApiKeys) -> None:
    """Logout: the session is refused from now on by every worker sharing the database."""
    ended_sessions(api_keys.store).end(session.session_id, session.expires_at)


def _session_key(settings: Settings) -> bytes:
    """The configured key file's bytes, or a fresh random key for this process."""
    if not settings.console_session_key_file:
        return secrets.token_bytes(MIN_KEY_BYTES)
    path = Path(settings.console_session_key_file)
    try:
        key = path.read_bytes().strip()
    except OSError as e:
        raise ConfigurationError(f"cannot read console session key {path}: {e.strerror}") from e
    if len(key) < MIN_KEY_BYTES:
        raise ConfigurationError(f"console session key {path}: fewer than {MIN_KEY_BYTES} bytes")
    return key
