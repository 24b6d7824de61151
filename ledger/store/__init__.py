"""The chained store: eventsourcing recorders that hash-chain every row (docs/ledger-format.md §6).

``sqlite`` and ``postgres`` each export a ``Factory`` for eventsourcing's
``PERSISTENCE_MODULE`` and a row reader for verification and export;
:mod:`ledger.store.open` picks one from the configured database URL.
"""
