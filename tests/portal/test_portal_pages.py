"""Every screen of the portal rendered in process for every role (issue 6 item 2; R-15.5): real
accounts and sessions on the real store, the other services replaced by recorded answers shaped
like theirs. A role opens its own pages (200, Vietnamese, labelled) and no other (403); each form
posts to a service as the signed-in user; a service that does not answer leaves the page up with
a Vietnamese message."""

from __future__ import annotations

import re
from urllib.parse import unquote

import httpx
import pytest
from portal_client import csrf_of, running_portal, signed_in

from services.portal.adapters.services import ServiceError
from services.portal.domain.access import ACCESS, ANONYMOUS

NOW = "2026-12-01T08:00:00+00:00"
INCOMING = {
    "id": "in-1", "state": "registered", "arrived_at": NOW, "registered_at": NOW, "source": "axis", "priority": 2,
    "register": {"year": 2026, "number": 12},
    "metadata": {"code": "123/UBND-VP", "subject": "Về việc triển khai Đề án 06", "type_name": "Công văn", "priority": 2,
                 "sender": {"organ_id": "000.01.00.H56", "organ_name": "Văn phòng UBND tỉnh"}, "issued_date": "2026-11-30",
                 "signer": {"full_name": "Nguyễn Văn A", "position": "Chánh Văn phòng"}, "due_date": "2026-12-10"},
    "files": [{"name": "cv.pdf", "sha256": "ab" * 32, "size": 2048, "media_type": "application/pdf"}],
    "verification": {"verdict": "passed", "policy": "2026.1", "summary_vi": "Đạt mọi nội dung kiểm tra.",
                     "checks": [{"name": "signature", "outcome": "passed", "label_vi": "Chữ ký số", "detail_vi": "Hợp lệ"}],
                     "signatures": [{"signer_cn": "VP UBND tỉnh", "level": "PAdES-B-T", "intact": True, "trusted": True,
                                     "timestamped_at": NOW}]},
    "statuses": [{"code": "01", "at": NOW, "transport_state": "accepted"}],
    "handling": {"state": "assigned"},
    "assignment": {"by": "chutich", "assigned_at": NOW, "note": "Đề nghị xử lý", "history": [],
                   "tasks": [{"officer": "cc.vanphong", "role": "lead", "deadline": "2026-12-08"}]},
}
OUTGOING = {"id": "out-1", "state": "issued", "subject": "Báo cáo số liệu", "type_name": "Báo cáo", "code": "15/BC-UBND",
            "urgency": 1, "approved_by": "chutich", "created_by": "vanthu", "created_at": NOW, "issued_at": NOW,
            "issue_standing": "on_time",
            "deliveries": [{"organ_id": "000.01.00.H56", "name": "VP UBND tỉnh", "channel": "axis", "transport_state": "accepted",
                            "business_statuses": [{"code": "01", "at": NOW}]}],
            "history": [{"at": NOW, "action": "issued", "by": "vanthu"}]}
TO_CHECK = {**OUTGOING, "id": "out-2", "state": "awaiting_clerk_check", "code": None, "issue_due_at": NOW}
# handed in by the clerk, waiting for the chairman's own approval (R-7.1, R-8.2)
HANDED_IN = {**OUTGOING, "id": "out-3", "state": "awaiting_approval", "code": None, "issued_at": None, "deliveries": [],
             "subject": "Thông báo lịch tiếp dân", "approval": {"asked_of": "chutich", "asked_by": "vanthu", "asked_at": NOW}}
DRAFT = {"id": "dr-1", "state": "submitted", "subject": "Báo cáo số liệu", "type_name": "Báo cáo", "author": "cc.vanphong",
         "author_name": "Phạm Minh Tuấn", "urgency": 0, "recipients": ["000.01.00.H56"], "comments": [],
         "versions": [{"version": 1, "name": "bc.pdf", "pdf": {"sha256": "cd" * 32}}],
         "history": [{"at": NOW, "by": "cc.vanphong", "action": "created", "version": 1}]}
