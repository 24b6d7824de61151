"""What the 账本状态 page shows, read from the ledger's own records (no computing of our own).

Head: the chain's last row (docs/ledger-format.md §5). Verified head: what
``verify`` recorded (ledger/verify.py :class:`HeadRecord`, §8). Checkpoint:
the newest stored signed note with its witness cosignatures
(docs/checkpoint-format.md), each signature line classified by the keys this
service trusts (``trusted_keys_file``, ``witness_keys_file``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from ledger import note
from ledger.checkpoints import (
    CheckpointStore,
    StoredCheckpoint,
    load_trusted_keys,
    load_witness_keys,
)
from ledger.config import Settings
from ledger.errors import LedgerError, NoteError
from ledger.store.connect import open_reader
from ledger.tree import Database
from ledger.verify import HeadRecord, VerifiedHead
from projections.labels import cst_text

# How a signature line of the newest checkpoint stands against the keys we trust.
LOG_SIGNATURE = "log"
WITNESS_COSIGNATURE = "witness"
UNKNOWN_KEY = "unknown"
INVALID = "invalid"


@dataclass(frozen=True)
class SignatureLine:
    name: str
    key_id: str  # 8 hex digits, as in the note's key hash
    standing: str  # one of LOG_SIGNATURE, WITNESS_COSIGNATURE, UNKNOWN_KEY, INVALID
    cosigned_at: str | None = None  # a witness's timestamp (tlog-cosignature), UTC


@dataclass(frozen=True)
class CheckpointView:
    id: int
    tree_size: int
    root_hex: str
    issued_at: str
    note_text: str
    signatures: tuple[SignatureLine, ...]

    @property
    def witness_count(self) -> int:
        return sum(1 for s in self.signatures if s.standing == WITNESS_COSIGNATURE)


@dataclass(frozen=True)
class LedgerHealth:
    ledger_id: str
    hash_algorithm: str
    created_at: str
    head_position: int
    head_hash_hex: str
    verified: VerifiedHead | None
    checkpoint: CheckpointView | None
    witness_quorum: int
    problems: tuple[str, ...] = field(default=())

    @property
    def unverified_rows(self) -> int:
        return self.head_position - (self.verified.position if self.verified else 0)


def ledger_health(settings: Settings) -> LedgerHealth:
    reader = open_reader(settings)
    try:
        genesis = reader.genesis()
        head = reader.max_position()
        row = reader.row_at(head) if head else None
    finally:
        reader.close()
    problems: list[str] = []
    checkpoint = None
    try:
        checkpoint = _checkpoint_view(settings)
    except LedgerError as e:  # shown on the page: a broken key file must not hide the rest
        problems.append(str(e))
    return LedgerHealth(
        ledger_id=genesis.ledger_id,
        hash_algorithm=genesis.hash_algorithm,
        created_at=str(genesis.created_at),
        head_position=head,
        head_hash_hex=(row[6] if row else genesis.genesis_hash).hex(),
        verified=HeadRecord(settings.state_dir).load(genesis.ledger_id),
        checkpoint=checkpoint,
        witness_quorum=settings.witness_quorum,
        problems=tuple(problems),
    )


def _checkpoint_view(settings: Settings) -> CheckpointView | None:
    database = Database(settings, readonly=True)
    try:
        stored = CheckpointStore(database).latest()
    finally:
        database.close()
    if stored is None:
        return None
    return CheckpointView(
        id=stored.id,
        tree_size=stored.tree_size,
        root_hex=stored.root_hash.hex(),
        issued_at=str(stored.issued_at),
        note_text=note.parse(stored.note).text,
        signatures=_signature_lines(settings, stored),
    )


def _signature_lines(settings: Settings, stored: StoredCheckpoint) -> tuple[SignatureLine, ...]:
    parsed = note.parse(stored.served)
    log_keys = {(k.name, k.key_id) for k in load_trusted_keys(settings).active}
    witnesses = load_witness_keys(settings)
    trusted: list[note.Verifier] = [*load_trusted_keys(settings).active, *witnesses]
    try:
        verified = {s.key for s in note.verify_signatures(parsed, trusted)[0]}
        failed: set[tuple[str, int]] = set()
    except NoteError:  # one bad line: check each on its own to say which
        verified, failed = _one_by_one(parsed, trusted)
    witness_keys = {(w.name, w.key_id) for w in witnesses}
    lines = []
    for signature in parsed.signatures:
        key = signature.key
        if key in failed:
            standing = INVALID
        elif key in verified and key in log_keys:
            standing = LOG_SIGNATURE
        elif key in verified and key in witness_keys:
            standing = WITNESS_COSIGNATURE
        else:
            standing = UNKNOWN_KEY
        lines.append(
            SignatureLine(
                signature.name,
                f"{signature.key_id:08x}",
                standing,
                _cosigned_at(signature) if standing == WITNESS_COSIGNATURE else None,
            )
        )
    return tuple(lines)


def _one_by_one(
    parsed: note.Note, trusted: list[note.Verifier]
) -> tuple[set[tuple[str, int]], set[tuple[str, int]]]:
    verified: set[tuple[str, int]] = set()
    failed: set[tuple[str, int]] = set()
    for signature in parsed.signatures:
        try:
            ok, _ = note.verify_signatures(note.Note(parsed.text, (signature,)), trusted)
        except NoteError:
            failed.add(signature.key)
            continue
        verified.update(s.key for s in ok)
    return verified, failed


def _cosigned_at(signature: note.NoteSignature) -> str | None:
    """The timestamp a cosignature/v1 line carries (its first 8 bytes), as CST text."""
    if len(signature.signature) < 8:
        return None
    seconds = int.from_bytes(signature.signature[:8], "big")
    try:
        return cst_text(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError):
        return None
