"""Drafting and approval with every part real (issue 4 point 1; R-6.3, R-7.1, R-10.3): an
officer drafts a reply in DOCX (LibreOffice makes the PDF and the signer's block is found),
linked to the incoming document it answers; the vice-chairman returns it with comments; the
officer uploads a new version; the chairman approves — his own key signs — and the reply goes
out with ResponseFor naming the incoming document, which the sender's system then matches."""

from __future__ import annotations

import subprocess

import httpx
import pytest

from shared.edxml import parse_edoc
from shared.pdfdocs import DocumentText, render_document
from staff_http import http
from tests.e2e.test_round_trip import (
    agency_send,
    get,
    incoming_by_document_id,
    wait_until,
)

pytestmark = pytest.mark.e2e
HOME_AFFAIRS = "000.12.00.H56"
REPLY_HTML = """<html><head><meta charset="utf-8"></head><body>
<p style="text-align:center">ỦY BAN NHÂN DÂN XÃ HOẰNG ĐỨC</p>
<p style="text-align:center"><b>BÁO CÁO</b></p><p>Về việc số liệu cán bộ, công chức năm 2026.</p>
<p>Thực hiện văn bản của Sở Nội vụ, UBND xã báo cáo như sau: ...</p>
<p style="text-align:right"><b>TM. ỦY BAN NHÂN DÂN</b></p><p style="text-align:right"><b>CHỦ TỊCH</b></p>
<p><br/></p><p><br/></p><p><br/></p><p style="text-align:right"><b>Lê Văn Thành</b></p></body></html>"""




@pytest.fixture(scope="module")
def reply_docx(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("docx")
    (folder / "bao-cao.html").write_text(REPLY_HTML, encoding="utf-8")
    subprocess.run(["soffice", f"-env:UserInstallation=file://{folder / 'profile'}", "--headless", "--convert-to",
                    "docx:MS Word 2007 XML", "--outdir", str(folder), str(folder / "bao-cao.html")], check=True,
                   capture_output=True, timeout=120)
    return (folder / "bao-cao.docx").read_bytes()


def post(url: str, body: dict, as_: str | None = None) -> httpx.Response:
    """A call as the user the body names (`by`), or `as_`, with the portal's token for them (R-15.5)."""
    return http.post(url, json=body, as_=as_, timeout=60)


def test_an_officers_docx_reply_is_returned_revised_approved_and_answers_the_incoming_document(system, reply_docx):
    stack, urls = system
    [asked_id] = agency_send(urls, HOME_AFFAIRS, subject="Về việc báo cáo số liệu cán bộ, công chức", type_name="Công văn")
    asked = wait_until(lambda: incoming_by_document_id(urls, asked_id),
                       lambda d: d is not None and d["state"] == "registered", what="the request registered")
    form = {"author": "cc.vanphong", "type_name": "Báo cáo", "subject": "Báo cáo số liệu cán bộ, công chức năm 2026",
            "recipients": HOME_AFFAIRS, "answers": asked["id"]}
    docx = [("file", ("bao-cao.docx", reply_docx, "application/vnd.openxmlformats-officedocument.wordprocessingml.document"))]

    # Bad drafts are refused with the reason: the archivist does not draft (refused by the access
    # rule), nobody drafts in an officer's name.
    refused = http.post(f"{urls['dispatch']}/drafts", data={**form, "author": "luutru"}, files=docx, timeout=120)
    assert refused.status_code == 403 and "archivist" in refused.json()["detail"]
    in_his_name = http.post(f"{urls['dispatch']}/drafts", data=form, files=docx, as_="cc.tuphap", timeout=120)
    assert in_his_name.status_code == 403 and "thay người khác" in in_his_name.json()["detail"]
    assert get(f"{urls['dispatch']}/drafts?author=cc.vanphong", as_="chutich") == []
    unknown = http.post(f"{urls['dispatch']}/drafts", data={**form, "answers": "khong-co"}, files=docx, timeout=120)
    assert unknown.status_code == 422 and "Không có văn bản đến" in unknown.json()["detail"]
    exe = http.post(f"{urls['dispatch']}/drafts", data=form, files=[("file", ("x.docx", b"MZ\x90\x00" + bytes(300), "x"))])
    assert exe.status_code == 422 and "PDF, DOCX hoặc ODT" in exe.json()["detail"]

    created = http.post(f"{urls['dispatch']}/drafts", data=form, files=docx, timeout=120)
    assert created.status_code == 201, created.text
    draft = created.json()
    assert draft["versions"][0]["source_format"] == "docx" and draft["answers"][0]["incoming_key"] == asked["id"]
    draft_id = draft["id"]

    # Another officer may not submit it, neither as herself (only the author submits) nor in his name.
    not_author = post(f"{urls['dispatch']}/drafts/{draft_id}/submit", {}, as_="cc.tuphap")
    assert not_author.status_code == 422 and "Chỉ người soạn" in not_author.json()["detail"]
    assert post(f"{urls['dispatch']}/drafts/{draft_id}/submit", {"by": "cc.vanphong"}, as_="cc.tuphap").status_code == 403
    assert post(f"{urls['dispatch']}/drafts/{draft_id}/submit", {"by": "cc.vanphong"}).status_code == 200
    assert draft_id in [d["id"] for d in get(f"{urls['dispatch']}/drafts?state=submitted")]  # the leaders' queue
    # An officer does not return drafts (R-6.3: leaders review them).
    assert post(f"{urls['dispatch']}/drafts/{draft_id}/return", {"by": "cc.vanphong", "comment": "x"}).status_code == 403
    returned = post(f"{urls['dispatch']}/drafts/{draft_id}/return", {"by": "phochutich", "comment": "Bổ sung biểu số liệu"})
    assert returned.status_code == 200 and returned.json()["state"] == "returned"
    assert post(f"{urls['dispatch']}/drafts/{draft_id}/submit", {"by": "cc.vanphong"}).status_code == 409

    revised = render_document(DocumentText(type_name="BÁO CÁO", subject="Báo cáo số liệu cán bộ, công chức năm 2026",
                                           number_notation="Số:      /BC-UBND", signer_name="Lê Văn Thành"),
                              number_fields=True).pdf
    version = http.post(f"{urls['dispatch']}/drafts/{draft_id}/versions", data={"by": "cc.vanphong"},
                         files=[("file", ("bao-cao-v2.pdf", revised, "application/pdf"))], timeout=60)
    assert version.status_code == 200 and len(version.json()["versions"]) == 2
    assert post(f"{urls['dispatch']}/drafts/{draft_id}/submit", {"by": "cc.vanphong"}).status_code == 200
    # The chairman approves as himself only; the vice-chairman reaches the domain rule: no key of hers.
    in_her_name = post(f"{urls['dispatch']}/drafts/{draft_id}/approve", {"by": "phochutich"}, as_="chutich")
    assert in_her_name.status_code == 403 and "thay người khác" in in_her_name.json()["detail"]
    no_key = post(f"{urls['dispatch']}/drafts/{draft_id}/approve", {"by": "phochutich"})
    assert no_key.status_code == 422 and "chưa có khóa ký số" in no_key.json()["detail"]
    approved = post(f"{urls['dispatch']}/drafts/{draft_id}/approve", {"by": "chutich"})
    assert approved.status_code == 200, approved.text
    final = approved.json()
    assert final["state"] == "approved" and final["approved_version"] == 2
    assert [c["comment"] for c in final["comments"]] == ["Bổ sung biểu số liệu"]

    # Signed by the chairman, it waits for the clerk's format check before its number.
    key = final["outgoing_key"]
    wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"), lambda r: r and r["state"] == "awaiting_clerk_check",
               what="the leader's signature, then the clerk's check")
    # The clerk checks the format: an officer is refused by the access rule, and nobody
    # checks in the clerk's name.
    not_clerk = post(f"{urls['dispatch']}/outgoing/{key}/format-check", {"by": "cc.vanphong", "passed": True})
    assert not_clerk.status_code == 403 and "officer" in not_clerk.json()["detail"]
    as_clerk = post(f"{urls['dispatch']}/outgoing/{key}/format-check", {"by": "vanthu", "passed": True}, as_="chutich")
    assert as_clerk.status_code == 403
    assert get(f"{urls['dispatch']}/outgoing/{key}")["state"] == "awaiting_clerk_check"
    checked = post(f"{urls['dispatch']}/outgoing/{key}/format-check", {"by": "vanthu", "passed": True})
    assert checked.status_code == 200, checked.text
    outgoing = wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"),
                          lambda r: r and r["state"] == "issued", what="checked, numbered, agency-signed, issued")
    assert outgoing["format_check"]["by"] == "vanthu" and outgoing["format_check"]["passed"]
    assert outgoing["approved_by"] == "chutich" and outgoing["draft_id"] == draft_id and outgoing["number_written"]
    package = http.get(f"{urls['dispatch']}/blobs/{outgoing['deliveries'][0]['package']['sha256']}", timeout=30).content
    assert [r.document_id for r in parse_edoc(package).response_for] == [asked_id]  # it answers the request

    # The first version, from DOCX, was also a valid template: LibreOffice's PDF with the signer's block found.
    first_pdf = http.get(f"{urls['dispatch']}/blobs/{draft['versions'][0]['pdf']['sha256']}", timeout=30).content
    from shared.pdfdocs import LEADER_FIELD, field_names

    assert LEADER_FIELD in field_names(first_pdf)