DOSSIER = {"code": "2026.01.VP", "title": "Hồ sơ văn bản đến", "creator": "cc.vanphong", "state": "submitted",
           "state_vi": "Đã nộp lưu, chờ kiểm tra", "rights": "Công khai", "items": [{"record_id": "incoming:in-1", "code": "123"}],
           "retention": {"label": "10 năm"}, "history": [{"at": NOW, "by": "cc.vanphong", "action": "submitted"}]}
AUDIT = [{"at": NOW, "actor": "system:intake", "action": "incoming.registered", "origin": "bus:intake.packages", "seq": 3,
          "hash": "ef" * 32}]
# the operator's console (R-13): what /ops/… of the services answer
DEAD_LETTER = {"id": "dl-1", "queue": "intake.packages", "failed_queue": "intake.packages", "message_id": "m-1",
               "message_type": "gateway.PackageReceived.v1", "routing_key": "normal.gateway.package.received",
               "reason": "undecodable message: Invalid JSON", "failed_at": NOW, "retry_count": 0, "replays": 0,
               "state": "open", "history": [], "headers": {"x-failure-reason": "undecodable message: Invalid JSON",
                                                            "x-failed-queue": "intake.packages", "x-retry-count": 0},
               "body": '{"package_id": "p-1", "sender": {"organ_id": "000.01.00.H56"}}', "body_encoding": "utf-8",
               "body_size": 61}
STATUS = {"version": {"package": "0.1.0", "commit": "abc123def456"}, "started_at": NOW, "replica": 1, "pid": 4242,
          "ready": {"store": True, "broker": True}, "recent_errors": [], "dead_letters_open": {}}
ANSWERS = {
    ("intake", "/ops/status"): {**STATUS, "service": "intake", "dead_letters_open": {"intake.packages": 1}, "recent_errors": [
        {"timestamp": "2026-12-01T07:59:00Z", "level": "error", "event": "message dead-lettered", "queue": "intake.packages",
         "reason": "undecodable message: Invalid JSON"}]},
    ("gateway", "/ops/status"): {**STATUS, "service": "gateway", "axis": {
        "url": "http://axis.example", "reachable": True, "last_poll_at": NOW, "last_successful_poll_at": NOW,
        "last_error": None, "sends_waiting": 2, "sends_failed": 0}, "recent_errors": [
        {"timestamp": "2026-12-01T07:59:30Z", "level": "error", "event": "axis send failed", "error": "timeout"}]},
    ("signing", "/ops/status"): {**STATUS, "service": "signing",
                                 "token": {"available": True, "label": "vanthu", "error": None, "checked_at": NOW},
                                 "certificates": [{"kind": "key", "key": "agency", "subject": "UBND xã Hoằng Đức",
                                                   "not_after": "2027-01-15T00:00:00+00:00", "days_left": 20.5}]},
    ("intake", "/ops/dead-letters"): [{k: v for k, v in DEAD_LETTER.items() if k not in ("body", "body_encoding")}],
    ("intake", "/ops/dead-letters/dl-1"): DEAD_LETTER,
    ("intake", "/documents"): [INCOMING],
    ("intake", "/documents/in-1"): INCOMING,
    ("intake", "/documents/in-1/audit"): AUDIT,
    ("intake", "/handling/awaiting-assignment"): [{**INCOMING, "handling": {"state": "awaiting_assignment"}}],
    ("intake", "/register/2026/rows"): {"year": 2026, "columns": ["Ngày đến", "Số đến"], "rows": [["01/12/2026", "12"]]},
    ("intake", "/officers/cc.vanphong/work"): {"officer": "cc.vanphong", "counts": {"overdue": 1}, "replies_owed": 1, "items": [
        {"id": "in-1", "subject": "Về việc triển khai Đề án 06", "code": "123/UBND-VP", "priority": 2, "role": "lead",
         "standing": "overdue", "deadline": "2026-11-28", "note": "Khẩn", "reply_owed": True, "reply_due": "2026-12-10"}]},
    ("intake", "/staff"): [{"user": "cc.vanphong", "name": "Phạm Minh Tuấn", "role": "officer", "position": "VP"}],
    ("dispatch", "/outgoing"): [OUTGOING, TO_CHECK, HANDED_IN],
    ("dispatch", "/outgoing/out-1"): OUTGOING,
    ("dispatch", "/outgoing/out-1/audit"): AUDIT,
    ("dispatch", "/issuing/late"): {"overdue": [TO_CHECK], "late": []},
    ("dispatch", "/deliveries/unacknowledged"): [{"id": "out-1", "code": "15/BC-UBND", "recipients": [
        {"name": "VP UBND tỉnh", "transport_state": "accepted", "redeliveries": 3, "given_up": True}]}],
    ("dispatch", "/paper/pending"): [{"id": "out-1", "code": "15/BC-UBND", "recipients": [{"name": "Sở Tư pháp"}]}],
    ("dispatch", "/replies/owed"): [{"id": "out-1", "code": "15/BC-UBND", "subject": "x", "officer": "cc.vanphong",
                                     "due_date": "2026-12-01", "overdue": True}],
    ("dispatch", "/drafts"): [DRAFT],
    ("dispatch", "/drafts/dr-1"): DRAFT,
    ("archive", "/records/incoming:in-1"): {"id": "incoming:in-1", "files": INCOMING["files"], "subject": "x"},
    ("archive", "/records/outgoing:out-1"): {"id": "outgoing:out-1", "files": [], "subject": "x"},
    ("archive", "/records/material:1"): {"id": "material:1", "files": [], "subject": "Biên bản họp", "source": "material"},
    ("archive", "/dossiers"): [DOSSIER],
    ("archive", "/dossiers/2026.01.VP"): DOSSIER,
    ("archive", "/dossiers/expired"): [{**DOSSIER, "code": "2010.01.VP", "state": "archival"}],
    ("archive", "/dossiers/due-for-submission"): [{**DOSSIER, "submission_due": "2027-01-01"}],
    ("archive", "/catalogue/2026"): [{"notation": "01.VP", "title": "Hồ sơ văn bản đến", "keeper": "cc.vanphong"}],
    ("archive", "/search"): {"total": 1, "total_exact": True, "results": [
        {"id": "incoming:in-1", "code": "123/UBND-VP", "subject": "Về việc triển khai Đề án 06", "type_name": "Công văn",
         "issued_date": "2026-11-30", "sender": {"name": "VP UBND tỉnh"}, "snippet": "[Đề án] 06"}]},
}


