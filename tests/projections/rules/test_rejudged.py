"""Access verdicts judged again on a grant or classification recorded late (both backends).

domain.md S1/S2 judge an access by the terms "at the access time". A revocation, an
approval or a reclassification recorded after an access, dated at or before it, judges
the access again with the one engine (security.access.evaluate_access) and closes or
opens its findings at the late fact's position; the views at an earlier position still
answer the verdict recorded then (projections/rules/rejudged.py; docs/projections.md
§Recorded late). Recorded in order, nothing is judged again. The ledger is conftest's:
RK-0007 (conditional; 姓名 personal, 纳税额 important, 户籍 core), recorded on 11-20.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.config import Settings
from ledger.domain import SharingType
from projections.facts import CST
from projections.query import open_views
from tests.projections.scenario import (
    GONGAN,
    MINZHENG,
    PURPOSE,
    Recorder,
    finding_rows,
    prefix_views,
    report,
)


def at(m: int, d: int, h: int = 10) -> datetime:
    return datetime(2026, m, d, h, tzinfo=CST)


def submit(rec: Recorder) -> UUID:
    return rec.app.submit_request(
        MINZHENG, requester_department="minzheng", resource_code="RK-0007", items=["姓名"],
        purpose=PURPOSE, legal_basis="《社会救助暂行办法》", period_start=at(6, 1).date(),
        period_end=at(12, 31).date(), submitted_at=at(6, 1),
    )  # fmt: skip


def approve(rec: Recorder, grant: UUID, on: datetime) -> None:
    rec.app.approve_request(GONGAN, grant, ["姓名"], at(12, 31), decided_at=on)


def read(
    rec: Recorder,
    event: str,
    when: datetime,
    grant: UUID | None,
    items: tuple[str, ...] = ("姓名",),
) -> int:
    """minzheng reads RK-0007 for PURPOSE; the views' position after it."""
    rec.accesses(report(event, when, "mz-01", "minzheng", "RK-0007", items, PURPOSE, grant))
    return caught_up(rec.scenario.settings)


def caught_up(settings: Settings) -> int:
    with open_views(settings, catch_up=True) as views:
        return views.position


def found(settings: Settings, position: int | None = None) -> dict[str, set[str]]:
    """Access findings by subject at ``position`` (None: the head)."""
    out: dict[str, set[str]] = {}
    with open_views(settings, catch_up=True) as views:
        for f in views.findings(views.moment(at=position), subject_kinds=["access"]):
            out.setdefault(f.subject, set()).add(f.rule)
    return out


def details(settings: Settings, rule: str) -> list[str]:
    with open_views(settings, catch_up=True) as views:
        return [f.detail for f in views.findings(views.moment(), rule=rule)]


def versions(settings: Settings) -> list[tuple[Any, ...]]:
    with open_views(settings, catch_up=True) as views:
        return finding_rows(views.store)


def test_a_late_revocation_makes_s2_from_its_position(settings: Settings, rec: Recorder) -> None:
    """The read of 06-20 under a grant in force is recorded (nothing found); the revocation
    dated 06-15 is recorded after: S2 from the revocation's position, none before it."""
    grant = submit(rec)
    approve(rec, grant, at(6, 2))
    before = read(rec, "e5", at(6, 20), grant)
    rec.app.revoke_grant(GONGAN, grant, "用途已完成", revoked_at=at(6, 15))
    revoked = caught_up(settings)
    assert found(settings) == {"e5": {"S2"}}
    assert found(settings, before) == {}
    with open_views(settings) as views:
        (s2,) = views.findings(views.moment(), rule="S2")
    assert s2.time == at(6, 20) and s2.detail.endswith(": grant_revoked")
    assert revoked in s2.positions  # the revocation is evidence of it


def test_a_late_approval_clears_s2_from_its_position(settings: Settings, rec: Recorder) -> None:
    """The read of 06-05 quotes a request still pending when it is recorded: S2. The
    approval dated 06-02 is recorded after: no S2 from then; the views before it keep S2."""
    grant = submit(rec)
    before = read(rec, "e1", at(6, 5), grant)
    assert found(settings) == {"e1": {"S2"}}
    approve(rec, grant, at(6, 2))
    assert found(settings) == {}
    assert found(settings, before) == {"e1": {"S2"}}
    (closed,) = [v for v in versions(settings) if v[1] == "S2"]
    assert closed[10] == before and closed[11] == caught_up(settings)  # judged, withdrawn


def test_a_late_reclassification_makes_s1_from_its_position(
    settings: Settings, rec: Recorder
) -> None:
    """Reads of 06-09 and 06-12 under a grant; RK-0007 made not_shareable from 06-10,
    recorded after both: S1 for the read of 06-12 only, from the reclassification on."""
    grant = submit(rec)
    approve(rec, grant, at(6, 2))
    read(rec, "e9", at(6, 9), grant)
    before = read(rec, "e12", at(6, 12), grant)
    rec.app.reclassify_resource(
        GONGAN, "RK-0007", sharing_type=SharingType.NOT_SHAREABLE, legal_basis="《保密法》",
        share_condition="涉密", reason="定密", occurred_at=at(6, 10),
    )  # fmt: skip
    assert found(settings) == {"e12": {"S1"}}
    assert found(settings, before) == {}


