"""API keys: random bearer tokens for services and operators, stored only as a hash.

Format
    ``glk_<key_id>_<secret>``: ``key_id`` is 16 hex digits (not secret: it is
    listed, logged and recorded as the actor), ``secret`` is
    ``secrets.token_urlsafe(32)``, 256 bits from the OS CSPRNG. The key id in
    the token finds the row directly: no scan, no hash per stored key.

Hash: HMAC-SHA-256, keyed with the key id (domain-separated), stored as
``hmac-sha256-v1$<hex>`` and compared with :func:`hmac.compare_digest`.
    Password hashes (argon2, bcrypt, scrypt) are deliberately slow so that a
    stolen table cannot be brute-forced when the secret is a low-entropy
    password. Our secrets are 256-bit random values: no dictionary exists and
    2^256 guesses are out of reach at any hash speed, so the slowness would
    buy no security and would cost tens of milliseconds and much memory on
    *every* request (a ready denial-of-service lever); bcrypt also truncates
    at 72 bytes. A fast keyed hash is the standard choice for such tokens.
    Keying with the key id binds a stored hash to its row (a hash copied to
    another row does not verify) and separates our hashes from any other
    SHA-256 use; it is not a secret pepper, and need not be given the
    entropy. The version prefix lets a later scheme (e.g. HMAC-SM3 for
    GB/T 39786) coexist with old rows.

Store
    The ``api_keys`` table beside the ledger (SQLite file, or the PostgreSQL
    schema of ``Settings.postgres_schema``). It is ordinary mutable state,
    not part of the chain: revocation is an UPDATE. Rows are never deleted,
    so the ``apikey:<key_id>`` actor of any event always resolves to its row.
    Nothing is cached: every authentication reads the row, so a revocation
    takes effect on the next request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Protocol

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.errors import ForeignStoreError, StoreUnavailableError
from ledger.store.connect import postgres_conninfo
from security.principal import (
    AuthenticationFailed,
    CredentialKind,
    InvalidPrincipalError,
    Principal,
    SecurityCode,
    UnknownApiKeyError,
    check_department,
    parse_role,
)

TOKEN_PREFIX: Final = "glk"  # noqa: S105 - a public marker, not a secret
KEY_ID_BYTES: Final = 8  # 16 hex digits
SECRET_BYTES: Final = 32  # 256 bits
HASH_SCHEME: Final = "hmac-sha256-v1"
TABLE: Final = "api_keys"
MAX_LABEL_LENGTH: Final = 200
MAX_DEPARTMENT_LENGTH: Final = 64

_KEY_ID = re.compile(r"[0-9a-f]{16}")
_TOKEN = re.compile(r"glk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
_DEPARTMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


# ---------------------------------------------------------------------- tokens


def new_token() -> tuple[str, str, str]:
    """A fresh (token, key id, secret)."""
    key_id = secrets.token_hex(KEY_ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return f"{TOKEN_PREFIX}_{key_id}_{secret}", key_id, secret


def parse_token(token: str) -> tuple[str, str]:
    """(key id, secret) of a well-formed token; else AuthenticationFailed (token not echoed)."""
    match = _TOKEN.fullmatch(token)
    if match is None:
        raise AuthenticationFailed(
            SecurityCode.MALFORMED_CREDENTIALS, "not a govledger API key (glk_<id>_<secret>)"
        )
    return match[1], match[2]


def hash_secret(key_id: str, secret: str, role: Role, department_code: str | None) -> str:
    """The stored form of a secret: see the module docstring for why HMAC-SHA-256.

    The role and department are inside the MAC: someone who can write the key
    table cannot raise a key's role or move it to another department without
    the key failing to authenticate.
    """
    key = f"govledger-api-key-v1:{key_id}".encode()
    message = "\n".join((secret, role.value, department_code or "")).encode()
    digest = hmac.new(key, message, hashlib.sha256).hexdigest()
    return f"{HASH_SCHEME}${digest}"


def secret_matches(key_id: str, secret: str, record: ApiKeyRecord, stored_hash: str) -> bool:
    """Constant-time comparison of a presented secret with the stored hash."""
    expected = hash_secret(key_id, secret, record.role, record.department_code)
    return hmac.compare_digest(expected.encode(), stored_hash.encode())


# ---------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A key as listed: everything but the secret and its hash."""

    key_id: str
    role: Role
    department_code: str | None
    label: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_json(self) -> dict[str, str | None]:
        return {
            "key_id": self.key_id,
            "role": self.role.value,
            "department": self.department_code,
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just created: the only moment its token exists outside the caller's hands."""

    record: ApiKeyRecord
    token: str = field(repr=False)


def _record(row: tuple[Any, ...]) -> tuple[ApiKeyRecord, str]:
    """(record, stored hash) from a row in TABLE's column order."""
    key_id, secret_hash, role, department, label, created_at, revoked_at = row
    record = ApiKeyRecord(
        key_id=key_id,
        role=parse_role(role),
        department_code=department,
        label=label,
        created_at=_as_datetime(created_at),
        revoked_at=_as_datetime(revoked_at) if revoked_at is not None else None,
    )
    return record, str(secret_hash)


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


_COLUMNS: Final = "key_id, secret_hash, role, department_code, label, created_at, revoked_at"


# ---------------------------------------------------------------------- stores


class ApiKeyStore(Protocol):
    """Rows of the ``api_keys`` table; no logic about tokens."""

    def ensure_table(self) -> None:
        """Create the table beside an existing ledger (idempotent)."""
        ...

    def insert(self, record: ApiKeyRecord, secret_hash: str) -> bool:
        """Add a row; False if the key id is taken."""
        ...

    def find(self, key_id: str) -> tuple[ApiKeyRecord, str] | None: ...

    def all(self) -> list[ApiKeyRecord]: ...

    def revoke(self, key_id: str, at: datetime) -> bool:
        """Set revoked_at unless already set; False if there is no such key."""
        ...

    def close(self) -> None: ...


class SQLiteApiKeyStore:
    """``api_keys`` in the ledger's SQLite file, opened per operation (never created)."""

    def __init__(self, path: str, genesis_table: str = "stored_events_genesis") -> None:
        if path == ":memory:":
            raise StoreUnavailableError("API keys need a ledger file, not :memory:")
        self.uri = Path(path).resolve().as_uri()
        self.path = path
        self.genesis_table = genesis_table

    @contextmanager
    def _connect(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        mode = "rw" if write else "ro"
        try:
            conn = sqlite3.connect(f"{self.uri}?mode={mode}", uri=True, timeout=30)
        except sqlite3.OperationalError as e:
            raise StoreUnavailableError(
                f"no ledger database at {self.path} (run `govledger init`)"
            ) from e
        try:
            with closing(conn), conn:
                yield conn
        except sqlite3.DatabaseError as e:
            raise StoreUnavailableError(f"the API key table is not usable: {e}") from e

    @staticmethod
    def _has(conn: sqlite3.Connection, table: str) -> bool:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        return conn.execute(query, (table,)).fetchone() is not None

    def ensure_table(self) -> None:
        with self._connect(write=True) as conn:
            if not self._has(conn, self.genesis_table):
                raise ForeignStoreError("no govledger ledger here (run `govledger init`)")
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (key_id TEXT PRIMARY KEY, "
                "secret_hash TEXT NOT NULL, role TEXT NOT NULL, department_code TEXT, "
                "label TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)"
            )

    def insert(self, record: ApiKeyRecord, secret_hash: str) -> bool:
        with self._connect(write=True) as conn:
            cursor = conn.execute(
                f"INSERT OR IGNORE INTO {TABLE} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (
                    record.key_id,
                    secret_hash,
                    record.role.value,
                    record.department_code,
                    record.label,
                    record.created_at.isoformat(),
                ),
            )
            return cursor.rowcount == 1

    def find(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        with self._connect(write=False) as conn:
            if not self._has(conn, TABLE):
                return None
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM {TABLE} WHERE key_id = ?", (key_id,)
            ).fetchone()
        return _record(row) if row else None

    def all(self) -> list[ApiKeyRecord]:
        with self._connect(write=False) as conn:
            if not self._has(conn, TABLE):
                return []
            rows = conn.execute(f"SELECT {_COLUMNS} FROM {TABLE} ORDER BY created_at").fetchall()
        return [_record(row)[0] for row in rows]

    def revoke(self, key_id: str, at: datetime) -> bool:
        with self._connect(write=True) as conn:
            if not self._has(conn, TABLE):
                return False
            cursor = conn.execute(
                f"UPDATE {TABLE} SET revoked_at = COALESCE(revoked_at, ?) WHERE key_id = ?",
                (at.isoformat(), key_id),
            )
            return cursor.rowcount == 1

    def close(self) -> None:
        """Nothing held open between operations."""


class PostgresApiKeyStore:
    """``api_keys`` in the ledger's PostgreSQL schema, through a small connection pool."""

    def __init__(
        self, conninfo: dict[str, Any], schema: str, pool_size: int = 2, timeout: float = 10
    ) -> None:
        from ledger.store.postgres import LEDGER_EVENTS_TABLE  # noqa: PLC0415 - PG only

        self.schema = schema
        self.table = sql.Identifier(schema, TABLE)
        self.genesis = f'"{schema}"."{LEDGER_EVENTS_TABLE}_genesis"'
        self.pool: ConnectionPool[psycopg.Connection[tuple[Any, ...]]] = ConnectionPool(
            kwargs={**conninfo, "connect_timeout": max(1, round(timeout))},
            min_size=1,
            max_size=max(1, pool_size),
            timeout=timeout,
            # A connection broken by a server restart is replaced, not handed to a request.
            check=ConnectionPool.check_connection,
            open=True,
            name="govledger-api-keys",
        )

    @contextmanager
    def _cursor(self) -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
        try:
            with self.pool.connection() as conn, conn.cursor() as cursor:
                yield cursor
        except (PoolTimeout, psycopg.OperationalError) as e:
            raise StoreUnavailableError("cannot reach PostgreSQL for API keys") from e
        except psycopg.Error as e:  # e.g. the service role trying to write
            first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise StoreUnavailableError(f"the API key table refused: {first_line}") from e

    def _exists(self, cursor: psycopg.Cursor[tuple[Any, ...]]) -> bool:
        cursor.execute("SELECT to_regclass(%s)", (f'"{self.schema}"."{TABLE}"',))
        row = cursor.fetchone()
        return row is not None and row[0] is not None

    def ensure_table(self) -> None:
        """Create the table if absent; a role that may not create finds it there (init made it)."""
        with self._cursor() as cursor:
            cursor.execute("SELECT to_regclass(%s)", (self.genesis,))
            row = cursor.fetchone()
            if row is None or row[0] is None:
                raise ForeignStoreError("no govledger ledger here (run `govledger init`)")
            if self._exists(cursor):
                return  # CREATE TABLE IF NOT EXISTS would still need CREATE on the schema
            cursor.execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (key_id text PRIMARY KEY, "
                    "secret_hash text NOT NULL, role text NOT NULL, department_code text, "
                    "label text NOT NULL, created_at timestamptz NOT NULL, revoked_at timestamptz)"
                ).format(self.table)
            )

    def grant_read(self, role: str) -> None:
        """Least privilege for the service: it only reads keys; the operator writes them."""
        with self._cursor() as cursor:
            r = sql.Identifier(role)
            cursor.execute(
                sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(self.schema), r)
            )
            cursor.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(self.table, r))
            cursor.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(self.table, r))

    def insert(self, record: ApiKeyRecord, secret_hash: str) -> bool:
        with self._cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    "INSERT INTO {} (" + _COLUMNS + ") VALUES (%s, %s, %s, %s, %s, %s, NULL) "
                    "ON CONFLICT (key_id) DO NOTHING"
                ).format(self.table),
                (
                    record.key_id,
                    secret_hash,
                    record.role.value,
                    record.department_code,
                    record.label,
                    record.created_at,
                ),
            )
            return cursor.rowcount == 1

    def find(self, key_id: str) -> tuple[ApiKeyRecord, str] | None:
        with self._cursor() as cursor:
            if not self._exists(cursor):
                return None
            cursor.execute(
                sql.SQL("SELECT " + _COLUMNS + " FROM {} WHERE key_id = %s").format(self.table),
                (key_id,),
            )
            row = cursor.fetchone()
        return _record(row) if row else None

    def all(self) -> list[ApiKeyRecord]:
        with self._cursor() as cursor:
            if not self._exists(cursor):
                return []
            cursor.execute(
                sql.SQL("SELECT " + _COLUMNS + " FROM {} ORDER BY created_at").format(self.table)
            )
            rows = cursor.fetchall()
        return [_record(row)[0] for row in rows]

    def revoke(self, key_id: str, at: datetime) -> bool:
        with self._cursor() as cursor:
            if not self._exists(cursor):
                return False
            cursor.execute(
                sql.SQL(
                    "UPDATE {} SET revoked_at = COALESCE(revoked_at, %s) WHERE key_id = %s"
                ).format(self.table),
                (at, key_id),
            )
            return cursor.rowcount == 1

    def close(self) -> None:
        self.pool.close()


