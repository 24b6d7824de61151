"""The trusted core: events, the hash-chained store, Merkle tree and checkpoints.

Imports none of ``projections``, ``security``, ``api`` or ``ops``.
"""
