"""The console in a real browser (issue #8 'Done when'): Debian's chromium through Playwright.

An auditor signs in, runs 校验, looks up a proof, downloads an evidence bundle
that the standalone offline verifier accepts, and has the service verify the
same file; a department clerk and the exchange platform are refused. Each page
is saved as a screenshot under the artefact directory (browser.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api.app import create_app
from ledger.checkpoints import public_keys
from ledger.config import Settings
from ledger.domain.actor import Role
from ledger.evidence_verify import write_zipapp
from ops.demo import DEMO_YEAR
from tests.api.console.browser import artefact_dir, chromium_path, serve
from tests.api.console.conftest import ROWS, copy_zone, mint, witnessed_ledger

TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=path, headless=True, args=["--lang=zh-CN"]
        )
        yield launched
        launched.close()


@pytest.fixture
def zone(sqlite_settings: Settings, tmp_path: Path) -> Settings:
    return witnessed_ledger(sqlite_settings, tmp_path)


@pytest.fixture
def base_url(zone: Settings) -> Iterator[str]:
    with serve(create_app(zone)) as url:
        yield url


def new_page(browser: Browser, base_url: str) -> Page:
    context = browser.new_context(
        base_url=base_url,
        accept_downloads=True,
        locale="zh-CN",
        viewport={"width": 1280, "height": 900},
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def shot(page: Page, name: str) -> Path:
    target = artefact_dir() / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target


def _rights_on_every_page(page: Page) -> int:
    """Use rights shown, following the pager (20 resources a page) to its end."""
    count = page.locator("#rights .right").count()
    while page.get_by_role("link", name="下一页").count():
        page.get_by_role("link", name="下一页").click()
        count += page.locator("#rights .right").count()
    return count


def sign_in(page: Page, token: str) -> None:
    page.goto("/console/login")
    page.get_by_label("密钥或令牌").fill(token)
    page.get_by_role("button", name="登录").click()


def test_auditor_fetches_an_evidence_bundle_and_sees_it_verify(
    browser: Browser, base_url: str, zone: Settings, tmp_path: Path
) -> None:
    page = new_page(browser, base_url)
    page.goto("/console/ledger")
    assert page.url.endswith("/console/login")
    shot(page, "01-login")
    sign_in(page, mint(zone, Role.AUDITOR))
    expect(page.get_by_role("heading", name="账本状态")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "govledger_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert "glk_" not in cookie["value"]  # the key itself never sits in the browser
    expect(page.locator("#head-position")).to_have_text(str(ROWS))
    expect(page.locator("#witness-count")).to_contain_text("1 个")
    expect(page.locator("#verified-position")).to_have_text("尚未校验")
    shot(page, "02-ledger-before-verify")

    page.get_by_role("button", name="校验").click()
    expect(page.locator("#verify-result")).to_contain_text(f"校验通过：第 1 至 {ROWS} 条")
    expect(page.locator("#verified-position")).to_have_text(str(ROWS))
    shot(page, "03-ledger-verified")

    page.get_by_label("账本位置").first.fill("7")
    page.get_by_role("button", name="查询证明").first.click()
    expect(page.get_by_role("heading", name="第 7 条记录的存在性证明")).to_be_visible()
    expect(page.locator("#proof")).to_contain_text("签名检查点")
    shot(page, "04-proof")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="下载证据包").click()
    bundle = tmp_path / "evidence-7.json"
    download_info.value.save_as(bundle)

    offline = _offline_verify(bundle, zone, tmp_path)
    assert offline["ok"] is True and offline["positions"] == [1, 7], offline
    assert offline["cosigned_by"], offline

    page.locator("#bundle").set_input_files(str(bundle))
    page.get_by_role("button", name="核验证据包").click()
    expect(page.locator("#bundle-result")).to_contain_text("核验通过")
    expect(page.locator("#bundle-positions")).to_have_text("1、7")
    shot(page, "05-bundle-verified")

    tampered = tmp_path / "tampered.json"
    tampered.write_text(
        bundle.read_text(encoding="utf-8").replace('"position": 7', '"position": 8')
    )
    page.locator("#bundle").set_input_files(str(tampered))
    page.get_by_role("button", name="核验证据包").click()
    expect(page.locator("#bundle-result")).to_contain_text("核验未通过")
    shot(page, "06-bundle-tampered")

    page.get_by_role("button", name="退出").click()
    assert page.url.endswith("/console/login")
    page.goto("/console/ledger")
    assert page.url.endswith("/console/login")


def _offline_verify(bundle: Path, zone: Settings, tmp_path: Path) -> dict[str, object]:
    """The standalone verifier (one file, no database) with the log's published keys."""
    verifier = tmp_path / "evidence-verify.pyz"
    write_zipapp(verifier)
    keys = tmp_path / "log-keys.txt"
    keys.write_text("\n".join(public_keys(zone)) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(verifier), str(bundle), "--log-keys-file", str(keys),
         "--witness-keys-file", zone.witness_keys_file, "--quorum", "1", "--json"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


@pytest.mark.parametrize("role", [Role.DEPARTMENT_CLERK, Role.EXCHANGE_PLATFORM])
def test_clerk_and_platform_get_a_chinese_403_and_no_session(
    browser: Browser, base_url: str, zone: Settings, role: Role
) -> None:
    page = new_page(browser, base_url)
    sign_in(page, mint(zone, role))
    expect(page.get_by_role("heading", name="403 · 无权访问")).to_be_visible()
    expect(page.locator("main")).to_contain_text("无权使用本控制台")
    shot(page, f"07-forbidden-{role.value}")
    assert not [c for c in page.context.cookies() if c["name"] == "govledger_console"]
    for path in ("/console/ledger", "/console/ledger/proof?position=1"):
        page.goto(path)
        assert page.url.endswith("/console/login"), path


# ---------------------------------------------------------------- the views (issue #4)


@pytest.fixture
def demo_url(demo_template: Settings, tmp_path: Path) -> Iterator[tuple[Settings, str]]:
    zone = copy_zone(demo_template, tmp_path)
    with serve(create_app(zone)) as url:
        yield zone, url


def test_security_officer_reviews_an_anomaly_and_finds_it_in_the_audit_trail(
    browser: Browser, demo_url: tuple[Settings, str]
) -> None:
    zone, url = demo_url
    page = new_page(browser, url)
    sign_in(page, mint(zone, Role.SECURITY_OFFICER))
    page.get_by_role("link", name="异常访问", exact=True).click()
    expect(page.get_by_role("heading", name="异常访问")).to_be_visible()
    cells = page.locator("#queue tbody tr td:nth-child(2)").all_inner_texts()  # after the tick
    scores = [float(s) for s in cells]
    assert scores and scores == sorted(scores, reverse=True)
    shot(page, "10-anomalies")

    page.locator("#queue tbody tr").first.locator("td").nth(3).get_by_role("link").click()
    expect(page.locator("#evidence tbody tr").first).to_contain_text("#")
    expect(page.locator("#anomaly-status")).to_have_text("待处置")
    shot(page, "11-anomaly")
    page.get_by_label("升级处置").check()
    page.get_by_label("处置意见").fill("该账号夜间批量访问敏感个人信息，移交区公安分局核查。")
    page.get_by_role("button", name="提交处置").click()
    expect(page.locator("#anomaly-status")).to_have_text("已升级")
    review_row = page.locator("#reviews tbody tr").last
    expect(review_row).to_contain_text("移交区公安分局核查")
    position = review_row.locator("td").first.inner_text().lstrip("#")
    shot(page, "12-anomaly-reviewed")

    page.get_by_role("link", name="审计轨迹", exact=True).click()
    page.get_by_role("link", name="我的操作").click()
    mine = page.locator("#trail tbody tr", has_text=f"#{position}")
    expect(mine).to_contain_text("异常复核处置")
    shot(page, "13-audit-trail")
    mine.get_by_role("link", name=f"#{position}").click()
    expect(page.get_by_role("heading", name=f"第 {position} 条记录的存在性证明")).to_be_visible()


def test_auditor_browses_rights_inventory_and_reports(
    browser: Browser, demo_url: tuple[Settings, str]
) -> None:
    zone, url = demo_url
    page = new_page(browser, url)
    sign_in(page, mint(zone, Role.AUDITOR))
    page.get_by_role("link", name="权属登记", exact=True).click()
    now = _rights_on_every_page(page)
    page.get_by_role("link", name="权属登记", exact=True).click()
    page.get_by_label("查询日期").fill(f"{DEMO_YEAR}-02-01")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("main")).to_contain_text(f"按 {DEMO_YEAR}-02-01 当日终了时的状态")
    assert _rights_on_every_page(page) != now
    shot(page, "14-rights-as-of")

    page.get_by_role("link", name="台账", exact=True).click()
    expect(page.locator("#inventory tr.flagged").first).to_be_visible()
    shot(page, "15-inventory-systems")
    page.get_by_role("link", name="经费决定").click()
    expect(page.locator("#inventory tr.flagged").first).to_contain_text("F")
    shot(page, "16-inventory-funds")

    page.get_by_role("link", name="报告", exact=True).click()
    shot(page, "17-reports")
    card = page.locator("#report-audit")
    card.get_by_label("年度").select_option(str(DEMO_YEAR))
    with page.expect_download() as download_info:
        card.get_by_role("button", name="下载 XLSX").click()
    assert download_info.value.suggested_filename == f"govledger-audit-{DEMO_YEAR}.xlsx"