def test_a_late_approval_for_another_purpose_turns_s2_into_s4(
    settings: Settings, rec: Recorder
) -> None:
    """The read of 06-05 for another purpose, before the approval is recorded: S2 (no
    grant). The approval dated 06-02 recorded after: the grant was in force, the purpose
    is not the grant's: S4 instead of S2, judged by the same engine as at ingest."""
    grant = submit(rec)
    rec.accesses(report("p", at(6, 5), "mz-01", "minzheng", "RK-0007", ("姓名",), "其他", grant))
    assert found(settings) == {"p": {"S2"}}
    approve(rec, grant, at(6, 2))
    assert found(settings) == {"p": {"S4"}}


def test_a_late_revocation_judges_s3_on_the_revoked_grant(
    settings: Settings, rec: Recorder
) -> None:
    """The read of 06-20 of 姓名 and 纳税额 under the grant of 姓名: S3 (items beyond the
    grant). The revocation dated 06-15 recorded after: S2 on the revoked grant, and S3
    judged on it (纳税额 never granted), a new version of the same finding."""
    grant = submit(rec)
    approve(rec, grant, at(6, 2))
    read(rec, "e", at(6, 20), grant, ("姓名", "纳税额"))
    assert found(settings) == {"e": {"S3"}}
    rec.app.revoke_grant(GONGAN, grant, "用途已完成", revoked_at=at(6, 15))
    assert found(settings) == {"e": {"S2", "S3"}}
    assert details(settings, "S3") == ["mz-01 (minzheng) read RK-0007: items_beyond_grant "
                                       "(纳税额 never granted)"]  # fmt: skip


def test_recorded_in_order_nothing_is_judged_again(settings: Settings, rec: Recorder) -> None:
    """Each grant fact and reclassification recorded before the reads it covers, and one
    approval recorded after a read but dated after it too: every finding is the verdict
    judged at ingest, one version each, none closed (the demo's counts rely on it)."""
    early, late = submit(rec), submit(rec)
    approve(rec, early, at(6, 2))
    rec.app.revoke_grant(GONGAN, early, "用途已完成", revoked_at=at(6, 15))
    read(rec, "revoked", at(6, 20), early)
    read(rec, "none", at(6, 21), late)  # pending: S2
    approve(rec, late, at(6, 22))  # recorded after the read, dated after it: not covered
    rec.app.reclassify_resource(
        GONGAN, "RK-0007", sharing_type=SharingType.NOT_SHAREABLE, legal_basis="《保密法》",
        share_condition="涉密", reason="定密", occurred_at=at(6, 25),
    )  # fmt: skip
    read(rec, "secret", at(6, 26), late)
    assert found(settings) == {"revoked": {"S2"}, "none": {"S2"}, "secret": {"S1"}}
    rows = versions(settings)
    assert [r[11] for r in rows] == [None] * len(rows)
    # Each access finding judged at the access itself (judged_at = its position).
    access = {r[3]: r[7] == r[10] for r in rows if r[4] == "access"}
    assert access == {"revoked": True, "none": True, "secret": True}


def test_one_batch_judges_again_as_the_live_following_did(
    settings: Settings, rec: Recorder
) -> None:
    """The reads and the late facts in one batch (the accesses not yet in the views when
    the late fact is folded): the same finding versions as followed fact by fact."""
    grant = submit(rec)
    read(rec, "e1", at(6, 5), grant, ("姓名", "纳税额"))
    approve(rec, grant, at(6, 2))
    read(rec, "e2", at(6, 20), grant)
    rec.app.revoke_grant(GONGAN, grant, "用途已完成", revoked_at=at(6, 15))
    live = versions(settings)
    head = caught_up(settings)
    with prefix_views(settings, head) as prefix:
        assert finding_rows(prefix.store) == live
    assert {(r[3], r[1]) for r in live if r[11] is None and r[4] == "access"} == {
        ("e1", "S3"),
        ("e2", "S2"),
    }
    assert len(live) > 3  # versions were closed and opened


def test_an_access_flagged_only_by_a_late_fact_shows_its_items_and_grant_in_the_ledger(
    settings: Settings, rec: Recorder
) -> None:
    """The reports' 违规访问台账 lists accesses the platform flagged or a rule flags: one
    recorded authorized and made S2 by a late revocation is listed with the items it read
    and the grant it quoted (the views' events row), not blank."""
    grant = submit(rec)
    approve(rec, grant, at(6, 2))
    read(rec, "e5", at(6, 20), grant)
    rec.app.revoke_grant(GONGAN, grant, "用途已完成", revoked_at=at(6, 15))
    with open_views(settings, catch_up=True) as views:
        (listed,) = views.flagged_accesses(views.moment(), 2026, limit=10)
    assert listed.reasons == ()  # the platform's verdict: authorized
    assert listed.rules == ("S2",)
    assert (listed.items, listed.grant_id) == (("姓名",), grant.hex)
