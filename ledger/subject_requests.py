"""Who read my records: one data subject's accesses, from the chain, with proofs (issue 19).

个人信息保护法 §44–45 give a person the right to know and to consult how their
personal information is processed. docs/ledger-format.md §9.1: the subject's
identifier gives its blind index, the blind index its key ids (live or erased)
in the key table, the key ids the ``DataAccess.Recorded`` rows whose
``subjects`` name them (key ids, or in older rows sealed values naming them),
through the access index caught up to the tree's size first. Each access is
read from its stored row (the bytes the chain hashes), with its ledger position
and an inclusion proof in that tree; a subject whose key is destroyed reads as
erased. docs/privacy.md says
what the answer holds and why (the department, not the civil servant, answers).

Reading only: the caller (``GovLedger.subject_accesses``) records the lookup.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ledger.config import Settings
from ledger.domain.calendar import CHINA_STANDARD_TIME
from ledger.subject_keys import ACCESS_TOPIC, SubjectKeys, events_table, subject_key_ids
from ledger.subjects import SUBJECTS_FIELD, SubjectVault
from ledger.tree import LedgerTree, TreeConflictError, open_ledger_tree
from ledger.tree_database import Database

ERASED_TEXT = "[已删除 erased]"
CHUNK = 900  # ids per statement (SQLite allows 999 placeholders at least)


@dataclass(frozen=True, slots=True)
class SubjectAccess:
    """One access to the subject's records, as its row states it."""

    position: int
    access_id: str
    platform_event_id: str
    accessed_at: str
    department: str
    system: str | None
    resource_code: str
    items: tuple[str, ...]
    purpose: str | None
    grant_id: str | None
    authorized: bool
    reasons: tuple[str, ...]
    subject_erased: bool
    proof: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "access_id": self.access_id,
            "platform_event_id": self.platform_event_id,
            "accessed_at": self.accessed_at,
            "department": self.department,
            "system": self.system,
            "resource_code": self.resource_code,
            "items": list(self.items),
            "purpose": self.purpose,
            "grant_id": self.grant_id,
            "authorized": self.authorized,
            "reasons": list(self.reasons),
            "subject": ERASED_TEXT if self.subject_erased else "本人",
            "subject_erased": self.subject_erased,
            "inclusion_proof": self.proof,
        }


@dataclass(frozen=True, slots=True)
class SubjectAnswer:
    """The answer to one request: the subject's accesses in the period, oldest first."""

    key_ids: tuple[str, ...]
    erased: bool  # every key the subject had is destroyed
    start: date
    end: date
    accesses: tuple[SubjectAccess, ...]
    tree_size: int


def find_accesses(vault: SubjectVault, identifier: str, start: date, end: date) -> SubjectAnswer:
    """Every access naming the subject, ``start``..``end`` (CST days, inclusive), among
    the rows the tree covers once brought up to the chain's head."""
    with vault.keys() as keys:
        rows = keys.rows_of(vault.blind(identifier))
    key_of = {row.key_id: row.key for row in rows}
    with open_ledger_tree(vault.settings) as tree:
        size = _integrated(tree)
        found = _rows_naming(vault.settings, key_of, start, end, size) if key_of else []
        accesses = tuple(
            _access(position, originator, state, erased, tree.inclusion(position, size).to_json())
            for position, originator, state, erased in found
        )
    return SubjectAnswer(
        key_ids=tuple(key_of),
        erased=bool(key_of) and all(key is None for key in key_of.values()),
        start=start,
        end=end,
        accesses=accesses,
        tree_size=size,
    )


def catch_up_index(settings: Settings) -> int:
    """Bring the tree and then the access index up to the chain's head; the index's head.

    What the service runs between lookups (``api/app.py``, every checkpoint interval),
    so that a lookup reads only what came since, not a day's ingest."""
    with open_ledger_tree(settings) as tree:
        size = _integrated(tree)
    database = Database(settings)
    try:
        return SubjectKeys(database).catch_up(size)
    finally:
        database.close()