def open_key_store(settings: Settings) -> ApiKeyStore:
    """The store of the backend ``Settings.database`` names."""
    db = settings.database
    if db.backend == "sqlite":
        return SQLiteApiKeyStore(db.path)
    return PostgresApiKeyStore(
        postgres_conninfo(db),
        settings.postgres_schema,
        settings.postgres_pool_size,
        settings.postgres_timeout_seconds,
    )


# ---------------------------------------------------------------------- service


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _check_label(label: str) -> str:
    """Labels are printed on terminals: refuse control characters and novels."""
    if len(label) > MAX_LABEL_LENGTH:
        raise InvalidPrincipalError(f"the label is longer than {MAX_LABEL_LENGTH} characters")
    if any(unicodedata.category(ch) == "Cc" for ch in label):
        raise InvalidPrincipalError("the label contains control characters")
    return label.strip()


def _check_department_code(department_code: str | None) -> str | None:
    if department_code is None:
        return None
    if len(department_code) > MAX_DEPARTMENT_LENGTH or not _DEPARTMENT.fullmatch(department_code):
        raise InvalidPrincipalError(
            "a department code is letters, digits, '.', '_' or '-' (at most 64)"
        )
    return department_code


def check_key_id(key_id: str) -> str:
    """A key id as an operator typed it; a pasted token is refused without being echoed."""
    if key_id.startswith(f"{TOKEN_PREFIX}_"):
        raise InvalidPrincipalError("give the key id (16 hex digits), not the token")
    if not _KEY_ID.fullmatch(key_id):
        raise InvalidPrincipalError("a key id is 16 lowercase hex digits")
    return key_id


