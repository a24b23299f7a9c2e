"""Recall and duplicates with every part real and separate (issue 3; R-6.2; standards.md §1.5,
§2.5): an agency recalls a document it sent (status 13) → the commune withdraws it, destroys
its content, keeps its metadata and the recall's record, and answers 15; a recall of a
document the commune never received → 16; the same package delivered twice → registered once.
"""

from __future__ import annotations

import uuid

import httpx
import pymongo
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

PROVINCE_OFFICE = "000.01.00.H56"
HOME_AFFAIRS = "000.12.00.H56"




def agency_recall(urls, sender: str, document_id: str, reason: str = "Thu hồi văn bản điện tử") -> str:
    response = httpx.post(f"{urls['axis']}/_sim/agencies/{sender}/recall", json={"document_id": document_id, "reason": reason},
                          timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["axis_doc_id"]


def test_a_recalled_document_is_withdrawn_its_content_destroyed_and_the_sender_told_15(system):
    stack, urls = system
    [document_id] = agency_send(urls, PROVINCE_OFFICE, subject="Văn bản sẽ bị thu hồi")
    doc = wait_until(lambda: incoming_by_document_id(urls, document_id),
                     lambda d: d is not None and d["state"] == "registered", what="registration")
    [file] = doc["files"]
    assert http.get(f"{urls['intake']}/blobs/{file['sha256']}").status_code == 200
    # The archive takes its copy; the recall must withdraw that one too.
    wait_until(lambda: get(f"{urls['archive']}/records/incoming:{doc['id']}"), lambda r: r is not None, what="archive record")
    archive_file = f"{urls['archive']}/records/incoming:{doc['id']}/files/{file['sha256']}"
    assert http.get(archive_file).status_code == 200

    agency_recall(urls, PROVINCE_OFFICE, document_id, reason="Văn bản ban hành nhầm")

    recalled = wait_until(lambda: get(f"{urls['intake']}/documents/{doc['id']}"), lambda d: d["state"] == "recalled",
                          what="the document withdrawn")
    # Metadata and register entry kept; content destroyed; the recall's own record kept.
    assert recalled["metadata"]["subject"] == "Văn bản sẽ bị thu hồi"
    assert recalled["register"] == doc["register"]
    assert recalled["state_before_recall"] == "registered"
    assert recalled["recall"]["via"] == "status_13" and recalled["recall"]["reason"] == "Văn bản ban hành nhầm"
    assert [(f["sha256"], f["destroyed"]) for f in recalled["files"]] == [(file["sha256"], True)]
    assert http.get(f"{urls['intake']}/blobs/{file['sha256']}").status_code == 404
    record = wait_until(lambda: get(f"{urls['archive']}/records/incoming:{doc['id']}"), lambda r: r.get("withdrawn"),
                        what="the archive's copy withdrawn")
    assert record["subject"] == "Văn bản sẽ bị thu hồi" and record["withdrawn"]["reason"] == "Văn bản ban hành nhầm"
    assert [f["destroyed"] for f in record["files"]] == [True]
    assert http.get(archive_file).status_code == 410
    archive_db = pymongo.MongoClient(stack.env["MONGODB_URL"])[f"{stack.env['DATABASE_PREFIX']}_archive"]
    assert archive_db["files.files"].count_documents({"filename": file["sha256"]}) == 0  # the bytes are gone

    statuses = wait_until(lambda: statuses_seen_by(urls, PROVINCE_OFFICE, document_id),
                          lambda s: any(x["status_code"] == "15" for x in s), what="status 15 at the sender")
    assert [s["status_code"] for s in statuses] == ["01", "03", "15"]
    assert "thu hồi" in statuses[-1]["description"].lower()
    assert [s["code"] for s in recalled["statuses"]][:2] == ["01", "03"]

    # The recall's own record and its audit trail are kept (R-6.2; NĐ 30 Phụ lục VI III.8(c)).
    db = pymongo.MongoClient(stack.env["MONGODB_URL"])[f"{stack.env['DATABASE_PREFIX']}_intake"]
    [request] = list(db["recall_requests"].find({"document_key": doc["id"]}))
    assert request["state"] == "agreed" and request["answer"]["code"] == "15"
    assert request["destroyed_files"] == [file["sha256"]]
    actions = {a["action"] for a in db["audit_log"].find({"subject_id": {"$in": [request["_id"], doc["id"]]}})}
    assert {"incoming.recall_agreed", "incoming.content_destroyed", "incoming.registered"} <= actions

    # A second recall of the same document changes nothing and is simply agreed again.
    agency_recall(urls, PROVINCE_OFFICE, document_id, reason="Nhắc lại")
    statuses = wait_until(lambda: statuses_seen_by(urls, PROVINCE_OFFICE, document_id),
                          lambda s: sum(x["status_code"] == "15" for x in s) >= 2, what="second 15")
    again = get(f"{urls['intake']}/documents/{doc['id']}")
    assert again["state"] == "recalled" and again["recall"]["reason"] == "Văn bản ban hành nhầm"
    assert again["recalled_at"] == recalled["recalled_at"]


def test_a_recall_of_an_unknown_document_is_refused_16_with_the_reason(system):
    stack, urls = system
    unknown = f"{HOME_AFFAIRS},2026/01/05,{uuid.uuid4().hex[:6]}/SNV-VP"
    agency_recall(urls, HOME_AFFAIRS, unknown)
    [answer] = wait_until(lambda: statuses_seen_by(urls, HOME_AFFAIRS, unknown), lambda s: len(s) >= 1, what="status 16")
    assert answer["status_code"] == "16"
    assert "không tìm thấy" in answer["description"]


def test_the_same_package_delivered_twice_is_registered_once(system):
    stack, urls = system
    response = httpx.post(f"{urls['axis']}/_sim/agencies/{PROVINCE_OFFICE}/send", json={"subject": "Văn bản gửi hai lần"},
                          timeout=120)
    assert response.status_code == 200, response.text
    [sent] = response.json()["documents"]
    document_id = sent["document_id"]
    doc = wait_until(lambda: incoming_by_document_id(urls, document_id),
                     lambda d: d is not None and d["state"] == "registered", what="registration")

    again = httpx.post(f"{urls['axis']}/_sim/agencies/{PROVINCE_OFFICE}/redeliver", json={"axis_doc_id": sent["axis_doc_id"]},
                       timeout=30)
    assert again.status_code == 200, again.text
    second_axis_id = again.json()["axis_doc_id"]
    package = wait_until(lambda: get(f"{urls['gateway']}/packages/{doc['package_id']}"),
                         lambda p: p and second_axis_id in (p.get("duplicate_axis_doc_ids") or []),
                         what="the gateway recognising the duplicate")
    assert package["duplicates"] == 1

    same = [d for d in get(f"{urls['intake']}/documents?limit=500") if d["response_for"]["document_id"] == document_id]
    assert [d["id"] for d in same] == [doc["id"]]
    statuses = wait_until(lambda: statuses_seen_by(urls, PROVINCE_OFFICE, document_id),
                          lambda s: len(s) >= 2, what="01 and 03")
    assert [s["status_code"] for s in statuses] == ["01", "03"]  # answered once


def test_recall_update_and_replace_as_edoc_packages(system):
    """Bussiness/BussinessDocType 1, 2, 3 (§1.5): update and replace are recorded against the
    document with history kept and answered 15; an edoc recall withdraws like status 13; a
    replace of an unknown document gets 16."""
    stack, urls = system
    [document_id] = agency_send(urls, HOME_AFFAIRS, subject="Văn bản sẽ được cập nhật rồi thu hồi")
    doc = wait_until(lambda: incoming_by_document_id(urls, document_id),
                     lambda d: d is not None and d["state"] == "registered", what="registration")
    wait_until(lambda: get(f"{urls['archive']}/records/incoming:{doc['id']}"), lambda r: r is not None, what="archive record")

    followups = agency_send(urls, HOME_AFFAIRS, subject="Cập nhật nơi nhận", business_doc_type=2, business_document_id=document_id,
                business_doc_reason="Cập nhật thông tin văn bản")
    # The sender replaces it later (follow-ups sent in the same instant have no order to keep).
    wait_until(lambda: get(f"{urls['intake']}/documents/{doc['id']}"), lambda d: len(d.get("revisions") or []) == 1,
               what="the update recorded")
    followups += agency_send(urls, HOME_AFFAIRS, subject="Văn bản thay thế", business_doc_type=3, business_document_id=document_id,
                business_doc_reason="Thay thế do sai nội dung")
    revised = wait_until(lambda: get(f"{urls['intake']}/documents/{doc['id']}"), lambda d: len(d.get("revisions") or []) == 2,
                         what="two revisions recorded")
    assert [r["kind"] for r in revised["revisions"]] == ["update", "replace"]
    assert revised["revisions"][1]["reason"] == "Thay thế do sai nội dung"
    # The replacement is verified and applied: new particulars and content, same register entry;
    # the previous version is kept in the revision's history.
    assert revised["state"] == "registered" and revised["register"] == doc["register"]
    assert revised["metadata"]["subject"] == "Văn bản thay thế" and revised["verification"]["verdict"] == "passed"
    assert revised["files"][0]["sha256"] != doc["files"][0]["sha256"]
    assert revised["revisions"][1]["previous"]["metadata"]["subject"] == doc["metadata"]["subject"]
    # The update carried files too: the first version is kept by the update's history.
    assert revised["revisions"][0]["previous"]["files"] == doc["files"]
    assert http.get(f"{urls['intake']}/blobs/{doc['files'][0]['sha256']}").status_code == 200  # history kept
    statuses = wait_until(lambda: statuses_seen_by(urls, HOME_AFFAIRS, document_id),
                          lambda s: sum(x["status_code"] == "15" for x in s) >= 2, what="15 for update and replace")
    assert [s["status_code"] for s in statuses] == ["01", "03", "15", "15"]

    followups += agency_send(urls, HOME_AFFAIRS, subject="Thu hồi", business_doc_type=1, business_document_id=document_id,
                business_doc_reason="Thu hồi văn bản điện tử")
    recalled = wait_until(lambda: get(f"{urls['intake']}/documents/{doc['id']}"), lambda d: d["state"] == "recalled",
                          what="withdrawn by an edoc recall")
    assert recalled["recall"]["via"] == "edoc_recall"
    for version in (doc["files"][0], revised["files"][0]):  # every version's content destroyed
        assert http.get(f"{urls['intake']}/blobs/{version['sha256']}").status_code == 404
    wait_until(lambda: statuses_seen_by(urls, HOME_AFFAIRS, document_id),
               lambda s: sum(x["status_code"] == "15" for x in s) >= 3, what="15 for the recall")

    unknown = f"{HOME_AFFAIRS},2026/01/05,{uuid.uuid4().hex[:6]}/SNV-VP"
    followups += agency_send(urls, HOME_AFFAIRS, subject="Thay thế văn bản không có", business_doc_type=3, business_document_id=unknown)
    [answer] = wait_until(lambda: statuses_seen_by(urls, HOME_AFFAIRS, unknown), lambda s: len(s) >= 1, what="16")
    assert answer["status_code"] == "16" and "không tìm thấy" in answer["description"]
    # None of these follow-up packages became a document of its own.
    assert all(incoming_by_document_id(urls, f) is None for f in followups)


def test_a_replacement_that_fails_verification_is_refused_16_and_changes_nothing(system):
    stack, urls = system
    [document_id] = agency_send(urls, PROVINCE_OFFICE, subject="Văn bản gốc")
    doc = wait_until(lambda: incoming_by_document_id(urls, document_id),
                     lambda d: d is not None and d["state"] == "registered", what="registration")
    agency_send(urls, PROVINCE_OFFICE, subject="Bản thay thế bị sửa", business_doc_type=3, business_document_id=document_id,
                fault="tamper_after_signing")
    statuses = wait_until(lambda: statuses_seen_by(urls, PROVINCE_OFFICE, document_id), lambda s: len(s) >= 3, what="16")
    assert statuses[-1]["status_code"] == "16"
    assert "Từ chối thay thế" in statuses[-1]["description"] and "sửa đổi sau khi ký" in statuses[-1]["description"]
    after = get(f"{urls['intake']}/documents/{doc['id']}")
    assert after["metadata"] == doc["metadata"] and after["files"] == doc["files"] and not after.get("revisions")


def test_a_second_document_reusing_a_number_is_registered_and_flagged_to_the_clerk(system):
    """Same issuer, number, symbol and date, other content: not a redelivery. It is not dropped
    (nothing accepted is lost); it is registered and flagged as a possible duplicate."""
    stack, urls = system
    number = 900 + uuid.uuid4().int % 99
    [first_id] = agency_send(urls, HOME_AFFAIRS, subject="Về việc tổ chức hội nghị", code_number=number)
    first = wait_until(lambda: incoming_by_document_id(urls, first_id),
                       lambda d: d is not None and d["state"] == "registered", what="first registration")
    [second_id] = agency_send(urls, HOME_AFFAIRS, subject="Về việc tổ chức hội nghị (gửi lại, nội dung khác)", code_number=number)
    assert second_id == first_id  # the sender reused the number: the same DocumentId

    def both():
        rows = get(f"{urls['intake']}/documents?limit=500") or []
        return [d for d in rows if d["response_for"]["document_id"] == first_id and d["state"] == "registered"]

    registered = wait_until(both, lambda rows: len(rows) == 2, what="the second document registered too")
    second = next(d for d in registered if d["id"] != first["id"])
    assert second["possible_duplicate_of"] == first["id"] and second["register"]["number"] != first["register"]["number"]
    year = second["register"]["year"]
    rows = get(f"{urls['intake']}/register/{year}/rows?q=to chuc hoi nghi")
    flagged = [r for r in rows["rows"] if r[1] == str(second["register"]["number"])]
    assert flagged and "Có thể trùng" in flagged[0][-1]
