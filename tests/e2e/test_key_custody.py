"""Key custody with every part real (issue 4 point 4; R-8.2, R-8.3a, R-15.5): only the clerk
issues (R-5.3: an officer's call is refused by the access rule before any key is touched); a
clerk's account the agency key was never assigned to is refused the key by custody; only the
chairman records a written delegation, as himself; a request for the agency key in the
delegate's name (the message dispatch sends to signing) is then honoured, the signing record
naming the delegation; revoked, it is refused again; the chairman's key is refused to anyone but
the chairman."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import aio_pika
import httpx
import pymongo
import pytest

from shared.bus.publisher import ConfirmedPublisher
from shared.contracts.messages import BlobRef, SignatureRequested
from shared.pdfdocs import DocumentText, render_document
from staff_http import http
from tests.e2e.test_round_trip import get, wait_until

pytestmark = pytest.mark.e2e
PROVINCE_OFFICE = "000.01.00.H56"




# A clerk's account (role clerk, e.g. a new clerk the portal knows) whom the agency key was never
# assigned to in writing: not in the staff list, so custody has no holder by that name.
NEW_CLERK = "vanthu.moi"


def outgoing(urls, *, requested_by: str, approved_by: str = "chutich", role: str | None = None,
             caller: str | None = None) -> httpx.Response:
    pdf = render_document(DocumentText(type_name="THÔNG BÁO", subject="Thông báo lịch tiếp công dân",
                                       number_notation="Số:      /TB-UBND")).pdf
    headers = http.headers(caller or requested_by, role)
    return http.post(f"{urls['dispatch']}/outgoing", files={"file": ("tb.pdf", pdf, "application/pdf")}, headers=headers,
                     data={"type_name": "Thông báo", "subject": "Thông báo lịch tiếp công dân", "recipients": PROVINCE_OFFICE,
                           "signer_full_name": "Lê Văn Minh", "requested_by": requested_by, "approved_by": approved_by},
                     timeout=30)


def submit(urls, *, requested_by: str, approved_by: str = "chutich", role: str | None = None) -> str:
    response = outgoing(urls, requested_by=requested_by, approved_by=approved_by, role=role)
    assert response.status_code == 202, response.text
    key = response.json()["id"]
    # the named leader approves it himself; the clerk's form alone signs nothing
    approved = http.approve_outgoing(urls["dispatch"], key, approved_by)
    assert approved.status_code == 202, approved.text
    return key


def request_agency_signature(stack, pdf: dict, document_key: str, user: str) -> str:
    """What dispatch sends signing when `user` issues a document: the agency key over the
    leader-signed PDF, in that user's name (the bus is inside the system; R-15.5 guards HTTP)."""
    message = SignatureRequested(request_id=f"probe-{uuid.uuid4().hex[:8]}", document_key=document_key, role="agency",
                                 key_label="agency", pdf=BlobRef(**pdf), requested_by_user=f"user:{user}")

    async def publish():
        connection = await aio_pika.connect_robust(stack.env["AMQP_URL"])
        try:
            await ConfirmedPublisher(connection).publish(
                message.model_dump_json().encode(), routing_key=message.full_routing_key(), message_id=message.message_id,
                message_type=message.message_type())
        finally:
            await connection.close()

    asyncio.run(publish())
    return message.request_id


def signing_record(urls, request_id: str) -> dict:
    return wait_until(lambda: get(f"{urls['signing']}/signatures/{request_id}", as_="chutich"),
                      lambda r: r is not None and r.get("outcome") in ("signed", "refused"), what="the signing record")


def settled(urls, key: str) -> dict:
    return wait_until(lambda: get(f"{urls['dispatch']}/outgoing/{key}"),
                      lambda r: r and r["state"] in ("issued", "signature_refused"), what="signed or refused")


