"""The log's and the witnesses' keys, as files (docs/checkpoint-format.md §6, §7, §11).

* The log's **signer** key (``checkpoint_key_file``, ``PRIVATE+KEY+…``, type
  0x01) and a witness's (type 0x04, a govledger convention). They live in files
  outside the database and are never logged: errors name the file, never its
  content.
* The **trusted keys file** (``trusted_keys_file``): the log's verifier keys,
  each active, ``retired `` (replaced: its signatures still count, it may no
  longer sign) or ``revoked `` (withdrawn: its signatures never count), §6.
  :func:`load_issuer` is the one place that decides whether a signer key may
  sign: only a key listed as active.
* The **witness keys file** (``witness_keys_file``): witnesses' verifier keys.

Where the files are (§11 *Keys*): the paths in settings; on SQLite, the
newcomer's embedded store, an unset path defaults to ``<state_dir>/keys/``
(``checkpoint.key``, ``trusted-keys.txt``) once that file exists, so that
``govledger init`` can create them there and every command and the service find
them without any setting. PostgreSQL (production) has no default: the issuer
alone is pointed at its key, so the API never starts signing by accident.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger import note
from ledger.checkpoint import (
    ACTIVE,
    RETIRED,
    REVOKED,
    CosignatureSigner,
    CosignatureVerifier,
    key_file_lines,
    key_standing,
)
from ledger.config import Settings
from ledger.errors import ConfigurationError, NoteError

__all__ = [
    "DEFAULT_KEYS_DIR",
    "TrustedKeys",
    "default_key_paths",
    "generate_key_file",
    "load_issuer",
    "load_signer",
    "load_trusted_keys",
    "load_witness_keys",
    "load_witness_signer",
    "parse_trusted_keys",
    "public_keys",
    "read_key_lines",
    "signer_key_file",
    "trusted_keys_path",
]

DEFAULT_KEYS_DIR = "keys"
"""Under ``state_dir`` (SQLite only): ``checkpoint.key`` and ``trusted-keys.txt``."""
_DEFAULT_SIGNER, _DEFAULT_TRUSTED = "checkpoint.key", "trusted-keys.txt"


def default_key_paths(settings: Settings) -> tuple[str, str] | None:
    """Where ``init`` puts the signer key and the trusted keys file when no path is set:
    ``<state_dir>/keys/`` on SQLite; ``None`` on PostgreSQL (set the paths explicitly)."""
    if settings.database.backend != "sqlite":
        return None
    directory = Path(settings.state_dir) / DEFAULT_KEYS_DIR
    return str(directory / _DEFAULT_SIGNER), str(directory / _DEFAULT_TRUSTED)


def _configured_or_default(configured: str, settings: Settings, which: int) -> str:
    if configured:
        return configured
    defaults = default_key_paths(settings)
    return defaults[which] if defaults and Path(defaults[which]).is_file() else ""


def signer_key_file(settings: Settings) -> str:
    """The log's signer key file: ``checkpoint_key_file``, else the SQLite default if it
    exists; ``""`` when there is none (then nothing signs)."""
    return _configured_or_default(settings.checkpoint_key_file, settings, 0)


def trusted_keys_path(settings: Settings) -> str:
    """The trusted keys file: ``trusted_keys_file``, else the SQLite default if it exists."""
    return _configured_or_default(settings.trusted_keys_file, settings, 1)


def read_key_lines(path: str, what: str) -> list[str]:
    """Non-empty, non-comment lines of a key file; errors never quote its content."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigurationError(f"cannot read {what} {path}: {e.__class__.__name__}") from None
    return key_file_lines(text)


def _single_key(path: str, what: str) -> str:
    lines = read_key_lines(path, what)
    if len(lines) != 1:
        raise ConfigurationError(f"{what} {path} must hold exactly one key line")
    return lines[0]


def load_signer(settings: Settings) -> note.Ed25519Signer:
    """The log's signer key from ``checkpoint_key_file`` (c2sp.org/signed-note, type 0x01).

    Loading is not permission to sign: :func:`load_issuer` decides that.
    """
    path = signer_key_file(settings)
    if not path:
        raise ConfigurationError(
            "no checkpoint signer key: run `govledger init` or set GOVLEDGER_CHECKPOINT_KEY_FILE"
        )
    return read_signer_file(path)


