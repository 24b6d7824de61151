"""Issuing, storing, serving and witnessing signed checkpoints (docs/checkpoint-format.md §5-§12).

* :func:`issue_checkpoint` integrates the tree (ledger/tree.py), signs a
  c2sp.org/tlog-checkpoint body (origin, integrated tree size, root) as a
  c2sp.org/signed-note with the Ed25519 key in ``checkpoint_key_file`` and
  appends the note to ``<events>_checkpoints``, a table whose triggers refuse
  UPDATE and DELETE like the event table's.
* :func:`latest_checkpoint` serves the newest note exactly as stored, followed
  by the ``cosignature/v1`` lines (c2sp.org/tlog-cosignature) that witnesses
  added to ``<events>_cosignatures`` (append-only too), in the order they came.
* :func:`witness_checkpoint` is the witness: it checks the log's signature,
  checks consistency (RFC 9162 §2.1.4) with the last checkpoint it saw, kept in
  its own state file, then cosigns and stores the cosignature.
* :class:`StoredCheckpoints` is what ``verify`` asks for the newest checkpoint
  it trusts (ledger/verify.py).

Signer keys live in files outside the database and are never logged: errors
name the file, never its content.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ledger import note
from ledger.chain import ChainBreak, Genesis, hash_function
from ledger.checkpoint import (
    Checkpoint,
    CosignatureSigner,
    CosignatureVerifier,
    cosign,
    open_checkpoint,
    require_cosignatures,
    sign_checkpoint,
)
from ledger.config import Settings
from ledger.errors import ConfigurationError, NoteError, ProofError
from ledger.merkle import HashFunction, MerkleTree, verify_consistency
from ledger.tree import Database, DatabaseNodeStore, LedgerTree, b64, open_ledger_tree
from ledger.verify import SignedHead

__all__ = [
    "CheckpointPolicy",
    "CheckpointStore",
    "IssuedCheckpoint",
    "StoredCheckpoint",
    "StoredCheckpoints",
    "TrustedKeys",
    "WitnessResult",
    "checkpoint_source",
    "default_origin",
    "generate_key_file",
    "issue_checkpoint",
    "latest_checkpoint",
    "load_signer",
    "load_trusted_keys",
    "load_witness_keys",
    "load_witness_signer",
    "parse_trusted_keys",
    "policy_from_settings",
    "public_keys",
    "witness_checkpoint",
]

RETIRED_PREFIX = "retired "
Progress = Callable[[int], None]


def default_origin(ledger_id: str) -> str:
    """checkpoint-format §5: ``govledger.local/<ledger id>`` unless configured."""
    return f"govledger.local/{ledger_id}"


def _origin(settings: Settings, ledger_id: str) -> str:
    return settings.checkpoint_origin or default_origin(ledger_id)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# ---------------------------------------------------------------- keys


def _read_lines(path: str, what: str) -> list[str]:
    """Non-empty, non-comment lines of a key file; errors never quote its content."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"cannot read {what} {path}: {e.__class__.__name__}") from None
    return [s for line in text.splitlines() if (s := line.strip()) and not s.startswith("#")]


def _single_key(path: str, what: str) -> str:
    lines = _read_lines(path, what)
    if len(lines) != 1:
        raise ConfigurationError(f"{what} {path} must hold exactly one key line")
    return lines[0]


def load_signer(settings: Settings) -> note.Ed25519Signer:
    """The log's signer key from ``checkpoint_key_file`` (c2sp.org/signed-note, type 0x01)."""
    path = settings.checkpoint_key_file
    if not path:
        raise ConfigurationError("no checkpoint signer key: set GOVLEDGER_CHECKPOINT_KEY_FILE")
    try:
        return note.Ed25519Signer.from_string(_single_key(path, "checkpoint key file"))
    except NoteError as e:
        raise ConfigurationError(f"checkpoint key file {path} is not a signer key: {e}") from None


def load_witness_signer(path: str) -> CosignatureSigner:
    """A witness's ``cosignature/v1`` signer key (type 0x04, govledger convention)."""
    try:
        return CosignatureSigner.from_string(_single_key(path, "witness key file"))
    except NoteError as e:
        raise ConfigurationError(f"witness key file {path} is not a witness key: {e}") from None


@dataclass(frozen=True)
class TrustedKeys:
    """The log's verifier keys: active ones count, retired ones never do (§6)."""

    active: tuple[note.Ed25519Verifier, ...]
    retired: tuple[note.Ed25519Verifier, ...]

    def lines(self) -> list[str]:
        """The trusted-keys-file form: one vkey a line, retired ones prefixed ``retired ``."""
        return [k.encode() for k in self.active] + [
            RETIRED_PREFIX + k.encode() for k in self.retired
        ]