class RecordedServices:
    """Stands for the other services (adapters/services.Services): answers by (service, path),
    records who asked what and every change asked for."""

    def __init__(self, silent: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, str, str, str]] = []
        self.silent = silent

    async def request(self, caller, service: str, method: str, path: str, **kwargs) -> httpx.Response:
        path = unquote(path)  # as the service's router sees it
        self.calls.append((caller.user, method, service, path))
        if service in self.silent:
            raise ServiceError(service, 503, f"Hệ thống {service} không trả lời; hãy thử lại sau.")
        if method == "GET":
            if "/export." in path or "/files/" in path:
                return httpx.Response(200, content=b"PK\x03\x04 or %PDF-", headers={"content-type": "application/octet-stream"})
            if (service, path) not in ANSWERS:
                raise ServiceError(service, 404, "Không có.")
            return httpx.Response(200, json=ANSWERS[(service, path)])
        if path == "/drafts":
            return httpx.Response(201, json={"id": "dr-2"})
        if path == "/dossiers":
            return httpx.Response(201, json={"code": "2026.02.VP"})
        if path == "/digitisations":
            return httpx.Response(202, json={"id": "in-9", "state": "digitising"})
        return httpx.Response(200, json={"ok": True})

    async def get(self, caller, service: str, path: str, **kwargs):
        return (await self.request(caller, service, "GET", path, **kwargs)).json()

    async def readiness(self, service: str):
        return service not in self.silent, {"store": True, "broker": service not in self.silent}

    async def close(self) -> None:
        pass


USERS = {"clerk": "vanthu", "chairman": "chutich", "vice_chairman": "phochutich", "officer": "cc.vanphong",
         "archivist": "luutru", "operator": "vanhanh"}
SAMPLE = {"{key}": {"/van-ban-den/": "in-1", "/van-ban-di/": "out-1"}, "{rid}": "material:1", "{sha256}": "ab" * 32,
          "{year}": "2026", "{fmt}": "xlsx", "{draft_id}": "dr-1", "{code}": "2026.01.VP",
          "{service}": "intake", "{dead_letter_id}": "dl-1"}


