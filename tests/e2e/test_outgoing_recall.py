"""Recalling an issued document with every part real (issue 4 point 7; R-7.4): the chairman
decides, a status-13 notice goes to each recipient through the axis, each recipient's answer
(15 withdrawn / 16 refused with the reason) is tracked on its delivery; bad requests are
refused with the reason."""

from __future__ import annotations

import httpx
import pytest

from shared.edxml import parse_edoc
from shared.pdfdocs import DocumentText, render_document
from staff_http import http
from tests.e2e.test_round_trip import get, statuses_seen_by, wait_until

pytestmark = pytest.mark.e2e
PROVINCE_OFFICE, HOME_AFFAIRS = "000.01.00.H56", "000.12.00.H56"




def submit(urls, recipients: str, role: str | None = None, **extra) -> str:
    """Issued by the clerk the form names (`requested_by`, else the clerk), with `role` for an
    account the staff list does not know."""
    pdf = render_document(DocumentText(type_name="KẾ HOẠCH", subject="Kế hoạch tổ chức ngày hội đại đoàn kết",
                                       number_notation="Số:      /KH-UBND")).pdf
    headers = http.headers(extra.get("requested_by", "vanthu"), role)
    response = http.post(f"{urls['dispatch']}/outgoing", files={"file": ("kh.pdf", pdf, "application/pdf")}, headers=headers,
                         data={"type_name": "Kế hoạch", "subject": "Kế hoạch tổ chức ngày hội đại đoàn kết",
                               "recipients": recipients, "signer_full_name": "Lê Văn Minh", **extra}, timeout=30)
    assert response.status_code == 202, response.text
    key = response.json()["id"]
    assert http.approve_outgoing(urls["dispatch"], key, extra.get("approved_by", "chutich")).status_code == 202
    return key


def test_a_recall_notice_reaches_every_recipient_and_each_answer_is_tracked(system):
    stack, urls = system
    # A document that was never issued (its agency signature was refused: a clerk's account the
    # agency key was never assigned to) cannot be recalled.
    stopped = submit(urls, PROVINCE_OFFICE, requested_by="vanthu.moi", role="clerk")
    wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{stopped}"), lambda r: r["state"] == "signature_refused",
               what="agency signature refused")
    early = http.post(f"{urls['dispatch']}/outgoing/{stopped}/recall", json={"by": "chutich", "reason": "Ban hành nhầm"})
    assert early.status_code == 422 and "đã phát hành" in early.json()["detail"]["problems"][0]
    assert http.post(f"{urls['dispatch']}/outgoing/nope/recall", json={"by": "chutich", "reason": "x"}).status_code == 404

    # It already had its number; cancelled, the number stays taken and is recorded as cancelled (R-7.2b).
    stopped_record = get(f"{urls['dispatch']}/outgoing/{stopped}")
    assert http.post(f"{urls['dispatch']}/outgoing/{stopped}/cancel", json={"reason": "x"}, as_="cc.tuphap").status_code == 403
    cancelled = http.post(f"{urls['dispatch']}/outgoing/{stopped}/cancel", json={"by": "vanthu", "reason": "Không phát hành"})
    assert cancelled.status_code == 200 and cancelled.json()["cancellation"]["number"] == stopped_record["register"]["number"]
    book = get(f"{urls['dispatch']}/register/{stopped_record['register']['year']}/rows")
    [row] = [r for r in book["rows"] if r[0] == stopped_record["code"]]
    assert "Hủy số: Không phát hành" in row[-1]

    key = submit(urls, f"{PROVINCE_OFFICE},{HOME_AFFAIRS}")
    issued = wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"),
                        lambda r: r["state"] == "issued" and all(d.get("business_state") == "accepted" for d in r["deliveries"]),
                        what="issued and registered by both recipients")
    assert issued["register"]["number"] > stopped_record["register"]["number"]  # never reused
    assert http.post(f"{urls['dispatch']}/outgoing/{key}/cancel", json={"by": "vanthu", "reason": "x"}).status_code == 422
    # A recall is a leader's decision: the clerk is refused by the access rule; a leader
    # without a reason by the domain; nobody decides in a leader's name.
    clerk = http.post(f"{urls['dispatch']}/outgoing/{key}/recall", json={"by": "vanthu", "reason": "Ban hành nhầm"})
    assert clerk.status_code == 403 and "clerk" in clerk.json()["detail"]
    refused = http.post(f"{urls['dispatch']}/outgoing/{key}/recall", json={"by": "chutich", "reason": ""})
    assert refused.status_code == 422
    assert refused.json()["detail"]["problems"] == ["Ghi lý do thu hồi để nơi nhận biết."]
    in_her_name = http.post(f"{urls['dispatch']}/outgoing/{key}/recall", json={"by": "phochutich", "reason": "x"}, as_="chutich")
    assert in_her_name.status_code == 403 and "thay người khác" in in_her_name.json()["detail"]
    assert "recall" not in get(f"{urls['dispatch']}/outgoing/{key}")

    recalled = http.post(f"{urls['dispatch']}/outgoing/{key}/recall", json={"by": "phochutich", "reason": "Ban hành nhầm kế hoạch"})
    assert recalled.status_code == 202, recalled.text
    assert [d["recall_state"] for d in recalled.json()["deliveries"]] == ["requested", "requested"]
    again = http.post(f"{urls['dispatch']}/outgoing/{key}/recall", json={"by": "chutich", "reason": "Lần nữa"})
    assert again.status_code == 422 and "trước đó" in again.json()["detail"]["problems"][0]

    # Each recipient sees the notice (13) and answers; the answers are tracked per delivery.
    for agency in (PROVINCE_OFFICE, HOME_AFFAIRS):
        seen = wait_until(lambda a=agency: statuses_seen_by(urls, a, issued["document_id"]),
                          lambda s: any(x["status_code"] == "13" for x in s), what=f"the notice at {agency}")
        assert next(x for x in seen if x["status_code"] == "13")["description"] == "Ban hành nhầm kế hoạch"
    done = wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"),
                      lambda r: all(d.get("recall_state") == "agreed" for d in r["deliveries"]), what="both answers 15")
    assert done["recall"]["decided_by"] == "phochutich"
    assert all("thu hồi" in d["recall_answer"] for d in done["deliveries"])