def parse_trusted_keys(lines: Sequence[str], source: str) -> TrustedKeys:
    active: list[note.Ed25519Verifier] = []
    retired: list[note.Ed25519Verifier] = []
    for number, line in enumerate(lines, start=1):
        is_retired = line.startswith(RETIRED_PREFIX)
        text = line.removeprefix(RETIRED_PREFIX).strip()
        try:
            key = note.Ed25519Verifier.from_string(text)
        except NoteError as e:
            raise ConfigurationError(f"{source}: key {number}: {e}") from None
        (retired if is_retired else active).append(key)
    retired_ids = {(k.name, k.key_id) for k in retired}
    kept = tuple(k for k in dict.fromkeys(active) if (k.name, k.key_id) not in retired_ids)
    return TrustedKeys(kept, tuple(dict.fromkeys(retired)))


def load_trusted_keys(settings: Settings) -> TrustedKeys:
    """``trusted_keys_file``; without one, the public half of the signer key (bootstrap)."""
    if settings.trusted_keys_file:
        path = settings.trusted_keys_file
        return parse_trusted_keys(_read_lines(path, "trusted keys file"), path)
    if settings.checkpoint_key_file:
        return TrustedKeys((load_signer(settings).verifier(),), ())
    return TrustedKeys((), ())


def load_witness_keys(settings: Settings) -> tuple[CosignatureVerifier, ...]:
    """Witness verifier keys (type 0x04), one a line, from ``witness_keys_file``."""
    path = settings.witness_keys_file
    if not path:
        return ()
    keys: list[CosignatureVerifier] = []
    for number, line in enumerate(_read_lines(path, "witness keys file"), start=1):
        try:
            keys.append(CosignatureVerifier.from_string(line))
        except NoteError as e:
            raise ConfigurationError(f"{path}: key {number}: {e}") from None
    return tuple(keys)


def public_keys(settings: Settings) -> list[str]:
    """Verifier keys to publish: the signer's, then the trusted keys file's (retired prefixed)."""
    lines = [load_signer(settings).verifier().encode()] if settings.checkpoint_key_file else []
    if settings.trusted_keys_file:
        lines += load_trusted_keys(settings).lines()
    if not lines:
        raise ConfigurationError(
            "no keys: set GOVLEDGER_CHECKPOINT_KEY_FILE or GOVLEDGER_TRUSTED_KEYS_FILE"
        )
    return list(dict.fromkeys(lines))


