"""Issued reports anchored in the ledger: ``report … --issue`` and ``report verify FILE``.

docs/reports.md "Issuance and verification"; ledger/report_evidence.py, ops/report_verify_cli.py,
ledger/commands/report_issue.py. Online and offline (evidence bundle + published key); a
one-byte-changed copy is refused.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ledger.application import GovLedger
from ledger.config import Settings
from ledger.domain import Actor, DomainError, Role
from ledger.domain.errors import ErrorCode
from ledger.domain.ids import department_id
from ledger.domain.report_issue import ISSUED_TOPIC, IssuedReport, issued_report_id
from ledger.evidence_verify import write_zipapp
from ledger.report_evidence import ISSUED_TOPIC as SPELLED_TOPIC
from ledger.report_evidence import issued_report_id as spelled_id
from ledger.store.connect import application_env, init_ledger, ledger_head
from projections.runner import run_projections
from tests.ledger.domain.builders import NDRC, USER_DEPT
from tests.ops.test_proofs_cli import cli, run  # noqa: F401  (the fixture and the runner)
from tests.projections.reports.scenario import build
from tests.projections.tampered_views import delete_finding, soften_finding

AUDITOR = Actor("audit-1", Role.AUDITOR, None)


def _ledger(settings: Settings) -> None:
    init_ledger(settings)
    app = GovLedger(env=application_env(settings))
    app.register_department(NDRC, USER_DEPT, "区人社局")
    app.close()


def test_issue_then_verify_online_and_offline_and_refuse_a_changed_byte(
    cli: Settings,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = str(tmp_path / "keys" / "log.key")
    code, vkey, _ = run(capsys, "keys", "generate", "--name", "log.example", "-o", key)
    assert code == 0
    trusted = tmp_path / "keys" / "trusted"
    trusted.write_text(vkey)
    monkeypatch.setenv("GOVLEDGER_TRUSTED_KEYS_FILE", str(trusted))
    _ledger(cli)
    report = tmp_path / "audit.json"
    code, out, err = run(
        capsys, "report", "audit", "--year", "2026", "--format", "json", "-o", str(report),
        "--issue", "--actor-id", "audit-1",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("issued: SHA-256 ") and "recorded at ledger position 2" in out
    code, out, err = run(capsys, "report", "verify", str(report))
    assert code == 2 and "issued at ledger position 2, but no proof yet" in err
    assert run(capsys, "checkpoint", "issue")[0] == 0

    bundle = tmp_path / "evidence.json"
    code, out, err = run(
        capsys, "report", "verify", str(report), "--json", "--evidence-out", str(bundle)
    )
    assert code == 0, err
    answer = json.loads(out)
    assert answer["ok"] and answer["position"] == 2
    assert (answer["issuance"]["kind"], answer["issuance"]["year"]) == ("audit", 2026)
    assert answer["issuance"]["as_of_position"] == 1
    assert answer["issuance"]["actor"] == "audit-1 (auditor)"

    offline = ("--evidence", str(bundle), "--log-keys-file", str(trusted))
    code, out, _ = run(capsys, "report", "verify", str(report), *offline)
    assert code == 0 and out.startswith("OK issued: audit report 2026 (json")

    changed = tmp_path / "changed.json"
    content = bytearray(report.read_bytes())
    content[len(content) // 2] ^= 0x01
    changed.write_bytes(bytes(content))
    code, out, _ = run(capsys, "report", "verify", str(changed))
    assert code == 1 and out.startswith("NOT ISSUED")
    code, out, _ = run(capsys, "report", "verify", str(changed), *offline)
    assert code == 1 and "holds no issuance" in out

    # The standalone verifier (a zipapp with no govledger installed) checks the file too.
    write_zipapp(tmp_path / "verify.pyz")
    zipapp = [sys.executable, "-I", str(tmp_path / "verify.pyz"), str(bundle)]
    keys = ["--log-keys-file", str(trusted)]
    done = subprocess.run(
        [*zipapp, *keys, "--report", str(report)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith(f"OK {report} (SHA-256 ") and "audit report 2026" in done.stdout
    done = subprocess.run(
        [*zipapp, *keys, "--report", str(changed)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1 and done.stdout.startswith("FAIL the evidence holds no issuance")

    other_key = tmp_path / "other"
    other_key.write_text(vkey.replace("log.example", "log.other"))
    code, out, _ = run(
        capsys, "report", "verify", str(report), "--evidence", str(bundle),
        "--log-keys-file", str(other_key),
    )  # fmt: skip
    assert code == 1 and "does not verify" in out


def test_only_issuers_issue_and_a_bad_position_is_refused(settings: Settings) -> None:
    _ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        clerk = Actor("c", Role.DEPARTMENT_CLERK, USER_DEPT)
        for actor, position, code in (
            (clerk, 1, ErrorCode.ROLE_NOT_PERMITTED),
            (AUDITOR, 99, ErrorCode.INVALID_VALUE),
        ):
            with pytest.raises(DomainError) as refused:
                app.issue_report(
                    actor, kind="audit", year=2026, as_of_position=position, files=[("pdf", b"x")]
                )
            assert refused.value.code is code
        assert app.recorder.max_notification_id() == 1
        (first, second) = app.issue_report(
            AUDITOR, kind="audit", year=2026, as_of_position=1,
            files=[("pdf", b"%PDF-1"), ("xlsx", b"PK..")],
        )  # fmt: skip
        assert (first.position, second.position) == (2, 3)
        (again,) = app.issue_report(
            AUDITOR, kind="audit", year=2026, as_of_position=2, files=[("pdf", b"%PDF-1")]
        )
        assert (again.position, again.recorded) == (2, False)
        assert app.recorder.max_notification_id() == 3
        assert app.issued(first.sha256) is not None and app.issued("0" * 64) is None
    finally:
        app.close()


def test_an_issuance_is_found_by_its_key_not_by_scanning_the_ledger(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``issuance_position`` probes the events' primary key: it finds issuances before and
    after other facts, refuses a changed hash and an id of another kind, and never pages
    through notifications (its cost does not grow with the ledger)."""
    _ledger(settings)
    app = GovLedger(env=application_env(settings))
    try:
        (early,) = app.issue_report(
            AUDITOR, kind="audit", year=2025, as_of_position=1, files=[("pdf", b"%PDF-early")]
        )
        for n in range(5):
            app.register_department(NDRC, f"dept-{n}", f"部门{n}")
        (late,) = app.issue_report(
            AUDITOR, kind="risk", year=2026, as_of_position=6, files=[("xlsx", b"PK-late")]
        )

        def no_scan(*_: object, **__: object) -> None:
            raise AssertionError("an issuance lookup paged through the ledger")

        monkeypatch.setattr(app.recorder, "select_notifications", no_scan)
        assert (early.position, late.position) == (2, 8)
        assert app.issuance_position(early.sha256) == 2
        assert app.issuance_position(late.sha256) == 8
        changed = hashlib.sha256(b"%PDF-earlz").hexdigest()
        assert app.issuance_position(changed) is None
        assert app.issuance_position("0" * 64) is None
        # Only an issuance's first event is an issuance: a department is not found.
        assert app.recorder.position_of_originator(department_id("dept-0")) == 3
        assert app.recorder.position_of_originator(department_id("dept-0"), 2) is None
    finally:
        app.close()


