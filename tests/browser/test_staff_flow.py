"""The day's work in a real browser (issue 6): the province sends a document; the clerk sees it
with its verification report and sends it to the chairman (R-6.3, R-5.3); the chairman assigns
a lead officer with a deadline (R-6.4); the officer receives it and drafts the reply (R-15.1,
R-7.1); the chairman approves and signs; the clerk checks the format, which numbers, agency-signs
and issues it (R-7.2, R-8.3c); the province's system on the local axis receives it. Each person
signs in for the first time and must change the initial password first (R-15.2). Screenshots
of every main screen, on a desktop and on a phone screen, are kept as artefacts."""

from __future__ import annotations

import re
import time
import uuid

import httpx
import pytest
from playwright.sync_api import Page, expect

from shared.pdfdocs import DocumentText, render_document
from shared.config import REPO_ROOT

pytestmark = pytest.mark.e2e

PROVINCE_OFFICE = "000.01.00.H56"
INITIAL = "DoiMatKhau@2026"
SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"  # kept as artefacts (conftest makes the folder)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
PASSWORDS = {"vanthu": "Mai-HoangDuc-2026!", "chutich": "Thanh-HoangDuc-2026!", "cc.vanphong": "Tuan-HoangDuc-2026!",
             "luutru": "Ha-HoangDuc-2026!", "vanhanh": "Anh-HoangDuc-2026!"}  # never containing the user name


def person(chromium, base: str, user: str, viewport=DESKTOP) -> Page:
    """A member of staff at their own browser, signed in; the first time, the portal makes them
    change the initial password before anything else."""
    page = chromium.new_context(base_url=base, viewport=viewport, locale="vi-VN").new_page()
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/dang-nhap"))
    page.fill("#user", user)
    page.fill("#password", INITIAL)
    page.click("#button-sign-in")
    if "/doi-mat-khau" in page.url:
        page.goto("/viec-cua-toi" if user.startswith("cc.") else "/")  # nothing else opens before the change
        expect(page).to_have_url(re.compile(r"/doi-mat-khau"))
        page.fill("#old_password", INITIAL)
        page.fill("#new_password", PASSWORDS[user])
        page.fill("#confirm_password", PASSWORDS[user])
        page.click("#button-change-password")
    else:  # already changed by an earlier test of this module
        page.fill("#user", user)
        page.fill("#password", PASSWORDS[user])
        page.click("#button-sign-in")
    expect(page).not_to_have_url(re.compile(r"/(dang-nhap|doi-mat-khau)"))
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)





def reload_until(page: Page, path: str, check, *, timeout=120.0, what="the page to show it") -> None:
    deadline = time.monotonic() + timeout
    while True:
        page.goto(path)
        if check(page):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s; page text: {page.inner_text('main')[:1500]}")
        time.sleep(1)