def test_paper_copies_and_a_partner_outside_the_system(system):
    """R-5.1, R-5.2: a finance document to the province office (axis, plus paper) and to a
    cooperative without the technical means (outside the system, paper only): both paper copies
    wait for the clerk until recorded sent; the recall of such a document goes on paper there."""
    stack, urls = system
    outside = "HTX.HOANGDUC.01"
    key = submit(urls, f"{PROVINCE_OFFICE},{outside}", category="finance")
    issued = wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"),
                        lambda r: r["state"] == "issued" and r["deliveries"][0].get("business_state") == "accepted",
                        what="issued; the province office registered it")
    by_organ = {d["organ_id"]: d for d in issued["deliveries"]}
    assert by_organ[outside]["transport_state"] == "outside_system" and "send_id" not in by_organ[outside]
    assert by_organ[outside]["paper"]["reasons"] == ["văn bản về tài chính",
                                                      "nơi nhận chưa có điều kiện nhận văn bản điện tử (gửi ngoài hệ thống)"]
    assert by_organ[PROVINCE_OFFICE]["paper"]["state"] == "to_send"
    pending = {r["id"]: r for r in get(f"{urls['dispatch']}/paper/pending")}
    assert {x["organ_id"] for x in pending[key]["recipients"]} == {PROVINCE_OFFICE, outside}

    # The clerk records paper copies: an officer is refused by the access rule;
    # an unknown way of sending by the domain.
    officer = http.post(f"{urls['dispatch']}/outgoing/{key}/paper/{outside}",
                        json={"by": "cc.tuphap", "sent_on": "2026-11-25", "method": "bưu điện"})
    assert officer.status_code == 403 and "officer" in officer.json()["detail"]
    wrong = http.post(f"{urls['dispatch']}/outgoing/{key}/paper/{outside}",
                      json={"by": "vanthu", "sent_on": "2026-11-25", "method": "bồ câu"})
    assert wrong.status_code == 422 and len(wrong.json()["detail"]["problems"]) == 1
    for organ in (PROVINCE_OFFICE, outside):
        sent = http.post(f"{urls['dispatch']}/outgoing/{key}/paper/{organ}",
                          json={"by": "vanthu", "sent_on": "2026-11-25", "method": "bưu điện", "reference": f"RR{organ[-4:]}VN"})
        assert sent.status_code == 200 and sent.json()["paper"]["state"] == "sent"
    assert key not in {r["id"] for r in get(f"{urls['dispatch']}/paper/pending")}
    twice = http.post(f"{urls['dispatch']}/outgoing/{key}/paper/{outside}",
                       json={"by": "vanthu", "sent_on": "2026-11-25", "method": "bưu điện"})
    assert twice.status_code == 422

    recalled = http.post(f"{urls['dispatch']}/outgoing/{key}/recall", json={"by": "chutich", "reason": "Sai số liệu"})
    states = {d["organ_id"]: d["recall_state"] for d in recalled.json()["deliveries"]}
    assert states == {PROVINCE_OFFICE: "requested", outside: "by_paper"}


