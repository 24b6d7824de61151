"""One family of typed errors for the ledger core.

Every failure the ledger reports to its callers is a :class:`LedgerError`, so a
CLI or API layer can turn any of them into a one-line message or a 4xx body
without catching bare exceptions. Subclasses name the kind of failure.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Base class of every error raised by the ledger package."""


class ConfigurationError(LedgerError):
    """A setting is missing, malformed or contradicts the stored ledger."""


class StoreUnavailableError(LedgerError):
    """The database cannot be reached or opened (refused, missing, not a database)."""


class ForeignStoreError(LedgerError):
    """The database exists but is not a govledger ledger (or an incompatible one)."""


class ChainWriteError(LedgerError):
    """Appending to the chain failed; the transaction was rolled back."""


class VerificationError(LedgerError):
    """A chain, proof, note or checkpoint did not verify."""


class ProofError(VerificationError):
    """A Merkle inclusion or consistency proof is malformed or does not verify."""


class NoteError(VerificationError):
    """A signed note or checkpoint is malformed, unsigned or signed by an unknown key."""
