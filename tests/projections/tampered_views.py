"""Someone who can write the views' database (not the ledger): deletes or alters a row of
``views_findings`` through an ordinary connection, on either backend. What the issue
paths must refuse (projections/view_check.py, docs/reports.md §Issued from checked views)."""

from __future__ import annotations

from ledger.config import Settings
from projections.store import ViewStore


def _one_finding(store: ViewStore, rule: str) -> str:
    rows = store.query(
        f"SELECT finding_id FROM {store.table('findings')} WHERE rule = ? ORDER BY finding_id",
        (rule,),
    )
    assert rows, f"the scenario has no {rule} finding in the views"
    return str(rows[0][0])


def delete_finding(settings: Settings, rule: str = "F1") -> str:
    """Delete the (first) finding of ``rule`` from the served views; its id."""
    store = ViewStore(settings)
    try:
        found = _one_finding(store, rule)
        store.query(f"DELETE FROM {store.table('findings')} WHERE finding_id = ?", (found,))
        return found
    finally:
        store.close()


def soften_finding(settings: Settings, rule: str = "F1") -> str:
    """Change the (first) finding of ``rule``'s severity in the served views; its id."""
    store = ViewStore(settings)
    try:
        found = _one_finding(store, rule)
        store.query(
            f"UPDATE {store.table('findings')} SET severity = CASE WHEN severity = 'low' "
            "THEN 'high' ELSE 'low' END WHERE finding_id = ?",
            (found,),
        )
        return found
    finally:
        store.close()
