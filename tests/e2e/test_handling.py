"""Routing, assignment and handling of a registered document with every part real (issue 3;
R-6.3, R-6.4, R-10.3, R-3.4, R-4.2c, R-6.2): the chairman's queue puts urgent documents first;
the chairman assigns a lead and a cooperating officer; the lead receives it (deadline from
receipt, in working days), reports progress and completes; the sender sees 04, 05, 06; a recall
after completion is refused 16."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from staff_http import http
from tests.e2e.test_round_trip import (
    agency_send,
    get,
    incoming_by_document_id,
    statuses_seen_by,
    wait_until,
)

pytestmark = pytest.mark.e2e

HOME_AFFAIRS = "000.12.00.H56"




def registered(urls, document_id: str) -> dict:
    return wait_until(lambda: incoming_by_document_id(urls, document_id),
                      lambda d: d is not None and d["state"] == "registered", what="registration")


def post(url: str, body: dict | None = None, as_: str | None = None) -> httpx.Response:
    """A call as the user the body names (`by`, …), or `as_`, with the portal's token for them."""
    return http.post(url, json=body or {}, as_=as_, timeout=30)


def test_assignment_receipt_progress_and_completion_reach_the_sender_as_04_05_06(system):
    stack, urls = system
    due = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    [normal_id] = agency_send(urls, HOME_AFFAIRS, subject="Về việc báo cáo số liệu cán bộ", due_date=due)
    [urgent_id] = agency_send(urls, HOME_AFFAIRS, subject="Về việc phòng chống bão số 9", urgency=3)
    normal, urgent = registered(urls, normal_id), registered(urls, urgent_id)
    assert normal["handling"]["state"] == "awaiting_assignment"

    # The chairman's queue: the urgent one first although it arrived later (R-4.2c, R-6.3).
    queue = [row["id"] for row in get(f"{urls['intake']}/handling/awaiting-assignment")]
    assert queue.index(urgent["id"]) < queue.index(normal["id"])

    # Bad requests are refused with the reason, and change nothing: an officer does not assign
    # (R-6.4; refused by the access rule), nobody assigns in the chairman's name, nor the
    # chairman in the vice-chairman's.
    lead = {"officer": "cc.tuphap", "working_days": 3}
    refused = post(f"{urls['intake']}/documents/{normal['id']}/assignment", {"by": "cc.vanphong", "lead": lead})
    assert refused.status_code == 403 and "officer" in refused.json()["detail"]
    for user, claimed in (("cc.vanphong", "chutich"), ("vanthu", "chutich"), ("chutich", "phochutich")):
        acting = post(f"{urls['intake']}/documents/{normal['id']}/assignment", {"by": claimed, "lead": lead}, as_=user)
        assert acting.status_code == 403, (user, claimed, acting.text)
    assert httpx.post(f"{urls['intake']}/documents/{normal['id']}/assignment", json={"lead": lead}).status_code == 401
    assert get(f"{urls['intake']}/documents/{normal['id']}")["handling"]["state"] == "awaiting_assignment"
    assert post(f"{urls['intake']}/documents/nope/assignment",
                {"by": "chutich", "lead": {"officer": "cc.tuphap", "working_days": 3}}).status_code == 404

    assigned = post(f"{urls['intake']}/documents/{normal['id']}/assignment", {
        "by": "chutich", "note": "Giao công chức Tư pháp chủ trì, Văn phòng phối hợp; báo cáo đúng hạn.",
        "lead": {"officer": "cc.tuphap", "working_days": 5}, "cooperating": [{"officer": "cc.vanphong", "working_days": 3}]})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["handling"] == {"state": "assigned", "reply_due": due, "reply_required": True}
    assert normal["id"] not in [row["id"] for row in get(f"{urls['intake']}/handling/awaiting-assignment")]

    work = get(f"{urls['intake']}/officers/cc.tuphap/work")
    [item] = [i for i in work["items"] if i["id"] == normal["id"]]
    assert item["standing"] == "not_received" and item["role"] == "lead" and item["reply_owed"]
    # The chairman sees anyone's work; another officer does not see hers.
    assert get(f"{urls['intake']}/officers/cc.tuphap/work", as_="chutich")["items"] == work["items"]
    assert http.get(f"{urls['intake']}/officers/cc.tuphap/work", as_="cc.vanphong").status_code == 403

    # Only the officer named receives, as herself: not a colleague, not the chairman for her.
    for user in ("cc.vanphong", "chutich"):
        other = post(f"{urls['intake']}/documents/{normal['id']}/handling/cc.tuphap/received", as_=user)
        assert other.status_code == 403, (user, other.text)

    received = post(f"{urls['intake']}/documents/{normal['id']}/handling/cc.tuphap/received")
    assert received.status_code == 200, received.text
    [lead_task] = [t for t in received.json()["assignment"]["tasks"] if t["officer"] == "cc.tuphap"]
    assert lead_task["received_at"] and lead_task["deadline"]  # runs from receipt
    assert received.json()["handling"]["state"] == "in_progress"

    assert post(f"{urls['intake']}/documents/{normal['id']}/handling/cc.tuphap/progress",
                {"note": "Đã tổng hợp số liệu của các thôn"}).status_code == 200
    # The cooperating officer has not received it yet: completing is refused.
    early = post(f"{urls['intake']}/documents/{normal['id']}/handling/cc.vanphong/completed", {"note": "xong"})
    assert early.status_code == 409 and "nhận văn bản trước" in early.json()["detail"]
    done = post(f"{urls['intake']}/documents/{normal['id']}/handling/cc.tuphap/completed", {"note": "Đã gửi báo cáo"})
    assert done.status_code == 200 and done.json()["handling"]["state"] == "completed"

    statuses = wait_until(lambda: statuses_seen_by(urls, HOME_AFFAIRS, normal_id),
                          lambda s: len(s) >= 5, what="04, 05, 06 at the sender")
    assert [s["status_code"] for s in statuses] == ["01", "03", "04", "05", "06"]
    assert "Lê Văn Thành" in statuses[2]["description"] and "Hoàng Thị Lan" in statuses[2]["description"]

    # Every change is in the audit log.
    document = get(f"{urls['intake']}/documents/{normal['id']}")
    assert [s["code"] for s in document["statuses"]] == ["01", "03", "04", "05", "06"]
    import pymongo

    db = pymongo.MongoClient(stack.env["MONGODB_URL"])[f"{stack.env['DATABASE_PREFIX']}_intake"]
    actions = [a["action"] for a in db["audit_log"].find({"subject_id": normal["id"]}, sort=[("at", 1)])]
    for action in ("incoming.assigned", "incoming.received_by_officer", "incoming.progress", "incoming.completed_by_officer"):
        assert action in actions

    # Handled to the end: a recall now is refused with the reason.
    httpx.post(f"{urls['axis']}/_sim/agencies/{HOME_AFFAIRS}/recall", json={"document_id": normal_id}, timeout=30)
    statuses = wait_until(lambda: statuses_seen_by(urls, HOME_AFFAIRS, normal_id), lambda s: len(s) >= 6, what="16")
    assert statuses[-1]["status_code"] == "16" and "xử lý xong" in statuses[-1]["description"]
    assert get(f"{urls['intake']}/documents/{normal['id']}")["state"] == "registered"


