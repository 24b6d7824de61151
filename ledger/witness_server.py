"""A witness for other hosts' logs, C2SP tlog-witness (docs/checkpoint-format.md §16).

:class:`Witness` answers https://c2sp.org/tlog-witness §add-checkpoint with
the status codes the spec gives (400, 403, 404, 409, 422, 200), in the spec's
order, and serves §Monitor Retrieval Mechanism. It never sees a log's
database: it knows each log by its origin and keys (the **witnessed logs
file**) and keeps its own state in its own SQLite file:

* ``logs``: per origin, the size and root it last cosigned and the note it
  returned (the log's verified signatures and its own cosignature);
* ``history``: every (origin, size, root) it cosigned, so that a validly
  signed checkpoint of a size it cosigned before with **another root** is
  known for what it is, a split view, whatever old size the request names;
* ``evidence``: the signed notes of split views and of checkpoints whose
  consistency proof failed (tlog-witness: "MAY log the request … as it might
  be proof of log misbehavior"), read by ``/metrics``.

The old-size check and the state update run in one ``BEGIN IMMEDIATE``
transaction, so two concurrent requests can never roll the state back
(tlog-witness §add-checkpoint, the race it describes).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from ledger import note
from ledger.chain import ChainFormatError, hash_function
from ledger.checkpoint import Checkpoint, CosignatureSigner
from ledger.checkpoint_keys import load_witness_signer, read_key_lines
from ledger.config import Settings
from ledger.errors import ConfigurationError, NoteError, ProofError
from ledger.merkle import HashFunction, verify_consistency
from ledger.witness_protocol import (
    SIZE_CONTENT_TYPE,
    AddCheckpoint,
    WitnessRequestError,
    format_size,
    origin_hash,
)

__all__ = [
    "Answer",
    "LogSummary",
    "Outcome",
    "Witness",
    "WitnessedLog",
    "load_witnessed_logs",
    "open_witness",
    "witness_state_path",
]

_EVIDENCE_KEPT = 1_000  # per log and kind: enough to prove, too few to fill a disk


class Outcome(StrEnum):
    """What an add-checkpoint request came to (a closed set: a metric label)."""

    COSIGNED = "cosigned"
    MALFORMED = "malformed"  # 400
    BAD_SIGNATURE = "bad_signature"  # 403
    UNKNOWN_LOG = "unknown_log"  # 404
    STALE = "stale"  # 409: the old size is not the size last cosigned
    INCONSISTENT = "inconsistent"  # 422: the proof fails, or a bad size-0 root
    SPLIT_VIEW = "split_view"  # 422 or 409: another root for a size cosigned before


_STATUS = {
    Outcome.COSIGNED: 200,
    Outcome.MALFORMED: 400,
    Outcome.BAD_SIGNATURE: 403,
    Outcome.UNKNOWN_LOG: 404,
    Outcome.STALE: 409,
    Outcome.INCONSISTENT: 422,
    Outcome.SPLIT_VIEW: 422,
}


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to one request, and what it came to."""

    outcome: Outcome
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    origin: str | None = None  # the log's origin, when it is one this witness knows


@dataclass(frozen=True)
class WitnessedLog:
    """A log this witness cosigns for: its origin, keys and hash function (SHA-256 or SM3)."""

    origin: str
    keys: tuple[note.Ed25519Verifier, ...]
    hash_algorithm: str = "sha256"
    hash_fn: HashFunction = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hash_fn", hash_function(self.hash_algorithm))


def load_witnessed_logs(path: str) -> dict[str, WitnessedLog]:
    """The witnessed logs file: ``<origin> <log verifier key> [sha256|sm3]`` a line; several
    lines of one origin list several keys (a rotation). Errors never quote a line."""
    keys: dict[str, list[note.Ed25519Verifier]] = {}
    algorithms: dict[str, str] = {}
    for number, line in enumerate(read_key_lines(path, "witnessed logs file"), start=1):
        fields = line.split()
        if len(fields) not in (2, 3):
            raise ConfigurationError(f"{path}: line {number}: expected '<origin> <key> [hash]'")
        origin, vkey, algorithm = fields[0], fields[1], fields[2] if len(fields) == 3 else "sha256"
        try:
            keys.setdefault(origin, []).append(note.Ed25519Verifier.from_string(vkey))
            hash_function(algorithm)
        except (NoteError, ChainFormatError) as e:
            raise ConfigurationError(f"{path}: line {number}: {e}") from None
        if algorithms.setdefault(origin, algorithm) != algorithm:
            raise ConfigurationError(f"{path}: line {number}: one origin, two hash functions")
    if not keys:
        raise ConfigurationError(f"witnessed logs file {path} lists no log")
    return {o: WitnessedLog(o, tuple(k), algorithms[o]) for o, k in keys.items()}