def read_signer_file(path: str) -> note.Ed25519Signer:
    """A log signer key (``PRIVATE+KEY+…``, type 0x01) from ``path``; errors name the file only."""
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
    """The log's verifier keys by standing (checkpoint-format §6).

    Active and retired keys' signatures count; revoked ones' never do. A key
    listed as revoked is left out of the other two.
    """

    active: tuple[note.Ed25519Verifier, ...]
    retired: tuple[note.Ed25519Verifier, ...] = ()
    revoked: tuple[note.Ed25519Verifier, ...] = ()

    @property
    def counted(self) -> tuple[note.Ed25519Verifier, ...]:
        """The keys whose signatures count: active, then retired."""
        return self.active + self.retired

    def standing(self, key: note.Ed25519Verifier) -> str | None:
        """``active``, ``retired``, ``revoked`` or ``None`` (not listed) for ``key``."""
        for standing, keys in ((REVOKED, self.revoked), (ACTIVE, self.active)):
            if key in keys:
                return standing
        return RETIRED if key in self.retired else None

    def lines(self) -> list[str]:
        """The trusted-keys-file form: one vkey a line, with its standing's prefix."""
        return (
            [k.encode() for k in self.active]
            + [f"{RETIRED} {k.encode()}" for k in self.retired]
            + [f"{REVOKED} {k.encode()}" for k in self.revoked]
        )


def parse_trusted_keys(lines: Sequence[str], source: str) -> TrustedKeys:
    by_standing: dict[str, list[note.Ed25519Verifier]] = {ACTIVE: [], RETIRED: [], REVOKED: []}
    for number, line in enumerate(lines, start=1):
        standing, text = key_standing(line)
        try:
            by_standing[standing].append(note.Ed25519Verifier.from_string(text))
        except NoteError as e:
            raise ConfigurationError(f"{source}: key {number}: {e}") from None
    revoked = tuple(dict.fromkeys(by_standing[REVOKED]))
    retired = tuple(k for k in dict.fromkeys(by_standing[RETIRED]) if k not in revoked)
    active = tuple(
        k for k in dict.fromkeys(by_standing[ACTIVE]) if k not in revoked and k not in retired
    )
    return TrustedKeys(active, retired, revoked)


def load_trusted_keys(settings: Settings) -> TrustedKeys:
    """The trusted keys file (:func:`trusted_keys_path`); without one, the public half of the
    signer key (bootstrap)."""
    path = trusted_keys_path(settings)
    if path:
        return parse_trusted_keys(read_key_lines(path, "trusted keys file"), path)
    if signer_key_file(settings):
        return TrustedKeys((load_signer(settings).verifier(),))
    return TrustedKeys(())


def load_issuer(settings: Settings) -> note.Ed25519Signer:
    """The signer key, if it may sign a new checkpoint: listed as active (§6, §11).

    A retired, revoked or unlisted key is refused with one line. Without a
    trusted keys file (bootstrap) the signer's own public half is the trusted key.
    """
    signer = load_signer(settings)
    where = trusted_keys_path(settings)
    if not where:
        return signer
    standing = load_trusted_keys(settings).standing(signer.verifier())
    if standing == ACTIVE:
        return signer
    label = f"{signer.name}+{signer.key_id:08x}"
    if standing is None:
        why = f"is not listed as an active key in {where}"
    else:
        why = f"is {standing} in {where}"
    raise ConfigurationError(
        f"checkpoint key {label} ({signer_key_file(settings)}) {why}: it may no longer "
        "sign; point GOVLEDGER_CHECKPOINT_KEY_FILE at the active key"
    )


def load_witness_keys(settings: Settings) -> tuple[CosignatureVerifier, ...]:
    """Witness verifier keys (type 0x04), one a line, from ``witness_keys_file``."""
    path = settings.witness_keys_file
    if not path:
        return ()
    keys: list[CosignatureVerifier] = []
    for number, line in enumerate(read_key_lines(path, "witness keys file"), start=1):
        try:
            keys.append(CosignatureVerifier.from_string(line))
        except NoteError as e:
            raise ConfigurationError(f"{path}: key {number}: {e}") from None
    return tuple(keys)


def public_keys(settings: Settings) -> list[str]:
    """Verifier keys to publish: the signer's, then the trusted keys file's (with standings)."""
    lines = [load_signer(settings).verifier().encode()] if signer_key_file(settings) else []
    if trusted_keys_path(settings):
        lines += load_trusted_keys(settings).lines()
    if not lines:
        raise ConfigurationError(
            "no keys: run `govledger init`, or set GOVLEDGER_CHECKPOINT_KEY_FILE or "
            "GOVLEDGER_TRUSTED_KEYS_FILE"
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
