"""The portal over HTTP in front of the whole system (issue 6 items 1, 2): every service, the
local axis and the portal as separate processes. The province sends a document; the clerk signs
in, changes the first password, finds it among the arrivals with its verification report and in
the register (XLSX through the portal); the chairman assigns it from the portal; the officer sees
it as new in "my work" and records receipt; the operator sees every service ready. The session
cookie is Secure as in production (Chromium keeps it on http://127.0.0.1; this client is given it
by hand, since Python's cookie jar sends Secure cookies over https only)."""

from __future__ import annotations

import re
import time
import uuid
from http.cookies import SimpleCookie

import httpx
import pytest


pytestmark = pytest.mark.e2e

PROVINCE_OFFICE = "000.01.00.H56"
INITIAL = "DoiMatKhau@2026"
CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


class Browser:
    """A person at a browser: keeps the portal's cookies (Secure ones too, as Chromium does on
    127.0.0.1) and the last page's CSRF token."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def _keep(self, response: httpx.Response) -> httpx.Response:
        for header in response.headers.get_list("set-cookie"):
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value or morsel.value == '""':
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        if found := CSRF.search(response.text if "text/html" in response.headers.get("content-type", "") else ""):
            self.csrf = found.group(1)
        return response

    def _headers(self) -> dict:
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self._keep(self.client.get(path, headers=self._headers(), **kwargs))

    def post(self, path: str, data: dict | None = None, **kwargs) -> httpx.Response:
        return self._keep(self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, headers=self._headers(),
                                           **kwargs))

    def sign_in(self, user: str, new_password: str) -> None:
        self.get("/dang-nhap")
        answer = self.post("/dang-nhap", {"user": user, "password": INITIAL})
        if answer.status_code == 401:  # changed already, in an earlier test of this module
            self.get("/dang-nhap")
            answer = self.post("/dang-nhap", {"user": user, "password": new_password})
            assert answer.status_code == 303 and answer.headers["location"] != "/doi-mat-khau", answer.text
            return
        assert answer.status_code == 303 and answer.headers["location"] == "/doi-mat-khau", answer.text
        self.get("/doi-mat-khau")
        changed = self.post("/doi-mat-khau", {"old_password": INITIAL, "new_password": new_password,
                                              "confirm_password": new_password})
        assert changed.status_code == 303, changed.text


def wait_for(fetch, predicate, *, timeout=120.0, what="condition"):
    deadline, last = time.monotonic() + timeout, None
    while time.monotonic() < deadline:
        last = fetch()
        if predicate(last):
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} not reached in {timeout}s; last: {getattr(last, 'text', last)!r:.2000}")


def test_clerk_chairman_and_officer_work_through_the_portal(system):
    stack, urls = system
    subject = f"Về việc kiểm tra công tác văn thư {uuid.uuid4().hex[:6]}"
    sent = httpx.post(f"{urls['axis']}/_sim/agencies/{PROVINCE_OFFICE}/send", json={"subject": subject}, timeout=120)
    assert sent.status_code == 200, sent.text

    clerk = Browser(urls["portal"])
    clerk.sign_in("vanthu", "Mai-Hoang-Duc-2026!")
    cookie = clerk.client.get("/dang-nhap").headers.get("set-cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie  # production defaults, also on the devstack
    arrivals = wait_for(lambda: clerk.get("/van-thu"), lambda r: r.status_code == 200 and subject in r.text and "Đạt" in r.text,
                        what="the arrival on the clerk's page, registered and verified")
    key = re.search(r'id="arrival-([^"]+)"[^>]*>(?:(?!</tr>).)*' + re.escape(subject), arrivals.text, re.S).group(1)
    wait_for(lambda: clerk.get(f"/van-ban-den/{key}"), lambda r: "Đã đăng ký" in r.text, what="registration")
    page = clerk.get(f"/van-ban-den/{key}")
    assert page.status_code == 200 and 'id="verification-checks"' in page.text and 'id="register-number"' in page.text
    assert "Biên bản kiểm tra" in page.text and 'id="signatures"' in page.text
    assert 'id="audit"' in page.text and "incoming.registered" in page.text  # the intake's audit of it
    register = clerk.get("/van-thu/so-den")
    assert register.status_code == 200 and subject in register.text
    export = clerk.get(re.search(r'id="link-export-xlsx" href="([^"]+)"', register.text).group(1).replace("&amp;", "&"))
    assert export.status_code == 200 and export.content[:2] == b"PK"
    # the archived copy's file comes through the portal too
    page = wait_for(lambda: clerk.get(f"/van-ban-den/{key}"), lambda r: 'id="file-1"' in r.text, what="the archived file")
    pdf = clerk.get(re.search(r'href="(/tep/[^"]+)" id="file-1"', page.text).group(1))
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    # the clerk may not assign
    assert clerk.get(f"/van-ban-den/{key}/giao-viec").status_code == 403

    chairman = Browser(urls["portal"])
    chairman.sign_in("chutich", "Thanh-Hoang-Duc-2026")
    queue = chairman.get("/lanh-dao")
    assert queue.status_code == 200 and subject in queue.text
    form = chairman.get(f"/van-ban-den/{key}/giao-viec")
    assert form.status_code == 200 and 'for="lead"' in form.text
    assigned = chairman.post(f"/van-ban-den/{key}/giao-viec", {"lead": "cc.vanphong", "lead_days": "5",
                                                                "note": "Đề nghị đồng chí chủ trì, báo cáo trước hạn."})
    assert assigned.status_code == 303, assigned.text
    assert subject not in chairman.get("/lanh-dao").text

    officer = Browser(urls["portal"])
    officer.sign_in("cc.vanphong", "Tuan-Hoang-Duc-2026")
    work = officer.get("/viec-cua-toi")
    assert work.status_code == 200 and subject in work.text
    assert re.search(r'id="new-count">1<', work.text), work.text
    received = officer.post(f"/van-ban-den/{key}/xu-ly/received", {"back_to": "/viec-cua-toi"})
    assert received.status_code == 303, received.text
    work = officer.get("/viec-cua-toi?tb=handling_received")
    assert "Đã ghi nhận" in work.text and re.search(r'id="new-count">0<', work.text)
    # another officer's page, and the officer's own work of someone else, are refused
    assert officer.get("/lanh-dao").status_code == 403
    document = officer.get(f"/van-ban-den/{key}")
    assert "Đề nghị đồng chí chủ trì" in document.text

    # search through the archive's index (names the signed-in user by their token)
    found = wait_for(lambda: clerk.get("/tra-cuu", params={"q": subject.split()[-1]}), lambda r: subject in r.text,
                     what="the document found by search")
    assert 'id="search-results"' in found.text

    operator = Browser(urls["portal"])
    operator.sign_in("vanhanh", "Anh-KyThuat-2026!")
    status = operator.get("/van-hanh")
    assert status.status_code == 200 and "Mọi dịch vụ đang sẵn sàng" in status.text
    assert operator.get(f"/van-ban-den/{key}").status_code == 403

    # sign-out ends the session for good
    clerk.get("/van-thu")
    assert clerk.post("/dang-xuat").status_code == 303
    assert clerk.get("/van-thu").status_code == 303


def test_a_draft_goes_from_the_officer_to_the_chairman_and_the_clerk_issues_it(system):
    from shared.pdfdocs import DocumentText, render_document

    stack, urls = system
    subject = f"Thông báo lịch tiếp công dân {uuid.uuid4().hex[:6]}"
    pdf = render_document(DocumentText(type_name="THÔNG BÁO", subject=subject, number_notation="Số:      /TB-UBND",
                                       signer_name="Lê Văn Thành"), number_fields=True).pdf
    officer = Browser(urls["portal"])
    officer.sign_in("cc.tuphap", "Lan-TuPhap-2026!")
    assert 'id="form-new-draft"' in officer.get("/du-thao/moi").text
    created = officer.post("/du-thao", {"type_name": "Thông báo", "subject": subject, "recipients": PROVINCE_OFFICE},
                           files={"file": ("thong-bao.pdf", pdf, "application/pdf")})
    assert created.status_code == 303, created.text
    draft_path = created.headers["location"].split("?")[0]
    page = officer.get(draft_path)
    assert page.status_code == 200 and subject in page.text and 'id="form-submit"' in page.text
    assert officer.post(f"{draft_path}/trinh").status_code == 303
    assert "Đã trình" in officer.get(draft_path).text
    assert subject in officer.get("/du-thao").text

    chairman = Browser(urls["portal"])
    chairman.sign_in("chutich", "Thanh-Hoang-Duc-2026")
    assert subject in chairman.get("/lanh-dao").text
    assert 'id="form-approve"' in chairman.get(draft_path).text
    approved = chairman.post(f"{draft_path}/duyet")
    assert approved.status_code == 303, approved.text
    outgoing_link = re.search(r'id="link-outgoing" href="([^"]+)"', chairman.get(draft_path).text).group(1)

    clerk = Browser(urls["portal"])
    clerk.sign_in("vanthu", "Mai-Hoang-Duc-2026!")
    wait_for(lambda: clerk.get("/van-thu/van-ban-di"), lambda r: subject in r.text and 'id="check-' in r.text,
             what="the signed document waiting for the clerk's format check")
    key = outgoing_link.rsplit("/", 1)[1]
    assert clerk.post(f"/van-ban-di/{key}/kiem-tra-the-thuc", {"passed": "true"}).status_code == 303
    issued = wait_for(lambda: clerk.get(outgoing_link), lambda r: "Đã phát hành" in r.text, what="numbered, signed, issued")
    assert 'id="deliveries"' in issued.text and PROVINCE_OFFICE in issued.text
    assert 'id="audit"' in issued.text
    assert "outgoing.numbered" in issued.text  # dispatch's audit of it
    assert "/TB-UBND" in re.search(r'id="outgoing-code">([^<]*)<', issued.text).group(1)
    assert clerk.get("/van-thu/thu-hoi").status_code == 200

    archivist = Browser(urls["portal"])
    archivist.sign_in("luutru", "Bui-Thi-Ha-2026!")
    for path in ("/luu-tru", "/ho-so", "/tra-cuu?q=tiep+cong+dan"):
        assert archivist.get(path).status_code == 200, path
    assert archivist.get("/viec-cua-toi").status_code == 403