@dataclass(frozen=True)
class LogSummary:
    """What ``/metrics`` says of one log (read from the state file)."""

    origin: str
    tree_size: int | None
    cosigned_at: float | None
    split_views: int
    inconsistent: int


def _now() -> datetime:
    return datetime.now(UTC)


class Witness:
    """One witness: its key, the logs it witnesses, its state file."""

    def __init__(self, signer: CosignatureSigner, logs: dict[str, WitnessedLog], state: str):
        self.signer = signer
        self.logs = logs
        self.state = state
        self._by_hash = {origin_hash(origin): origin for origin in logs}
        Path(state).parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.state, isolation_level=None, timeout=30)
        try:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")  # persisted before the answer (the spec)
            yield db
        finally:
            db.close()

    # ------------------------------------------------------------ add-checkpoint

    def add_checkpoint(self, body: bytes) -> Answer:
        """tlog-witness §add-checkpoint, every check in the spec's order."""
        try:
            request = AddCheckpoint.parse(body)
            parsed = note.parse(request.checkpoint)
        except (WitnessRequestError, NoteError) as e:
            return _answer(Outcome.MALFORMED, f"malformed request: {e}")
        origin = parsed.text.split("\n", 1)[0]
        log = self.logs.get(origin)
        if log is None:
            return _answer(Outcome.UNKNOWN_LOG, "unknown log origin")
        try:
            opened = note.open(request.checkpoint, log.keys)
        except NoteError as e:
            return _answer(Outcome.BAD_SIGNATURE, f"not signed by the log: {e}", origin)
        try:
            checkpoint = Checkpoint.parse(opened.text)
        except NoteError as e:
            return _answer(Outcome.MALFORMED, f"malformed checkpoint: {e}", origin)
        log_lines = "".join(s.line() for s in opened.verified)
        return self._decide(log, request, checkpoint, opened.text + "\n" + log_lines)

    def _decide(
        self, log: WitnessedLog, request: AddCheckpoint, checkpoint: Checkpoint, verified: str
    ) -> Answer:
        origin = log.origin
        with self._connection() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                answer = self._decide_locked(db, log, request, checkpoint, verified)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")  # persisted (synchronous = FULL) before answering
        return Answer(answer.outcome, answer.status, answer.body, answer.content_type, origin)

    def _decide_locked(  # noqa: PLR0911 - the spec's checks, in its order, one answer each
        self,
        db: sqlite3.Connection,
        log: WitnessedLog,
        request: AddCheckpoint,
        checkpoint: Checkpoint,
        verified: str,
    ) -> Answer:
        origin, size, root = log.origin, checkpoint.size, checkpoint.root_hash
        row = db.execute("SELECT size, root FROM logs WHERE origin = ?", (origin,)).fetchone()
        last_size, last_root = (int(row[0]), bytes(row[1])) if row else (0, log.hash_fn(b""))
        seen = db.execute(
            "SELECT root FROM history WHERE origin = ? AND size = ?", (origin, size)
        ).fetchone()
        # Two trees of one size, both signed by the log: kept as evidence whatever else is
        # wrong with the request, and answered with the status the spec's order gives.
        split = seen is not None and bytes(seen[0]) != root
        if split:
            _keep_evidence(db, origin, Outcome.SPLIT_VIEW, size, verified)
        if request.old_size > size:
            outcome = _or_split(split, Outcome.MALFORMED)
            return _answer(outcome, "old size above the checkpoint's", status=400)
        if request.old_size != last_size:
            outcome = _or_split(split, Outcome.STALE)
            return Answer(outcome, 409, format_size(last_size), SIZE_CONTENT_TYPE)
        if size == 0 and root != log.hash_fn(b""):
            return _answer(Outcome.INCONSISTENT, "a size-0 checkpoint needs the empty root")
        if split:
            return _answer(Outcome.SPLIT_VIEW, f"another tree of size {size} was cosigned")
        if request.old_size == 0 and request.proof:
            return _answer(Outcome.INCONSISTENT, "a proof from size 0 must be empty")
        if request.old_size == size and request.proof:
            return _answer(Outcome.INCONSISTENT, "a proof between equal sizes must be empty")
        if 0 < request.old_size < size:
            try:
                verify_consistency(
                    last_size, size, last_root, root, request.proof, hash_fn=log.hash_fn
                )
            except ProofError as e:
                _keep_evidence(db, origin, Outcome.INCONSISTENT, size, verified)
                return _answer(Outcome.INCONSISTENT, f"consistency proof fails: {e}")
        line = self._cosignature(checkpoint)
        now = _now()
        db.execute(
            "INSERT INTO logs (origin, size, root, note, updated_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
            "note = excluded.note, updated_at = excluded.updated_at",
            (origin, size, root, verified + line, now.isoformat()),
        )
        db.execute(
            "INSERT OR IGNORE INTO history (origin, size, root, cosigned_at) VALUES (?, ?, ?, ?)",
            (origin, size, root, now.isoformat()),
        )
        return Answer(Outcome.COSIGNED, 200, line.encode("utf-8"))

    def _cosignature(self, checkpoint: Checkpoint) -> str:
        message = checkpoint.format().encode("utf-8")
        signature = note.NoteSignature(
            self.signer.name, self.signer.key_id, self.signer.sign(message)
        )
        return signature.line()

    # ------------------------------------------------------------ monitoring

    def checkpoint(self, hashed_origin: str) -> str | None:
        """tlog-witness §Monitor Retrieval Mechanism: the newest cosigned checkpoint."""
        origin = self._by_hash.get(hashed_origin)
        if origin is None:
            return None
        with self._connection() as db:
            row = db.execute("SELECT note FROM logs WHERE origin = ?", (origin,)).fetchone()
        return str(row[0]) if row else None

    def summaries(self) -> list[LogSummary]:
        """Per configured log: size and time last cosigned, split views and failed proofs."""
        with self._connection() as db:
            state = {
                str(r[0]): (int(r[1]), str(r[2]))
                for r in db.execute("SELECT origin, size, updated_at FROM logs")
            }
            counts = {
                (str(r[0]), str(r[1])): int(r[2])
                for r in db.execute("SELECT origin, kind, count(*) FROM evidence GROUP BY 1, 2")
            }
        summaries = []
        for origin in self.logs:
            size, at = state.get(origin, (None, None))
            summaries.append(
                LogSummary(
                    origin,
                    size,
                    datetime.fromisoformat(at).timestamp() if at else None,
                    counts.get((origin, Outcome.SPLIT_VIEW.value), 0),
                    counts.get((origin, Outcome.INCONSISTENT.value), 0),
                )
            )
        return summaries

    def evidence(self, origin: str) -> list[tuple[str, int, str]]:
        """The refused signed checkpoints of ``origin``: (kind, size, note), oldest first."""
        with self._connection() as db:
            rows = db.execute(
                "SELECT kind, size, note FROM evidence WHERE origin = ? ORDER BY id", (origin,)
            ).fetchall()
        return [(str(r[0]), int(r[1]), str(r[2])) for r in rows]