def test_a_digitised_paper_document_is_signed_top_left_and_registered(system, tmp_path):
    """R-6.5: colour JPEG pages at 200 dpi → PDF 1.7 → agency signature with the seal at the top
    left of page 1 (token key, via the signing service) → registered and sent to the chairman."""
    import io
    import subprocess

    from PIL import Image
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.fields import enumerate_sig_fields

    from tests.unit.intake.test_digitisation import page_image

    stack, urls = system
    form = {"clerk": "vanthu", "sender_name": "Công ty TNHH Xây dựng Hoằng Hóa", "code_number": "12",
            "code_notation": "CV-XD", "issued_date": dt.date.today().isoformat(), "type_name": "Công văn",
            "subject": "Về việc xin phép thi công tuyến đường thôn 3", "signer_name": "Trần Văn Bình",
            "signer_position": "Giám đốc", "priority": "1"}
    pages = [("files", ("trang-1.jpg", page_image(), "image/jpeg")), ("files", ("trang-2.jpg", page_image(), "image/jpeg"))]
    response = http.post(f"{urls['intake']}/digitisations", data=form, files=pages, timeout=60)
    assert response.status_code == 202, response.text
    key = response.json()["id"]
    assert response.json()["scan"]["pages"] == 2 and response.json()["scan"]["min_dpi"] >= 199

    doc = wait_until(lambda: get(f"{urls['intake']}/documents/{key}"), lambda d: d["state"] == "registered",
                     what="the digitised document registered")
    assert doc["source"] == "paper" and doc["register"]["number"] >= 1
    assert doc["verification"]["verdict"] == "passed"
    assert doc["verification"]["signatures"][0]["level"].startswith("PAdES")
    assert doc["handling"]["state"] == "awaiting_assignment"
    assert key in [row["id"] for row in get(f"{urls['intake']}/handling/awaiting-assignment")]

    signed = http.get(f"{urls['intake']}/blobs/{doc['files'][0]['sha256']}", timeout=30).content
    reader = PdfFileReader(io.BytesIO(signed))
    [(name, sig, field_ref)] = list(enumerate_sig_fields(reader, filled_status=True))
    widget = field_ref.get_object()
    x1, y1, x2, y2 = [float(v) for v in widget["/Rect"]]
    media_box = reader.root["/Pages"]["/Kids"][0].get_object()["/MediaBox"]
    page_width, page_height = float(media_box[2]), float(media_box[3])
    assert x2 < page_width / 2 and y1 > page_height / 2, "the agency signature sits at the top left of page 1"
    # The stamp is drawn: red seal pixels in the top-left box of the rendered page.
    (tmp_path / "signed.pdf").write_bytes(signed)
    subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(tmp_path / "signed.pdf"), str(tmp_path / "p")],
                   check=True)
    [png] = list(tmp_path.glob("p*.png"))
    image = Image.open(png).convert("RGB")
    scale = image.width / page_width
    box = image.crop((int(x1 * scale), int((page_height - y2) * scale), int(x2 * scale), int((page_height - y1) * scale)))
    red = sum(1 for r, g, b in box.get_flattened_data() if r > 150 and g < 90 and b < 90)
    assert red > 20, f"no red seal in the stamp box ({red} red pixels)"

    # It is handled like an electronic arrival; there is no axis sender to tell, so no status goes out.
    assigned = post(f"{urls['intake']}/documents/{key}/assignment",
                    {"by": "phochutich", "lead": {"officer": "cc.diachinh", "working_days": 10}})
    assert assigned.status_code == 200, assigned.text
    assert post(f"{urls['intake']}/documents/{key}/handling/cc.diachinh/received").status_code == 200
    done = post(f"{urls['intake']}/documents/{key}/handling/cc.diachinh/completed", {"note": "Đã cấp phép"})
    assert done.status_code == 200 and done.json()["handling"]["state"] == "completed"
    assert get(f"{urls['intake']}/documents/{key}")["statuses"] == []

    # The clerk alone digitises, as herself; a bad scan is refused with the reason
    # and nothing is kept.
    before = len(get(f"{urls['intake']}/documents?limit=500"))
    officer = http.post(f"{urls['intake']}/digitisations", data={**form, "clerk": "cc.tuphap"}, files=pages,
                        as_="cc.tuphap", timeout=60)
    assert officer.status_code == 403 and "officer" in officer.json()["detail"]
    in_her_name = http.post(f"{urls['intake']}/digitisations", data={**form, "clerk": "cc.tuphap"}, files=pages,
                            as_="vanthu", timeout=60)
    assert in_her_name.status_code == 403 and "thay người khác" in in_her_name.json()["detail"]
    grey = http.post(f"{urls['intake']}/digitisations", data=form,
                      files=[("files", ("xam.jpg", page_image(mode="L", dpi=(150, 150)), "image/jpeg"))], timeout=60)
    assert grey.status_code == 422
    assert {"thang xám", "150 dpi"} <= {w for w in ("thang xám", "150 dpi") for p in grey.json()["detail"]["problems"] if w in p}
    assert len(get(f"{urls['intake']}/documents?limit=500")) == before

    # The archive keeps it like any registered document.
    wait_until(lambda: get(f"{urls['archive']}/records/incoming:{key}"), lambda r: r is not None, what="archive record")