def test_a_concurrent_issuance_of_the_same_bytes_is_one_issuance(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ledger(settings)
    first = GovLedger(env=application_env(settings))
    second = GovLedger(env=application_env(settings))
    try:
        (won,) = first.issue_report(
            AUDITOR, kind="risk", year=2026, as_of_position=1, files=[("pdf", b"%PDF-same")]
        )
        # The second issuer checked before the first saved: its save meets the stored id.
        checks = iter([False])
        real = second._exists
        monkeypatch.setattr(second, "_exists", lambda i: next(checks, None) or real(i))
        (lost,) = second.issue_report(
            AUDITOR, kind="risk", year=2026, as_of_position=1, files=[("pdf", b"%PDF-same")]
        )
        assert (lost.position, lost.recorded) == (won.position, False)
        assert second.recorder.max_notification_id() == 2
        with pytest.raises(DomainError) as refused:
            second.issue_report(
                AUDITOR, kind="risk", year=1999, as_of_position=1, files=[("pdf", b"x")]
            )
        assert refused.value.code is ErrorCode.INVALID_VALUE
    finally:
        first.close()
        second.close()


def test_the_verifiers_spelling_of_the_issuance_is_the_domains() -> None:
    """ledger/report_evidence.py spells the topic and id (it travels in the zipapp)."""
    sha = "ab" * 32
    assert spelled_id(sha) == issued_report_id(sha)
    assert SPELLED_TOPIC == ISSUED_TOPIC == f"{IssuedReport.__module__}:IssuedReport.Issued"


@pytest.mark.parametrize("tamper", [delete_finding, soften_finding], ids=["deleted", "altered"])
def test_report_issue_is_refused_from_views_that_differ_from_the_ledger(
    cli: Settings,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    tamper: Callable[[Settings], str],
) -> None:
    """``report … --issue`` over views someone changed: one line naming views_findings and
    the finding, exit 2, nothing recorded (projections/view_check.py)."""
    build(cli)
    run_projections(cli)
    finding = tamper(cli)
    head = ledger_head(cli)
    argv = ("report", "audit", "--year", "2026", "--format", "json", "-o", str(tmp_path / "a.json"))
    code, out, err = run(capsys, *argv, "--issue")
    assert code == 2 and out == ""
    assert not (tmp_path / "a.json").exists()  # refused before the file is written
    line = err.strip().splitlines()[-1]
    assert line.startswith("govledger: error: the views do not match the ledger at position")
    assert f"views_findings: finding_id {finding}, judged_at " in line
    assert "projections rebuild" in line
    assert ledger_head(cli) == head

    assert run(capsys, "projections", "rebuild")[0] == 0
    code, out, err = run(capsys, *argv, "--issue")
    assert code == 0 and out.startswith("issued: SHA-256 "), err
    assert ledger_head(cli) == head + 1
