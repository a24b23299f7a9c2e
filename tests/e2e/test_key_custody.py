"""Key custody with every part real (issue 4 point 4; R-8.2, R-8.3a): the agency key on the
token is refused to an officer without a delegation; the chairman records a written delegation
and the same officer's document is issued, the signing record naming the delegation; revoked,
it is refused again; the chairman's key is refused to anyone but the chairman."""

from __future__ import annotations

import datetime as dt

import httpx
import pymongo
import pytest

from shared.pdfdocs import DocumentText, render_document
from tests.e2e.test_round_trip import get, wait_until

pytestmark = pytest.mark.e2e
PROVINCE_OFFICE = "000.01.00.H56"




def submit(urls, *, requested_by: str, approved_by: str = "chutich") -> str:
    pdf = render_document(DocumentText(type_name="THÔNG BÁO", subject="Thông báo lịch tiếp công dân",
                                       number_notation="Số:      /TB-UBND")).pdf
    response = httpx.post(f"{urls['dispatch']}/outgoing", files={"file": ("tb.pdf", pdf, "application/pdf")},
                          data={"type_name": "Thông báo", "subject": "Thông báo lịch tiếp công dân", "recipients": PROVINCE_OFFICE,
                                "signer_full_name": "Lê Văn Minh", "requested_by": requested_by, "approved_by": approved_by},
                          timeout=30)
    assert response.status_code == 202, response.text
    return response.json()["id"]


def settled(urls, key: str) -> dict:
    return wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"),
                      lambda r: r and r["state"] in ("issued", "signature_refused"), what="signed or refused")


def test_the_agency_key_only_for_its_holder_or_a_recorded_delegate(system):
    stack, urls = system
    refused = settled(urls, submit(urls, requested_by="cc.vanphong"))
    assert refused["state"] == "signature_refused" and refused["refusal"]["role"] == "agency"
    assert "không được giao giữ khóa «agency»" in refused["refusal"]["reason_vi"]

    now = dt.datetime.now(dt.timezone.utc)
    bad = httpx.post(f"{urls['signing']}/delegations", json={
        "user": "cc.vanphong", "key_label": "agency", "valid_from": now.isoformat(), "valid_until": (now + dt.timedelta(days=2)).isoformat(),
        "document": "05/GUQ-UBND", "granted_by": "phochutich"})
    assert bad.status_code == 422 and "Chỉ Chủ tịch" in bad.json()["detail"]["problems"][0]
    granted = httpx.post(f"{urls['signing']}/delegations", json={
        "user": "cc.vanphong", "key_label": "agency", "valid_from": now.isoformat(), "valid_until": (now + dt.timedelta(days=2)).isoformat(),
        "document": "05/GUQ-UBND", "granted_by": "chutich"})
    assert granted.status_code == 201, granted.text
    delegation = granted.json()["id"]

    issued = settled(urls, submit(urls, requested_by="cc.vanphong"))
    assert issued["state"] == "issued"
    agency = next(s for s in issued["signatures"] if s["role"] == "agency")
    record = get(f"{urls['signing']}/signatures/{agency['request_id']}")
    assert record["custody"] == f"delegation:{delegation}" and record["requested_by_user"] == "cc.vanphong"
    holder = settled(urls, submit(urls, requested_by="vanthu"))
    assert holder["state"] == "issued"
    assert get(f"{urls['signing']}/signatures/{next(s for s in holder['signatures'] if s['role'] == 'agency')['request_id']}")[
        "custody"] == "holder"

    revoked = httpx.post(f"{urls['signing']}/delegations/{delegation}/revoke", json={"revoked_by": "chutich", "reason": "hết việc"})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert settled(urls, submit(urls, requested_by="cc.vanphong"))["state"] == "signature_refused"

    # The chairman's own key is his alone.
    leader = settled(urls, submit(urls, requested_by="vanthu", approved_by="cc.vanphong"))
    assert leader["state"] == "signature_refused" and leader["refusal"]["role"] == "leader"

    # Every use and every refusal of a key, and every delegation, is in the audit log.
    db = pymongo.MongoClient(stack.env["MONGODB_URL"])[f"{stack.env['DATABASE_PREFIX']}_signing"]
    actions = [a["action"] for a in db["audit_log"].find({}, sort=[("at", 1)])]
    assert actions.count("key.use_refused") == 3 and actions.count("key.used") >= 4
    assert {"key.delegated", "key.delegation_revoked"} <= set(actions)