class ApiKeys:
    """Create, list, revoke and authenticate API keys over an :class:`ApiKeyStore`."""

    def __init__(self, store: ApiKeyStore, clock: Callable[[], datetime] = _utcnow) -> None:
        self.store = store
        self.clock = clock

    def __enter__(self) -> ApiKeys:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.store.close()

    def create(
        self, role: Role | str, department_code: str | None = None, label: str = ""
    ) -> IssuedKey:
        """A new key; its token is in the result and nowhere else, ever."""
        parsed = parse_role(role)
        department = _check_department_code(department_code)
        check_department(parsed, department)
        clean_label = _check_label(label)
        self.store.ensure_table()
        while True:  # a 64-bit key id collides about never; retry rather than assume
            token, key_id, secret = new_token()
            record = ApiKeyRecord(key_id, parsed, department, clean_label, self.clock())
            stored = hash_secret(key_id, secret, record.role, record.department_code)
            if self.store.insert(record, stored):
                return IssuedKey(record, token)

    def list_keys(self) -> list[ApiKeyRecord]:
        return self.store.all()

    def revoke(self, key_id: str) -> ApiKeyRecord:
        """Revoke now (idempotent: an earlier revocation time is kept)."""
        if not self.store.revoke(check_key_id(key_id), self.clock()):
            raise UnknownApiKeyError(key_id)
        found = self.store.find(key_id)
        assert found is not None  # just updated; rows are never deleted
        return found[0]

    def authenticate(self, token: str) -> Principal:
        """The principal of a valid, unrevoked key; else AuthenticationFailed."""
        key_id, secret = parse_token(token)
        try:
            found = self.store.find(key_id)
        except InvalidPrincipalError as e:  # a row edited by hand: unusable, not a crash
            raise AuthenticationFailed(SecurityCode.INVALID_CREDENTIALS, "invalid API key") from e
        if found is None or not secret_matches(key_id, secret, found[0], found[1]):
            # One message for unknown id and wrong secret.
            raise AuthenticationFailed(SecurityCode.INVALID_CREDENTIALS, "invalid API key")
        record = found[0]
        if record.revoked_at is not None:
            raise AuthenticationFailed(
                SecurityCode.REVOKED_CREDENTIALS, f"API key {key_id} has been revoked"
            )
        return _principal(record)


API_KEY_SUBJECT_PREFIX: Final = "apikey:"


def _principal(record: ApiKeyRecord) -> Principal:
    try:
        return Principal(
            subject=f"{API_KEY_SUBJECT_PREFIX}{record.key_id}",
            role=record.role,
            department_code=record.department_code,
            credential_id=record.key_id,
            kind=CredentialKind.API_KEY,
        )
    except InvalidPrincipalError as e:  # a row edited by hand
        raise AuthenticationFailed(SecurityCode.INVALID_CREDENTIALS, "invalid API key") from e


def open_api_keys(settings: Settings, clock: Callable[[], datetime] = _utcnow) -> ApiKeys:
    """The key service on the configured database; close it (or use ``with``)."""
    return ApiKeys(open_key_store(settings), clock)
