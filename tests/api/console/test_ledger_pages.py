"""证据包核验 verifies against this ledger's own trust, never the bundle's (checkpoint-format §13).

A bundle of another ledger, one signed by another key, a wholly forged one, and one of a
copy of this ledger that went its own way are each refused: 422, red 核验未通过 with the
reason, never green.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ledger.checkpoints import generate_key_file, issue_checkpoint, witness_checkpoint
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.evidence import build_bundle
from tests.api.console.conftest import Console
from tests.ledger._checkpoints import append_rows


def check(console: Console, content: bytes) -> tuple[int, str]:
    csrf = console.csrf()
    reply = console.client.post(
        "/console/ledger/evidence/check",
        data={"csrf": csrf},
        files={"bundle": ("b.json", content, "application/json")},
    )
    return reply.status_code, reply.text


def assert_refused(console: Console, content: bytes, *reason: str) -> None:
    status, text = check(console, content)
    assert status == 422, text
    assert "核验未通过" in text and "核验通过" not in text.replace("核验未通过", "")
    assert 'class="ok verdict"' not in text
    for words in reason:
        assert words in text, text


def other_ledger(directory: Path, **overrides: object) -> Settings:
    """A ledger of 20 rows elsewhere, signed by its own key unless ``overrides`` say otherwise."""
    directory.mkdir()
    settings = Settings(
        database_url=f"sqlite:///{directory / 'other.db'}",
        state_dir=str(directory / "state"),
        checkpoint_key_file=str(directory / "log.key"),
    ).with_overrides(**overrides)
    if not Path(settings.checkpoint_key_file).exists():
        generate_key_file(settings.checkpoint_key_file, "govledger.test")
    append_rows(settings, 20)
    issue_checkpoint(settings)
    return settings


def test_a_bundle_of_this_ledger_is_verified(console: Console) -> None:
    console.login(Role.AUDITOR)
    bundle = console.client.get("/console/ledger/evidence?position=9").content
    status, text = check(console, bundle)
    assert status == 200 and 'class="ok verdict"' in text and "核验通过" in text


def test_a_bundle_of_another_ledger_signed_by_another_key_is_refused(
    console: Console, tmp_path: Path
) -> None:
    console.login(Role.AUDITOR)
    other = other_ledger(tmp_path / "other")
    assert_refused(console, build_bundle(other, [4]).encode(), "not among the keys you trust")


def test_a_bundle_of_another_ledger_signed_by_this_ledgers_key_is_refused(
    console: Console, tmp_path: Path
) -> None:
    """The same log key, witness and configured origin on two ledgers: the genesis tells them
    apart."""
    zone = console.settings
    key = str(Path(zone.trusted_keys_file).parent / "log.key")
    shared = {
        "checkpoint_key_file": key,
        "checkpoint_origin": "govledger.test/shared",
        "witness_keys_file": zone.witness_keys_file,
    }
    other = other_ledger(tmp_path / "other", **shared)
    witness_key = str(Path(zone.trusted_keys_file).parent / "witness.key")
    witness_checkpoint(other, witness_key, str(tmp_path / "other-witness.state"))  # same witness
    console.client.app.state.services.settings = zone.with_overrides(  # type: ignore[attr-defined]
        checkpoint_origin="govledger.test/shared"
    )
    console.login(Role.AUDITOR)
    assert_refused(console, build_bundle(other, [4]).encode(), "证据包属于另一账本")


def test_a_wholly_forged_bundle_is_refused(console: Console, tmp_path: Path) -> None:
    """The forger's own ledger, under this ledger's origin, signed with a key of the same name."""
    console.login(Role.AUDITOR)
    bundle = console.client.get("/console/ledger/evidence?position=3").text
    origin = bundle.split('"checkpoint": "', 1)[1].split("\\n", 1)[0]
    forged = other_ledger(tmp_path / "forger", checkpoint_origin=origin)
    assert_refused(console, build_bundle(forged, [3]).encode(), "核验失败")


@pytest.mark.parametrize(
    "content",
    [
        b'{"checkpoint": ' + b"9" * 5000 + b"}",  # more digits than int() converts
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the stack
        b'{"a": ' * 5000 + b"1" + b"}" * 5000,
    ],
    ids=["huge_integer", "deep_array", "deep_object"],
)
def test_json_that_python_cannot_read_is_refused_not_a_500(
    console: Console, content: bytes
) -> None:
    """json.loads raises ValueError or RecursionError, not its JSONDecodeError, for these:
    the verifier names them (ledger/evidence_verify.py), and the page refuses them as it
    refuses any malformed bundle."""
    console.login(Role.AUDITOR)
    assert_refused(console, content, "核验失败：not readable JSON")


def test_a_bundle_of_a_diverged_copy_of_this_ledger_is_refused(
    console: Console, tmp_path: Path
) -> None:
    """A copy of this very ledger (same genesis, same key) that went its own way: its
    checkpoint verifies, but this ledger never issued it."""
    zone = console.settings
    copy_path = tmp_path / "copy.db"
    with sqlite3.connect(zone.database.path) as source, sqlite3.connect(copy_path) as target:
        source.backup(target)
    key = str(Path(zone.trusted_keys_file).parent / "log.key")
    copy = zone.with_overrides(
        database_url=f"sqlite:///{copy_path}",
        state_dir=str(tmp_path / "s"),
        checkpoint_key_file=key,
    )
    append_rows(copy, 3)
    issue_checkpoint(copy)
    witness_key = str(Path(zone.trusted_keys_file).parent / "witness.key")
    witness_checkpoint(copy, witness_key, str(tmp_path / "other-witness.state"))  # same witness
    console.login(Role.AUDITOR)
    bundle = build_bundle(copy, [41])
    assert_refused(console, bundle.encode(), "不是本账本签发的")


@pytest.mark.parametrize("configured", ["nothing", "an empty keys file"])
def test_without_trusted_keys_the_console_refuses_to_judge(
    console: Console, tmp_path: Path, configured: str
) -> None:
    console.login(Role.AUDITOR)
    bundle = console.client.get("/console/ledger/evidence?position=9").content
    empty = tmp_path / "empty.keys"
    empty.write_text("# no keys yet\n", encoding="utf-8")
    keys_file = "" if configured == "nothing" else str(empty)
    services = console.client.app.state.services  # type: ignore[attr-defined]
    services.settings = services.settings.with_overrides(trusted_keys_file=keys_file)
    assert_refused(console, bundle, "未配置受信任的账本公钥")


def test_the_ledger_page_shows_awaiting_witnesses_as_its_own_state(console: Console) -> None:
    """A checkpoint issued and not yet cosigned is 等待见证, not a failure (§11)."""
    console.login(Role.AUDITOR)
    page = console.client.get("/console/ledger").text
    assert 'class="witnessing-witnessed"' in page and "已见证" in page
    zone = console.settings
    key = str(Path(zone.trusted_keys_file).parent / "log.key")
    append_rows(zone, 2)
    issue_checkpoint(zone.with_overrides(checkpoint_key_file=key))
    page = console.client.get("/console/ledger").text
    assert 'class="witnessing-awaiting-witnesses"' in page
    assert "等待见证：1 个较新的检查点" in page and "不是篡改" in page


def test_without_a_witness_quorum_the_page_says_signed_not_witnessed(console: Console) -> None:
    """With no quorum set (a newcomer's `make run`), 0 cosignatures must not read 已见证."""
    services = console.client.app.state.services  # type: ignore[attr-defined]
    services.settings = services.settings.with_overrides(witness_quorum=0)
    console.login(Role.AUDITOR)
    page = console.client.get("/console/ledger").text
    assert "未要求见证人副署" in page and "已见证" not in page