def test_the_clerk_returns_a_badly_formatted_document_and_no_number_is_used(system):
    stack, urls = system
    pdf = render_document(DocumentText(type_name="THÔNG BÁO", subject="Thông báo lịch trực", number_notation="Số:      /TB-UBND"),
                          number_fields=True).pdf
    created = http.post(f"{urls['dispatch']}/drafts", files=[("file", ("tb.pdf", pdf, "application/pdf"))], timeout=60,
                         data={"author": "cc.tuphap", "type_name": "Thông báo", "subject": "Thông báo lịch trực",
                               "recipients": HOME_AFFAIRS})
    assert created.status_code == 201, created.text
    draft_id = created.json()["id"]
    assert post(f"{urls['dispatch']}/drafts/{draft_id}/submit", {"by": "cc.tuphap"}).status_code == 200
    key = post(f"{urls['dispatch']}/drafts/{draft_id}/approve", {"by": "chutich"}).json()["outgoing_key"]
    wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"), lambda r: r["state"] == "awaiting_clerk_check",
               what="waiting for the clerk")
    silent = post(f"{urls['dispatch']}/outgoing/{key}/format-check", {"by": "vanthu", "passed": False})
    assert silent.status_code == 422 and "sai thể thức" in silent.json()["detail"]["problems"][0]
    returned = post(f"{urls['dispatch']}/outgoing/{key}/format-check",
                    {"by": "vanthu", "passed": False, "remarks": "Thiếu nơi nhận; trích yếu chưa đúng"})
    assert returned.status_code == 200 and returned.json()["state"] == "returned_by_clerk"
    record = get(f"{urls['dispatch']}/outgoing/{key}")
    assert "register" not in record and record["format_check"]["remarks"] == "Thiếu nơi nhận; trích yếu chưa đúng"