def _answer(
    outcome: Outcome, detail: str, origin: str | None = None, status: int | None = None
) -> Answer:
    status = _STATUS[outcome] if status is None else status
    return Answer(outcome, status, f"{detail}\n".encode(), origin=origin)


def _or_split(split: bool, outcome: Outcome) -> Outcome:
    """The outcome counted: a split view whatever status the request gets."""
    return Outcome.SPLIT_VIEW if split else outcome


def _keep_evidence(
    db: sqlite3.Connection, origin: str, kind: Outcome, size: int, signed: str
) -> None:
    kept = db.execute(
        "SELECT count(*) FROM evidence WHERE origin = ? AND kind = ?", (origin, kind.value)
    ).fetchone()[0]
    if kept < _EVIDENCE_KEPT:
        db.execute(
            "INSERT OR IGNORE INTO evidence (origin, kind, size, note, seen_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (origin, kind.value, size, signed, _now().isoformat()),
        )


_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (
    origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL, note TEXT NOT NULL,
    updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    origin TEXT NOT NULL, size INTEGER NOT NULL, root BLOB NOT NULL, cosigned_at TEXT NOT NULL,
    PRIMARY KEY (origin, size));
CREATE TABLE IF NOT EXISTS evidence (
    id INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, kind TEXT NOT NULL,
    size INTEGER NOT NULL, note TEXT NOT NULL, seen_at TEXT NOT NULL,
    UNIQUE (origin, kind, note));
"""


def witness_state_path(settings: Settings) -> str:
    """``witness_state_file``, else ``<state_dir>/witness.db``."""
    return settings.witness_state_file or str(Path(settings.state_dir) / "witness.db")


def open_witness(settings: Settings) -> Witness:
    """The witness ``govledger witness serve`` runs: key, witnessed logs, state (settings)."""
    if not settings.witness_key_file:
        raise ConfigurationError("no witness key: set GOVLEDGER_WITNESS_KEY_FILE")
    if not settings.witness_logs_file:
        raise ConfigurationError("no witnessed logs: set GOVLEDGER_WITNESS_LOGS_FILE")
    signer = load_witness_signer(settings.witness_key_file)
    logs = load_witnessed_logs(settings.witness_logs_file)
    return Witness(signer, logs, witness_state_path(settings))
