"""A document the clerk hands in (`POST /outgoing`) is signed with a leader's key only after that
leader approves it himself (R-7.1, R-8.2, R-15.5), every part real: until then nothing reaches
the token; another leader, the clerk or an officer cannot approve it; the same approval twice
signs once; a return stops it with the reason, and it cannot be approved afterwards."""

from __future__ import annotations

import time

import pymongo
import pytest

from shared.pdfdocs import DocumentText, render_document
from staff_http import get_or_none, http, wait_until

pytestmark = pytest.mark.e2e
PROVINCE_OFFICE = "000.01.00.H56"


def hand_in(urls, subject: str) -> str:
    pdf = render_document(DocumentText(type_name="THÔNG BÁO", subject=subject, number_notation="Số:      /TB-UBND"),
                          number_fields=True).pdf
    response = http.post(f"{urls['dispatch']}/outgoing", files={"file": ("tb.pdf", pdf, "application/pdf")}, as_="vanthu",
                         data={"type_name": "Thông báo", "subject": subject, "recipients": PROVINCE_OFFICE,
                               "signer_full_name": "Lê Văn Thành", "approved_by": "chutich"}, timeout=30)
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "awaiting_approval"
    return response.json()["id"]


def test_only_the_named_leaders_own_approval_moves_his_key(system):
    stack, urls = system
    signatures = pymongo.MongoClient(stack.env["MONGODB_URL"])[f"{stack.env['DATABASE_PREFIX']}_signing"]["signatures"]
    key = hand_in(urls, "Thông báo lịch tiếp công dân tháng 12")
    approve = f"{urls['dispatch']}/outgoing/{key}/approve"

    time.sleep(3)  # long enough for a signature request to have reached the token, were one sent
    waiting = get_or_none(f"{urls['dispatch']}/outgoing/{key}")
    assert waiting["state"] == "awaiting_approval" and waiting["signature_requests"] == []
    assert waiting["approval"]["asked_of"] == "chutich" and waiting["approval"]["asked_by"] == "vanthu"
    assert waiting["approved_by"] is None
    assert signatures.count_documents({"document_key": key}) == 0

    # Nobody else decides: not the clerk who handed it in, not an officer (access rule), not
    # another leader (the clerk named the chairman), not the clerk in the chairman's name.
    assert http.post(approve, json={}, as_="vanthu").status_code == 403
    assert http.post(approve, json={}, as_="cc.vanphong").status_code == 403
    other = http.post(approve, json={}, as_="phochutich")
    assert other.status_code == 422 and "chỉ người đó duyệt" in other.json()["detail"]["problems"][0]
    assert http.post(approve, json={"by": "chutich"}, as_="phochutich").status_code == 403
    assert signatures.count_documents({"document_key": key}) == 0

    approved = http.post(approve, json={}, as_="chutich")
    assert approved.status_code == 202, approved.text
    assert approved.json()["state"] == "leader_signing" and approved.json()["approval"]["decided_by"] == "chutich"
    again = http.post(approve, json={}, as_="chutich")  # a retried call: the same answer, nothing twice
    assert again.status_code == 202
    first, second = approved.json()["approval"], again.json()["approval"]
    assert second["decided_at"][:23] == first["decided_at"][:23]  # the store keeps milliseconds
    assert {**second, "decided_at": None} == {**first, "decided_at": None}

    issued = wait_until(lambda: get_or_none(f"{urls['dispatch']}/outgoing/{key}"),
                        lambda r: r and r["state"] in ("issued", "signature_refused"), what="issued")
    assert issued["state"] == "issued" and issued["approved_by"] == "chutich"
    leader = [s for s in signatures.find({"document_key": key, "role": "leader"})]
    assert len(leader) == 1 and leader[0]["outcome"] == "signed"
    assert leader[0]["requested_by_user"].removeprefix("user:") == "chutich"  # asked in his name, by his approval
    assert len(issued["signature_requests"]) == 2  # the leader's, then the agency's: one each
    actions = {(e["action"], e["actor"]) for e in http.get(f"{urls['dispatch']}/outgoing/{key}/audit").json()}
    assert ("outgoing.approved", "user:chutich") in actions


def test_a_returned_document_is_never_signed(system):
    stack, urls = system
    signatures = pymongo.MongoClient(stack.env["MONGODB_URL"])[f"{stack.env['DATABASE_PREFIX']}_signing"]["signatures"]
    key = hand_in(urls, "Thông báo gửi nhầm nơi nhận")
    base = f"{urls['dispatch']}/outgoing/{key}"

    unexplained = http.post(f"{base}/return", json={"reason": "  "}, as_="chutich")
    assert unexplained.status_code == 422 and "Ghi lý do trả lại" in unexplained.json()["detail"]["problems"][0]
    returned = http.post(f"{base}/return", json={"reason": "Sai nơi nhận"}, as_="chutich")
    assert returned.status_code == 200, returned.text
    assert returned.json()["state"] == "returned_by_leader" and returned.json()["approval"]["reason"] == "Sai nơi nhận"
    late = http.post(f"{base}/approve", json={}, as_="chutich")
    assert late.status_code == 409 and "chờ lãnh đạo duyệt" in late.json()["detail"]["problems"][0]
    time.sleep(2)
    assert get_or_none(base)["state"] == "returned_by_leader"
    assert signatures.count_documents({"document_key": key}) == 0
    actions = {(e["action"], e["actor"]) for e in http.get(f"{base}/audit").json()}
    assert ("outgoing.returned_by_leader", "user:chutich") in actions