def _integrated(tree: LedgerTree) -> int:
    """The tree's size once integrated (or as another integrator left it)."""
    try:
        tree.integrate()
    except TreeConflictError:
        tree.refresh()  # another integrator is at it: answer for the tree it left
    return tree.size


def _rows_naming(
    settings: Settings, key_of: dict[str, bytes | None], start: date, end: date, size: int
) -> list[tuple[int, str, dict[str, Any], bool]]:
    """(position, access id, state, subject erased) of the access rows up to ``size``
    naming these keys: the access index, caught up to ``size``, gives their ids; each row
    is read by its primary key and checked (rows indexed by earlier versions may name an
    access a failed batch never stored; ledger/subject_keys.py)."""
    low = datetime.combine(start, datetime.min.time(), CHINA_STANDARD_TIME)
    high = datetime.combine(end + timedelta(days=1), datetime.min.time(), CHINA_STANDARD_TIME)
    # A connection of its own: the vault's (shared on PostgreSQL) stays free for ingest
    # while a long catch-up runs.
    database = Database(settings)
    try:
        keys = SubjectKeys(database)
        keys.catch_up(size)
        access_ids = keys.accesses_of(list(key_of))
        rows = _access_rows(database, access_ids, size)
    finally:
        database.close()
    found = []
    for pos, originator, raw in sorted(rows, key=lambda row: int(row[0])):
        state = json.loads(bytes(raw))
        named = [kid for kid in subject_key_ids(state.get(SUBJECTS_FIELD)) if kid in key_of]
        if not named:  # indexed, but the stored row does not name the key (a retried batch)
            continue
        accessed = datetime.fromisoformat(state["accessed_at"]["_data_"])
        if not low <= accessed < high:
            continue
        erased = all(key_of[kid] is None for kid in named)
        found.append((int(pos), str(originator).replace("-", ""), state, erased))
    return found


def _access_rows(database: Database, access_ids: list[str], size: int) -> list[tuple[Any, ...]]:
    """(position, originator id, state) of these accesses' rows at positions 1..``size``,
    by primary key."""
    table, position = events_table(database)
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(access_ids), CHUNK):
        chunk = access_ids[i : i + CHUNK]
        if database.backend == "sqlite":
            where = f"originator_id IN ({', '.join('?' * len(chunk))}) AND rowid BETWEEN 1 AND ?"
        else:
            where = (
                "originator_id = ANY(string_to_array(?, ',')::uuid[]) "
                "AND notification_id BETWEEN 1 AND ?"
            )
            chunk = [",".join(chunk)]
        rows += database.query(
            f"SELECT {position}, originator_id, state FROM {table} "
            f"WHERE {where} AND originator_version = 1 AND topic = ?",
            [*chunk, size, ACCESS_TOPIC],
        )
    return rows


def _access(
    position: int, originator: str, state: dict[str, Any], erased: bool, proof: dict[str, Any]
) -> SubjectAccess:
    verdict = state["verdict"]["_data_"]
    grant = state.get("grant_id")
    return SubjectAccess(
        position=position,
        access_id=originator,
        platform_event_id=state["platform_event_id"],
        accessed_at=state["accessed_at"]["_data_"],
        department=state["department"],
        system=state.get("system"),
        resource_code=state["resource_code"],
        items=tuple(state["items"]),
        purpose=state.get("purpose"),
        grant_id=None if grant is None else str(grant["_data_"]).replace("-", ""),
        authorized=bool(verdict["authorized"]),
        reasons=tuple(verdict["reasons"]),
        subject_erased=erased,
        proof=proof,
    )


def erased_key_ids(database: Database) -> list[str]:
    """Every key id an erasure event names: the erasure log (ledger-format §9.1)."""
    table, position = events_table(database)
    rows = database.query(
        f"SELECT state FROM {table} WHERE topic = ? ORDER BY {position}", (ERASED_TOPIC,)
    )
    return [kid for (raw,) in rows for kid in json.loads(bytes(raw))["key_ids"]]


ERASED_TOPIC = "ledger.domain.data_subject:DataSubject.Erased"