def test_officer_triages_filters_assigns_bulk_acknowledges_and_exports(
    browser: Browser, demo_url: tuple[Settings, str]
) -> None:
    zone, url = demo_url
    page = new_page(browser, url)
    sign_in(page, mint(zone, Role.SECURITY_OFFICER))
    page.get_by_role("link", name="异常访问", exact=True).click()
    total = int(page.locator("#total").inner_text())
    kind_cell = page.locator("#queue tbody tr").first.locator("td").nth(3).inner_text()
    page.locator("#kind").select_option(label=kind_cell)
    page.locator("#sort").select_option("oldest")
    page.get_by_role("button", name="筛选").click()
    narrowed = int(page.locator("#total").inner_text())
    assert 0 < narrowed <= total
    kinds = page.locator("#queue tbody tr td:nth-child(4)").all_inner_texts()
    assert set(kinds) == {kind_cell}
    expect(page.locator("#queue .badge.overdue").first).to_be_visible()
    shot(page, "18-triage-filtered")

    with page.expect_download() as download_info:
        page.locator("#export-csv").click()
    exported = Path(download_info.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(exported) == 1 + min(narrowed, 10_000)

    page.locator("#select-all").check()
    picked = page.locator("input.pick:checked").count()
    page.get_by_label("批量确认意见").fill("经核实均为正常业务访问")
    page.get_by_role("button", name="确认所选").click()
    expect(page.locator("#bulk-done")).to_contain_text(f"已确认 {picked} 条")
    shot(page, "19-triage-bulk-acknowledged")

    page.get_by_role("link", name="已确认").first.click()
    page.locator("#queue tbody tr").first.locator("td").nth(3).get_by_role("link").click()
    page.get_by_label("指派", exact=True).check()
    page.get_by_label("承办人（指派时选择）").fill("王丽华")
    page.get_by_role("button", name="提交处置").click()
    expect(page.locator("#assignee-now")).to_have_text("王丽华")
    page.get_by_label("升级处置").check()
    page.get_by_label("处置意见 / 案件备注").fill("移交区公安局核查")
    page.get_by_role("button", name="提交处置").click()
    expect(page.locator("#anomaly-status")).to_contain_text("已升级")
    page.get_by_label("排除（误报）").check()
    page.get_by_label("处置意见 / 案件备注").fill("误报")
    page.get_by_role("button", name="提交处置").click()
    expect(page.get_by_role("alert")).to_contain_text("已升级的异常只能由其他安全专员排除")
    shot(page, "20-four-eyes-refused")


def test_auditor_searches_the_trail_in_chinese_and_exports_it(
    browser: Browser, demo_url: tuple[Settings, str]
) -> None:
    zone, url = demo_url
    page = new_page(browser, url)
    sign_in(page, mint(zone, Role.AUDITOR))
    page.get_by_role("link", name="审计轨迹", exact=True).click()
    page.get_by_label("检索").fill("登记部门")
    page.get_by_role("button", name="检索").click()
    events = page.locator("#trail tbody tr td:nth-child(3)").all_inner_texts()
    assert events and set(events) == {"登记部门"}
    expect(page.locator("#trail")).not_to_contain_text("_type_")
    shot(page, "21-trail-search")
    with page.expect_download() as download_info:
        page.locator("#export-xlsx").click()
    assert download_info.value.suggested_filename.endswith(".xlsx")