def concrete(path: str) -> str:
    for name, value in SAMPLE.items():
        if name in path:
            if isinstance(value, dict):
                value = next(v for prefix, v in value.items() if path.startswith(prefix))
            path = path.replace(name, value)
    return path


PAGES = sorted(path for (method, path), allowed in ACCESS.items() if method == "GET" and ANONYMOUS not in allowed and path != "/")


@pytest.fixture
async def portal(settings):
    async with running_portal(settings.model_copy(update={"portal_cookie_secure": False})) as app:
        app.state.ctx.extras["services"] = RecordedServices()
        yield app


@pytest.mark.parametrize("role", list(USERS))
async def test_each_role_opens_its_pages_and_no_other(portal, role):
    async with signed_in(portal, USERS[role]) as client:
        for path in PAGES:
            answer = await client.get(concrete(path))
            if role in ACCESS[("GET", path)]:
                assert answer.status_code == 200, (role, path, answer.text[:3000])
                if answer.headers["content-type"].startswith("text/html"):
                    html = answer.text
                    assert 'lang="vi"' in html and 'id="page-title"' in html and 'role="banner"' in html, path
                    assert 'id="main"' in html and "Content-Security-Policy" in answer.headers
                    # every visible input has a label
                    for field in re.findall(r'<(?:input|select|textarea)\b[^>]*>', html):
                        if 'type="hidden"' in field:
                            continue
                        ident = re.search(r'id="([^"]+)"', field)
                        assert ident and f'for="{ident.group(1)}"' in html, (path, field)
            else:
                assert answer.status_code == 403, (role, path, answer.status_code)
        home = await client.get("/")
        assert home.status_code == 303