def test_an_arrival_is_assigned_answered_signed_numbered_and_issued_in_the_browser(system, chromium):
    stack, urls = system
    tag = uuid.uuid4().hex[:6]
    subject = f"Về việc báo cáo kết quả chuyển đổi số năm 2026 {tag}"
    sent = httpx.post(f"{urls['axis']}/_sim/agencies/{PROVINCE_OFFICE}/send", json={"subject": subject}, timeout=120)
    assert sent.status_code == 200, sent.text

    # The clerk: the arrival, verified and registered, with the report; sent to the chairman.
    clerk = person(chromium, urls["portal"], "vanthu")
    reload_until(clerk, "/van-thu", lambda p: p.locator("#arrivals tr", has_text=subject).count() == 1
                 and "Đạt" in p.locator("#arrivals tr", has_text=subject).inner_text(), what="the verified arrival")
    shot(clerk, "clerk-arrivals")
    clerk.locator("#arrivals tr", has_text=subject).get_by_role("link", name=subject).click()
    key = clerk.url.rstrip("/").rsplit("/", 1)[1]
    reload_until(clerk, f"/van-ban-den/{key}", lambda p: p.locator("#register-number").count() == 1, what="registration")
    expect(clerk.locator("#verification-checks")).to_be_visible()
    shot(clerk, "incoming-document-with-verification-report")
    clerk.fill("#forward-note", "Kính chuyển Chủ tịch cho ý kiến chỉ đạo.")
    clerk.click("#button-forward")
    expect(clerk.locator("#forwarded")).to_contain_text("Trần Thị Mai")

    # The chairman assigns a lead officer with a deadline and a direction note.
    chairman = person(chromium, urls["portal"], "chutich")
    chairman.goto("/lanh-dao")
    row = chairman.locator(f"#awaiting-{key}")
    expect(row).to_contain_text(subject)
    expect(row).to_contain_text("văn thư đã chuyển")
    shot(chairman, "chairman-queue")
    chairman.click(f"#link-assign-{key}")
    chairman.select_option("#lead", "cc.vanphong")
    chairman.fill("#lead_days", "5")
    chairman.fill("#note", "Giao đồng chí Tuấn chủ trì, dự thảo báo cáo trình ký.")
    shot(chairman, "chairman-assign-form")
    chairman.click("#button-assign")
    expect(chairman.locator(f"#awaiting-{key}")).to_have_count(0)

    # The officer: "my work" shows it as new; receipt starts the deadline; a reply is drafted.
    officer = person(chromium, urls["portal"], "cc.vanphong")  # lands on "my work", the officer's home
    expect(officer).to_have_url(re.compile(r"/viec-cua-toi"))
    expect(officer.locator("main")).to_contain_text(subject)
    expect(officer.locator("#new-count")).to_have_text("1")
    shot(officer, "officer-my-work")
    officer.click(f"#button-received-{key}")
    expect(officer.locator("#new-count")).to_have_text("0")
    reply_subject = f"Báo cáo kết quả chuyển đổi số năm 2026 của UBND xã {tag}"
    pdf = render_document(DocumentText(type_name="BÁO CÁO", subject=reply_subject, number_notation="Số:      /BC-UBND",
                                       signer_name="Lê Văn Thành"), number_fields=True).pdf
    officer.goto("/du-thao/moi")
    officer.set_input_files("#file", files=[{"name": "bao-cao.pdf", "mimeType": "application/pdf", "buffer": pdf}])
    officer.fill("#type_name", "Báo cáo")
    officer.fill("#subject", reply_subject)
    officer.fill("#recipients", PROVINCE_OFFICE)
    officer.fill("#answers", key)
    shot(officer, "officer-new-draft")
    officer.click("#button-create-draft")
    expect(officer.locator("#form-submit")).to_be_visible()
    draft_path = officer.url.split("?")[0].replace(urls["portal"], "")
    officer.click("#button-submit")
    expect(officer.locator("main")).to_contain_text("Đã trình")

    # The chairman approves: his own key signs.
    chairman.goto("/lanh-dao")
    expect(chairman.locator("#drafts-submitted")).to_contain_text(reply_subject)
    chairman.goto(draft_path)
    shot(chairman, "chairman-draft-to-approve")
    chairman.click("#button-approve")
    outgoing_path = chairman.locator("#link-outgoing").get_attribute("href")
    outgoing_key = outgoing_path.rsplit("/", 1)[1]

    # The clerk checks the format: the number, the agency signature and the issue follow.
    reload_until(clerk, "/van-thu/van-ban-di", lambda p: p.locator(f"#check-{outgoing_key}").count() == 1,
                 what="the leader-signed document waiting for the clerk's format check")
    shot(clerk, "clerk-outgoing-to-check")
    clerk.click(f"#button-format-pass-{outgoing_key}")
    reload_until(clerk, outgoing_path, lambda p: "Đã phát hành" in p.inner_text("main"), what="numbered, signed and issued")
    expect(clerk.locator("#outgoing-code")).to_contain_text("/BC-UBND")
    expect(clerk.locator("#deliveries")).to_contain_text(PROVINCE_OFFICE)
    shot(clerk, "outgoing-document-issued")

    # The province's system received it through the axis, as a reply to its own document.
    deadline = time.monotonic() + 120
    while not any(reply_subject == d.get("subject") for d in httpx.get(f"{urls['axis']}/_sim/agencies/{PROVINCE_OFFICE}/inbox").json()):
        assert time.monotonic() < deadline, "the province never received the reply"
        time.sleep(1)

    # The same work on a phone screen, and the other main screens.
    phone = person(chromium, urls["portal"], "cc.vanphong", viewport=PHONE)
    phone.goto("/viec-cua-toi")
    expect(phone.locator("main")).to_contain_text(subject)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"] + 1  # no sideways scrolling
    shot(phone, "phone-officer-my-work")
    clerk.goto("/van-thu/so-den")
    expect(clerk.locator("main")).to_contain_text(subject)
    shot(clerk, "clerk-incoming-register")
    archivist = person(chromium, urls["portal"], "luutru")
    archivist.goto("/luu-tru")
    shot(archivist, "archivist-home")
    reload_until(archivist, f"/tra-cuu?q=chuyen+doi+so+{tag}", lambda p: subject in p.inner_text("main"),
                 what="the document found by search without diacritics")
    shot(archivist, "search")
    chairman.goto("/bao-cao")
    shot(chairman, "reports")
    operator = person(chromium, urls["portal"], "vanhanh")
    operator.goto("/van-hanh")
    shot(operator, "operator-status")
    assert operator.goto("/van-thu").status == 403