def test_the_agency_key_only_for_its_holder_or_a_recorded_delegate(system):
    stack, urls = system
    db = pymongo.MongoClient(stack.env["MONGODB_URL"])[f"{stack.env['DATABASE_PREFIX']}_signing"]

    # An officer does not issue: refused by the access rule, no key is touched.
    officer = outgoing(urls, requested_by="cc.vanphong")
    assert officer.status_code == 403 and "officer" in officer.json()["detail"]
    # Nor does another clerk's account issue in the clerk's name.
    in_her_name = outgoing(urls, requested_by="vanthu", caller=NEW_CLERK, role="clerk")
    assert in_her_name.status_code == 403 and "thay người khác" in in_her_name.json()["detail"]
    assert db["signatures"].count_documents({}) == 0

    # A clerk's account that was never given the agency key reaches custody, which refuses it.
    refused = settled(urls, submit(urls, requested_by=NEW_CLERK, role="clerk"))
    assert refused["state"] == "signature_refused" and refused["refusal"]["role"] == "agency"
    assert "không được giao giữ khóa «agency»" in refused["refusal"]["reason_vi"]
    leader_signed = refused["files"]["leader_signed"]  # the chairman signed first (R-8.3c)

    # Only the chairman delegates (R-8.3a), and only as himself.
    now = dt.datetime.now(dt.timezone.utc)
    delegation_body = {"user": "cc.vanphong", "key_label": "agency", "valid_from": now.isoformat(),
                       "valid_until": (now + dt.timedelta(days=2)).isoformat(), "document": "05/GUQ-UBND"}
    bad = http.post(f"{urls['signing']}/delegations", json={**delegation_body, "granted_by": "phochutich"})
    assert bad.status_code == 403 and "vice_chairman" in bad.json()["detail"]
    in_her_name = http.post(f"{urls['signing']}/delegations", json={**delegation_body, "granted_by": "phochutich"}, as_="chutich")
    assert in_her_name.status_code == 403 and "thay người khác" in in_her_name.json()["detail"]
    assert http.post(f"{urls['signing']}/delegations", json=delegation_body, as_="vanthu").status_code == 403
    assert db["delegations"].count_documents({}) == 0
    problem = http.post(f"{urls['signing']}/delegations", json={**delegation_body, "user": "khong-co", "granted_by": "chutich"})
    assert problem.status_code == 422 and "Không có cán bộ" in problem.json()["detail"]["problems"][0]
    granted = http.post(f"{urls['signing']}/delegations", json={**delegation_body, "granted_by": "chutich"})
    assert granted.status_code == 201, granted.text
    delegation = granted.json()["id"]
    assert db["delegations"].find_one({"_id": delegation})["granted_by"] == "chutich"

    # Without the delegation the officer's request was refused; with it, honoured and named.
    used = signing_record(urls, request_agency_signature(stack, leader_signed, refused["id"], "cc.vanphong"))
    assert used["outcome"] == "signed" and used["custody"] == f"delegation:{delegation}"
    assert used["requested_by_user"] == "user:cc.vanphong"
    holder = settled(urls, submit(urls, requested_by="vanthu"))
    assert holder["state"] == "issued"
    assert get(f"{urls['signing']}/signatures/{next(s for s in holder['signatures'] if s['role'] == 'agency')['request_id']}")[
        "custody"] == "holder"

    # Only the chairman revokes, as himself.
    assert http.post(f"{urls['signing']}/delegations/{delegation}/revoke", json={"reason": "x"}, as_="vanthu").status_code == 403
    assert http.post(f"{urls['signing']}/delegations/{delegation}/revoke",
                     json={"revoked_by": "phochutich", "reason": "x"}, as_="chutich").status_code == 403
    revoked = http.post(f"{urls['signing']}/delegations/{delegation}/revoke", json={"revoked_by": "chutich", "reason": "hết việc"})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    again = signing_record(urls, request_agency_signature(stack, leader_signed, refused["id"], "cc.vanphong"))
    assert again["outcome"] == "refused" and "neither a holder" in again["reason"]

    # The chairman's own key is his alone.
    # a vice-chairman who approves it himself still has no delegation of it (R-8.3a)
    leader = settled(urls, submit(urls, requested_by="vanthu", approved_by="phochutich"))
    assert leader["state"] == "signature_refused" and leader["refusal"]["role"] == "leader"

    # Every use and every refusal of a key, and every delegation, is in the audit log.
    actions = [a["action"] for a in db["audit_log"].find({}, sort=[("at", 1)])]
    assert actions.count("key.use_refused") == 3 and actions.count("key.used") >= 4
    assert {"key.delegated", "key.delegation_revoked"} <= set(actions)