async def test_the_forms_post_to_the_services_as_the_signed_in_user(portal):
    recorded: RecordedServices = portal.state.ctx.extras["services"]
    async with signed_in(portal, "vanthu") as clerk:
        token = csrf_of((await clerk.get("/van-thu/van-ban-di")).text)
        answer = await clerk.post("/van-ban-di/out-2/kiem-tra-the-thuc", data={"csrf_token": token, "passed": "false",
                                                                              "remarks": "Sai thể thức"})
        assert answer.status_code == 303 and "format_returned" in answer.headers["location"]
        answer = await clerk.post("/van-thu/so-hoa", data={"csrf_token": token, "code_notation": "UBND", "issued_date": "2026-11-30",
                                                          "type_name": "Công văn", "subject": "Về việc x", "sender_name": "Sở"},
                                  files={"files": ("scan.pdf", b"%PDF-1.7 ...", "application/pdf")})
        assert answer.status_code == 303 and answer.headers["location"].startswith("/van-ban-den/in-9")
        export = await clerk.get("/van-thu/so-den/2026/xuat.pdf")
        assert export.status_code == 200 and export.headers["content-disposition"].startswith("attachment")
        download = await clerk.get(f"/tep/incoming:in-1/{'ab' * 32}")
        assert download.status_code == 200 and download.headers["content-disposition"].startswith("attachment")
    async with signed_in(portal, "chutich") as chairman:
        token = csrf_of((await chairman.get("/van-ban-den/in-1/giao-viec")).text)
        missing = await chairman.post("/van-ban-den/in-1/giao-viec", data={"csrf_token": token})
        assert missing.status_code == 422 and "Chọn cán bộ chủ trì" in missing.text
        assigned = await chairman.post("/van-ban-den/in-1/giao-viec", data={
            "csrf_token": token, "lead": "cc.vanphong", "lead_days": "5", "cooperating": "cc.tuphap", "note": "Khẩn"})
        assert assigned.status_code == 303
        for path, data in (("/du-thao/dr-1/duyet", {}), ("/du-thao/dr-1/tra-lai", {"comment": "Sửa lại"}),
                           ("/van-ban-di/out-1/thu-hoi", {"reason": "Sai số liệu"})):
            assert (await chairman.post(path, data={"csrf_token": token, **data})).status_code == 303, path
        # what the clerk handed in for him, with his own approve and return forms (R-7.1, R-8.2)
        home = (await chairman.get("/lanh-dao")).text
        row = re.search(r'<tr id="handed-in-out-3">(.*?)</tr>', home, re.S).group(1)
        assert "Thông báo lịch tiếp dân" in row and 'action="/van-ban-di/out-3/duyet"' in row and 'name="reason"' in row
        assert 'id="handed-in-out-1"' not in home and 'id="handed-in-out-2"' not in home
        unexplained = await chairman.post("/van-ban-di/out-3/tra-lai", data={"csrf_token": token, "reason": " "})
        assert unexplained.status_code == 422 and "Ghi lý do trả lại" in unexplained.text
        for path, data in (("/van-ban-di/out-3/duyet", {}), ("/van-ban-di/out-3/tra-lai", {"reason": "Sai nơi nhận"})):
            assert (await chairman.post(path, data={"csrf_token": token, **data})).status_code == 303, path
    async with signed_in(portal, "phochutich") as vice:  # handed in for the chairman: not on her page
        assert 'id="handed-in-out-3"' not in (await vice.get("/lanh-dao")).text
    async with signed_in(portal, "cc.vanphong") as officer:
        token = csrf_of((await officer.get("/viec-cua-toi")).text)
        for action in ("received", "progress", "completed"):
            done = await officer.post(f"/van-ban-den/in-1/xu-ly/{action}", data={"csrf_token": token, "note": "x",
                                                                                "back_to": "https://evil.example/"})
            assert done.status_code == 303 and done.headers["location"].startswith("/viec-cua-toi?"), action
        created = await officer.post("/du-thao", data={"csrf_token": token, "type_name": "Báo cáo", "subject": "x",
                                                       "recipients": "000.01.00.H56"},
                                     files={"file": ("bc.pdf", b"%PDF-1.7", "application/pdf")})
        assert created.status_code == 303 and created.headers["location"].startswith("/du-thao/dr-2")
        for path in ("/du-thao/dr-1/trinh", "/ho-so/2026.01.VP/dong", "/ho-so/2026.01.VP/nop"):
            assert (await officer.post(path, data={"csrf_token": token})).status_code == 303, path
        opened = await officer.post("/ho-so", data={"csrf_token": token, "year": "2026", "notation": "01.VP"})
        assert opened.headers["location"].startswith("/ho-so/2026.02.VP")
    async with signed_in(portal, "luutru") as archivist:
        token = csrf_of((await archivist.get("/luu-tru")).text)
        for path, data in (("/ho-so/2026.01.VP/tiep-nhan", {}), ("/ho-so/2026.01.VP/tra-lai", {"reasons": "Thiếu văn bản"}),
                           ("/ho-so/2010.01.VP/de-nghi-huy", {"reason": "Hết hạn"})):
            assert (await archivist.post(path, data={"csrf_token": token, **data})).status_code == 303, path
    changes = [(user, service, path) for user, method, service, path in recorded.calls if method == "POST"]
    assert ("vanthu", "dispatch", "/outgoing/out-2/format-check") in changes
    assert ("vanthu", "intake", "/digitisations") in changes
    assert ("chutich", "intake", "/documents/in-1/assignment") in changes
    assert ("chutich", "dispatch", "/outgoing/out-3/approve") in changes and ("chutich", "dispatch", "/outgoing/out-3/return") in changes
    assert ("cc.vanphong", "intake", "/documents/in-1/handling/cc.vanphong/received") in changes
    assert ("luutru", "archive", "/dossiers/2026.01.VP/accept") in changes
    assert all(user != "vanhanh" for user, *_ in changes)


async def test_a_silent_service_leaves_the_page_up_with_a_vietnamese_message(portal):
    portal.state.ctx.extras["services"] = RecordedServices(silent=("intake", "archive", "gateway"))
    async with signed_in(portal, "vanthu") as clerk:
        page = await clerk.get("/van-thu")
        assert page.status_code == 200 and "không trả lời" in page.text
        document = await clerk.get("/van-ban-den/in-1")
        assert document.status_code == 404 and "không trả lời" in document.text
    async with signed_in(portal, "vanhanh") as operator:
        status = await operator.get("/van-hanh")
        assert status.status_code == 200 and "Có dịch vụ chưa sẵn sàng" in status.text