def generate_key_file(path: str, name: str, *, witness: bool = False) -> str:
    """Write a new signer key to ``path`` (mode 0600, never overwriting); return its vkey."""
    try:
        signer: note.Ed25519Signer | CosignatureSigner = (
            CosignatureSigner.generate(name) if witness else note.Ed25519Signer.generate(name)
        )
    except NoteError as e:
        raise ConfigurationError(f"cannot use key name {name!r}: {e}") from None
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigurationError(f"{path} already exists; refusing to overwrite a key") from None
    except OSError as e:
        raise ConfigurationError(f"cannot create {path}: {e.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(signer.encode() + "\n")
    return signer.verifier().encode()


# ---------------------------------------------------------------- storage


@dataclass(frozen=True)
class StoredCheckpoint:
    """One issued checkpoint as stored, with the cosignature lines witnesses added."""

    id: int
    tree_size: int
    root_hash: bytes
    note: str
    issued_at: str
    cosignatures: tuple[str, ...] = ()

    @property
    def served(self) -> str:
        """The note as served: the issued note, then each cosignature line (signed-note §Format)."""
        return self.note + "".join(self.cosignatures)


class CheckpointStore:
    """``<events>_checkpoints`` and ``<events>_cosignatures``: append-only tables."""

    CHECKPOINTS, COSIGNATURES = "checkpoints", "cosignatures"

    def __init__(self, database: Database) -> None:
        self.db = database
        self.checkpoints = database.table(self.CHECKPOINTS)
        self.cosignatures = database.table(self.COSIGNATURES)

    @property
    def exists(self) -> bool:
        return self.db.has_table(self.CHECKPOINTS) and self.db.has_table(self.COSIGNATURES)

    def create(self) -> None:
        """Create both tables and their refusing triggers if absent (idempotent)."""
        if self.exists:
            return
        sqlite = self.db.backend == "sqlite"
        pk = (
            "INTEGER PRIMARY KEY AUTOINCREMENT"
            if sqlite
            else "bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        )
        blob = "BLOB" if sqlite else "bytea"
        self.db.create(
            [
                f"CREATE TABLE IF NOT EXISTS {self.checkpoints} (id {pk}, "
                f"tree_size bigint NOT NULL, root_hash {blob} NOT NULL, "
                "note text NOT NULL, issued_at text NOT NULL)",
                f"CREATE TABLE IF NOT EXISTS {self.cosignatures} (id {pk}, "
                "checkpoint_id bigint NOT NULL, witness text NOT NULL, line text NOT NULL, "
                "added_at text NOT NULL, UNIQUE (checkpoint_id, witness))",
                *self.db.append_only_statements(self.CHECKPOINTS),
                *self.db.append_only_statements(self.COSIGNATURES),
            ]
        )

    def append(self, checkpoint: Checkpoint, signed: str) -> StoredCheckpoint:
        issued_at = _now()
        with self.db.transaction(self.CHECKPOINTS):
            self.db.query(
                f"INSERT INTO {self.checkpoints} (tree_size, root_hash, note, issued_at) "
                "VALUES (?, ?, ?, ?)",
                (checkpoint.size, checkpoint.root_hash, signed, issued_at),
            )
            new_id = self.db.query(f"SELECT max(id) FROM {self.checkpoints}")[0][0]
        return StoredCheckpoint(new_id, checkpoint.size, checkpoint.root_hash, signed, issued_at)

    def latest(self) -> StoredCheckpoint | None:
        if not self.exists:
            return None
        rows = self.db.query(
            f"SELECT id, tree_size, root_hash, note, issued_at FROM {self.checkpoints} "
            "ORDER BY id DESC LIMIT 1"
        )
        return self._with_cosignatures(rows[0]) if rows else None

    def find(self, body: str) -> StoredCheckpoint | None:
        """The newest stored checkpoint whose note text is ``body``."""
        if not self.exists:
            return None
        rows = self.db.query(
            f"SELECT id, tree_size, root_hash, note, issued_at FROM {self.checkpoints} "
            "WHERE tree_size = ? ORDER BY id DESC",
            (Checkpoint.parse(body).size,),
        )
        for row in rows:
            if note.parse(row[3]).text == body:
                return self._with_cosignatures(row)
        return None

    def _with_cosignatures(self, row: Sequence[Any]) -> StoredCheckpoint:
        lines = self.db.query(
            f"SELECT line FROM {self.cosignatures} WHERE checkpoint_id = ? ORDER BY id", (row[0],)
        )
        return StoredCheckpoint(
            int(row[0]),
            int(row[1]),
            bytes(row[2]),
            str(row[3]),
            str(row[4]),
            tuple(str(line[0]) for line in lines),
        )

    def add_cosignature(self, checkpoint_id: int, witness: str, line: str) -> bool:
        """Store one cosignature line; ``False`` if this witness already cosigned."""
        with self.db.transaction(self.COSIGNATURES):
            found = self.db.query(
                f"SELECT 1 FROM {self.cosignatures} WHERE checkpoint_id = ? AND witness = ?",
                (checkpoint_id, witness),
            )
            if found:
                return False
            self.db.query(
                f"INSERT INTO {self.cosignatures} (checkpoint_id, witness, line, added_at) "
                "VALUES (?, ?, ?, ?)",
                (checkpoint_id, witness, line, _now()),
            )
        return True


# ---------------------------------------------------------------- issuing and serving


@dataclass(frozen=True)
class IssuedCheckpoint:
    checkpoint: StoredCheckpoint
    new: bool  # False: the newest stored checkpoint already covered this tree, same key


def issue_checkpoint(settings: Settings, *, progress: Progress | None = None) -> IssuedCheckpoint:
    """Integrate the tree, then sign and store a checkpoint of it (tlog-checkpoint §Note text).

    Refuses to sign a tree that is not consistent (RFC 9162 §2.1.4) with the
    last checkpoint this log issued. If that checkpoint already has this size
    and was signed by the same key, it is returned instead of a duplicate.
    """
    signer = load_signer(settings)
    with open_ledger_tree(settings) as tree:
        tree.integrate(progress=progress)
        store = CheckpointStore(tree.database)
        store.create()
        size, root = tree.size, tree.tree.root()
        checkpoint = Checkpoint(_origin(settings, tree.genesis.ledger_id), size, root)
        previous = store.latest()
        if previous is not None:
            _check_extends(tree, previous, checkpoint)
            if previous.tree_size == size and _signed_by(previous.note, signer):
                return IssuedCheckpoint(previous, new=False)
        stored = store.append(checkpoint, sign_checkpoint(checkpoint, signer))
        return IssuedCheckpoint(stored, new=True)


def _check_extends(tree: LedgerTree, previous: StoredCheckpoint, new: Checkpoint) -> None:
    if previous.tree_size > new.size:
        raise ProofError(
            f"the tree (size {new.size}) is smaller than checkpoint {previous.id} "
            f"(size {previous.tree_size}): refusing to sign a shorter log"
        )
    if previous.tree_size == 0:
        return
    proof = tree.consistency(previous.tree_size, new.size).proof
    verify_consistency(
        previous.tree_size, new.size, previous.root_hash, new.root_hash, proof, hash_fn=tree.hash_fn
    )


def _signed_by(signed: str, signer: note.Ed25519Signer) -> bool:
    return any(s.key == (signer.name, signer.key_id) for s in note.parse(signed).signatures)


def prepare_proof_tables(settings: Settings, app_role: str = "") -> None:
    """Create the tree, checkpoint and cosignature tables now (``govledger init``), and grant
    a least-privileged PostgreSQL role what the service needs: it keeps the tree (select,
    insert, update) and appends checkpoints and cosignatures (select, insert)."""
    with open_ledger_tree(settings) as tree:
        CheckpointStore(tree.database).create()
        if app_role and tree.database.backend == "postgresql":
            role = '"' + app_role.replace('"', '""') + '"'
            tree.database.create(
                [
                    f"GRANT SELECT, INSERT, UPDATE ON {tree.database.table('tree')} TO {role}",
                    f"GRANT SELECT, INSERT ON {tree.database.table('checkpoints')} TO {role}",
                    f"GRANT SELECT, INSERT ON {tree.database.table('cosignatures')} TO {role}",
                ]
            )


def latest_checkpoint(settings: Settings) -> str | None:
    """The newest signed checkpoint with its cosignatures, exactly as stored; ``None`` if none.

    Read-only: never creates a table. For ``GET /api/v1/checkpoints/latest``.
    """
    database = Database(settings, readonly=True)
    try:
        latest = CheckpointStore(database).latest()
    finally:
        database.close()
    return latest.served if latest else None


# ---------------------------------------------------------------- trust policy and verify


@dataclass(frozen=True)
class CheckpointPolicy:
    """What a verifier trusts: origin, log keys, witnesses and quorum (§6-§8)."""

    origin: str
    keys: TrustedKeys
    witnesses: tuple[CosignatureVerifier, ...] = ()
    quorum: int = 0

    def open(self, served: str) -> Checkpoint:
        """Verify the log signature (and the witness quorum); raise :class:`NoteError`."""
        checkpoint = open_checkpoint(
            served, self.keys.active, origin=self.origin, retired=self.keys.retired
        )
        if self.quorum > 0:
            require_cosignatures(served, self.witnesses, self.quorum)
        return checkpoint


def policy_from_settings(settings: Settings, ledger_id: str) -> CheckpointPolicy | None:
    """The policy configured in settings; ``None`` when no log key is configured."""
    keys = load_trusted_keys(settings)
    if not keys.active and not keys.retired:
        return None
    witnesses = load_witness_keys(settings)
    if settings.witness_quorum > len(witnesses):
        raise ConfigurationError(
            f"witness quorum {settings.witness_quorum} exceeds the {len(witnesses)} witness keys"
        )
    return CheckpointPolicy(
        _origin(settings, ledger_id), keys, witnesses, max(settings.witness_quorum, 0)
    )


class StoredCheckpoints:
    """The :class:`ledger.verify.CheckpointSource` over the ledger's own checkpoint table."""

    def __init__(self, database: Database, policy: CheckpointPolicy, hash_fn: HashFunction) -> None:
        self.database = database
        self.policy = policy
        self.hash_fn = hash_fn
        self.store = CheckpointStore(database)

    def newest(self) -> SignedHead | ChainBreak | None:
        latest = self.store.latest()
        if latest is None:
            return None
        where = f"checkpoint {latest.id} (size {latest.tree_size})"
        try:
            checkpoint = self.policy.open(latest.served)
        except NoteError as e:
            return ChainBreak(latest.tree_size, "checkpoint", f"{where} is not trusted: {e}")
        if (checkpoint.size, checkpoint.root_hash) != (latest.tree_size, latest.root_hash):
            return ChainBreak(
                latest.tree_size, "checkpoint", f"{where}: columns differ from its note"
            )
        return SignedHead(
            checkpoint.size, checkpoint.root_hash, f"{where}, issued {latest.issued_at}"
        )

    def consistency_proof(self, size1: int, size2: int) -> list[bytes] | None:
        if not self.database.has_table(DatabaseNodeStore.SUFFIX):
            return None
        tree = MerkleTree(DatabaseNodeStore(self.database), hash_fn=self.hash_fn)
        return tree.consistency_proof(size1, size2) if size2 <= tree.size else None

    def close(self) -> None:
        self.database.close()


@contextmanager
def checkpoint_source(settings: Settings, genesis: Genesis) -> Iterator[StoredCheckpoints | None]:
    """What ``verify`` checks the log against; ``None`` when no log key is configured.

    ``with checkpoint_source(settings, reader.genesis()) as checkpoints:
    verify_ledger(reader, ..., checkpoints=checkpoints)``
    """
    policy = policy_from_settings(settings, genesis.ledger_id)
    if policy is None:
        yield None
        return
    hash_fn = hash_function(genesis.hash_algorithm)
    source = StoredCheckpoints(Database(settings, readonly=True), policy, hash_fn)
    try:
        yield source
    finally:
        source.close()


# ---------------------------------------------------------------- witness


@dataclass(frozen=True)
class WitnessResult:
    checkpoint: Checkpoint
    line: str
    new: bool
    served: str


def witness_checkpoint(
    settings: Settings, key_file: str, state_file: str, checkpoint_text: str | None = None
) -> WitnessResult:
    """Verify, check consistency with the last checkpoint seen, cosign (tlog-cosignature §Format).

    Every check runs before anything is written: the cosignature row first,
    then the state file (write-then-rename).
    """
    signer = load_witness_signer(key_file)
    state = _WitnessState.load(state_file)
    with open_ledger_tree(settings) as tree:
        policy = CheckpointPolicy(
            _origin(settings, tree.genesis.ledger_id), load_trusted_keys(settings)
        )
        if not policy.keys.active:
            raise ConfigurationError("no trusted log keys: set GOVLEDGER_TRUSTED_KEYS_FILE")
        store = CheckpointStore(tree.database)
        served = checkpoint_text if checkpoint_text is not None else _latest_served(store)
        checkpoint = policy.open(served)
        stored = store.find(note.parse(served).text)
        if stored is None:
            raise NoteError("this checkpoint was not issued by this ledger (not in its store)")
        if checkpoint.size > tree.size:
            tree.integrate()
        _check_consistent(tree, state, checkpoint)
        cosigned = note.parse(cosign(served, signer))
        mine = next(s for s in cosigned.signatures if s.key == (signer.name, signer.key_id))
        line = mine.line()
        new = store.add_cosignature(stored.id, mine.label(), line)
        _WitnessState.save(state_file, checkpoint, served)
        latest = store.find(checkpoint.format())
        return WitnessResult(checkpoint, line, new, latest.served if latest else served)


def _latest_served(store: CheckpointStore) -> str:
    latest = store.latest()
    if latest is None:
        raise NoteError("the ledger has issued no checkpoint yet")
    return latest.served


def _check_consistent(tree: LedgerTree, state: _WitnessState | None, new: Checkpoint) -> None:
    """RFC 9162 §2.1.4: the new checkpoint must extend the last one this witness saw."""
    if state is None or state.size == 0:
        return
    if state.origin != new.origin:
        raise NoteError(f"checkpoint origin {new.origin!r} is not {state.origin!r} seen before")
    if new.size < state.size:
        raise ProofError(
            f"checkpoint size {new.size} is smaller than size {state.size} seen before"
        )
    proof = tree.consistency(state.size, new.size).proof
    verify_consistency(state.size, new.size, state.root, new.root_hash, proof, hash_fn=tree.hash_fn)


@dataclass(frozen=True)
class _WitnessState:
    """The witness's memory: the last checkpoint it cosigned (a file only it writes)."""

    origin: str
    size: int
    root: bytes

    @classmethod
    def load(cls, path: str) -> _WitnessState | None:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                str(data["origin"]), int(data["size"]), note.decode_base64(data["root"], "root")
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, NoteError) as e:
            raise ConfigurationError(
                f"witness state {path} is unreadable: {e.__class__.__name__}"
            ) from None

    @staticmethod
    def save(path: str, checkpoint: Checkpoint, served: str) -> None:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "origin": checkpoint.origin,
            "size": checkpoint.size,
            "root": b64(checkpoint.root_hash),
            "note": served,
        }
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, target)