def test_a_document_asking_for_a_report_shows_who_has_not_answered(system):
    """R-7.5, R-10.3: a report is asked of two agencies by a date; one answers (its document
    names ours in ResponseFor, registered by intake); the other is still owed."""
    import datetime as dt

    stack, urls = system
    due = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    key = submit(urls, f"{PROVINCE_OFFICE},{HOME_AFFAIRS}", due_date=due)
    issued = wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"), lambda r: r["state"] == "issued", what="issued")
    owed = {o["id"]: o for o in get(f"{urls['dispatch']}/replies/owed")}
    assert {x["organ_id"] for x in owed[key]["owed_by"]} == {PROVINCE_OFFICE, HOME_AFFAIRS}
    assert owed[key]["due_date"] == due and not owed[key]["overdue"] and owed[key]["officer"] == "vanthu"

    reply = httpx.post(f"{urls['axis']}/_sim/agencies/{HOME_AFFAIRS}/send",
                       json={"subject": "Báo cáo theo yêu cầu", "type_name": "Báo cáo", "reply_to_document_id": issued["document_id"]},
                       timeout=60)
    assert reply.status_code == 200, reply.text
    record = wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"),
                        lambda r: any(d.get("replied") for d in r["deliveries"]), what="the reply recorded")
    replied = next(d for d in record["deliveries"] if d.get("replied"))
    assert replied["organ_id"] == HOME_AFFAIRS and "/" in replied["replied"]["code"] and replied["replied"]["incoming_key"]
    owed = {o["id"]: o for o in get(f"{urls['dispatch']}/replies/owed")}
    assert [x["organ_id"] for x in owed[key]["owed_by"]] == [PROVINCE_OFFICE]


def test_annexes_in_separate_files_are_signed_by_the_agency_and_travel_with_the_document(system):
    """NĐ 30 Phụ lục I II.8 (issue 4 point 3): each annex file gets the agency's signature (its
    số/ký hiệu and time, top right, no image); the envelope carries the document and its annexes."""
    import io

    from pyhanko.pdf_utils.reader import PdfFileReader

    stack, urls = system
    main = render_document(DocumentText(type_name="KẾ HOẠCH", subject="Kế hoạch có phụ lục",
                                        number_notation="Số:      /KH-UBND"), number_fields=True).pdf
    annex = render_document(DocumentText(type_name="PHỤ LỤC", subject="Danh sách các thôn")).pdf
    not_pdf = http.post(f"{urls['dispatch']}/outgoing", files=[("file", ("kh.pdf", main, "application/pdf")),
                                                                 ("annexes", ("pl.pdf", b"not a pdf", "application/pdf"))],
                         data={"type_name": "Kế hoạch", "subject": "Kế hoạch có phụ lục", "recipients": PROVINCE_OFFICE,
                               "signer_full_name": "Lê Văn Minh"}, timeout=30)
    assert not_pdf.status_code == 422 and "pl.pdf" in not_pdf.json()["detail"]
    response = http.post(f"{urls['dispatch']}/outgoing",
                          files=[("file", ("kh.pdf", main, "application/pdf")),
                                 ("annexes", ("phu-luc-1.pdf", annex, "application/pdf")),
                                 ("annexes", ("phu-luc-2.pdf", annex + b"\n%", "application/pdf"))],
                          data={"type_name": "Kế hoạch", "subject": "Kế hoạch có phụ lục", "recipients": PROVINCE_OFFICE,
                                "signer_full_name": "Lê Văn Minh"}, timeout=30)
    assert response.status_code == 202, response.text
    key = response.json()["id"]
    assert http.approve_outgoing(urls["dispatch"], key).status_code == 202  # the leader's own approval
    issued = wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"), lambda r: r["state"] == "issued", what="issued")
    assert [s["role"] for s in issued["signatures"]].count("annex") == 2
    package = parse_edoc(http.get(f"{urls['dispatch']}/blobs/{issued['deliveries'][0]['package']['sha256']}", timeout=30).content)
    names = [a.attachment_name for a in package.attachments]
    code = issued["code"].replace("/", "_")
    assert names == [f"{code}.pdf", f"{code}_phu-luc-1.pdf", f"{code}_phu-luc-2.pdf"]
    for attachment in package.attachments[1:]:
        [signature] = PdfFileReader(io.BytesIO(attachment.content)).embedded_signatures
        assert "Hoằng Đức" in signature.signer_cert.subject.native["common_name"]  # the agency's key
    archived = wait_until(lambda: get(f"{urls['archive']}/records/outgoing:{key}"), lambda r: r is not None, what="archive")
    assert len(archived["files"]) == 3
