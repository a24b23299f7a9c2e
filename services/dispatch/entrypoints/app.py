"""The dispatch process: the API to hand in approved documents and follow them, and the
consumers of signature results, transport states, recipients' statuses and archive receipts."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from pydantic import BaseModel, Field

from services.dispatch.adapters import repository as repo
from services.dispatch.domain.outgoing import issue_standing, replies_owed
from services.dispatch.entrypoints import drafts_api, register_api, reports_api
from services.dispatch.handlers.approval import ApprovalRefused, decide_outgoing
from services.dispatch.handlers.clerk_check import CheckRefused, format_check
from services.dispatch.handlers.create import InvalidDraft, create_outgoing
from services.dispatch.handlers.delivery import (
    on_record_archived,
    on_send_state_changed,
    on_status_received,
)
from services.dispatch.handlers.paper import PaperRefused, record_paper_sent
from services.dispatch.handlers.recall import (
    RecallRefused,
    cancel_outgoing,
    recall_outgoing,
)
from services.dispatch.handlers.issuing_health import issuing_facts, late_issuing_rows
from services.dispatch.handlers.redelivery import redelivery_loop
from services.dispatch.handlers.replies import on_incoming_registered
from services.dispatch.handlers.signatures import (
    on_signature_applied,
    on_signature_refused,
)
from shared.clock import utcnow, vn_date
from shared.contracts.messages import (
    IncomingDocumentRegistered,
    RecordArchived,
    SendStateChanged,
    SignatureApplied,
    SignatureRefused,
    StatusReceived,
)
from shared.audit_chain import entries_about
from shared.metrics import refreshed_every
from shared.service import ServiceContext, ServiceDefinition, ctx_of, serve
from services.dispatch.domain.access import ACCESS
from shared.auth import acting_user

router = APIRouter(tags=["outgoing"])
MAX_UPLOAD = 64 * 1024 * 1024


def _public(doc: dict | None) -> dict:
    if doc is None:
        raise HTTPException(404, "no such outgoing document")
    return {("id" if k == "_id" else k): v for k, v in doc.items()}


@router.post("/outgoing", status_code=202)
async def submit_outgoing(
    request: Request,
    file: UploadFile = File(..., description="the approved document, PDF"),
    annexes: list[UploadFile] | None = File(None, description="annexes in separate files (PDF), signed by the agency too"),
    type_name: str = Form(..., description="tên loại văn bản, e.g. Quyết định, Công văn"),
    subject: str = Form(..., description="trích yếu"),
    recipients: str = Form(..., description="recipient organisation identifiers, comma-separated"),
    signer_full_name: str = Form(...),
    signer_position: str = Form("CHỦ TỊCH"),
    signer_competence: str = Form("TM. ỦY BAN NHÂN DÂN"),
    urgency: int = Form(0, description="0 thường, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc"),
    due_date: dt.date | None = Form(None),
    drafting_unit: str = Form("VP"),
    requested_by: str | None = Form(None, description="the clerk who issues it and applies the agency signature (the caller)"),
    approved_by: str = Form("chutich", description="the leader asked to approve it; it waits for that leader's own "
                                                 "POST /outgoing/{id}/approve before their key signs"),
    category: str = Form("normal", description="normal, legal_normative, finance, personnel, complaint (R-5.2: also on paper)"),
) -> dict:
    """A document to issue, handed in by the clerk: it waits for the named leader's approval
    (R-7.1, R-8.2), is then signed by the leader, numbered, signed by the agency and issued to
    each recipient. Answers 202 with the document's id; follow it at /outgoing/{id}."""
    pdf = await file.read(MAX_UPLOAD + 1)
    if len(pdf) > MAX_UPLOAD:
        raise HTTPException(413, "file larger than 64 MiB")
    try:
        record = await create_outgoing(
            ctx_of(request),
            pdf=pdf,
            type_name=type_name,
            subject=subject,
            recipients=[r.strip() for r in recipients.split(",") if r.strip()],
            signer_full_name=signer_full_name,
            signer_position=signer_position,
            signer_competence=signer_competence,
            urgency=urgency,
            due_date=due_date,
            drafting_unit=drafting_unit,
            requested_by=acting_user(request, requested_by),
            approved_by=approved_by,
            approved=False,
            category=category,
            annexes=[(a.filename or f"phu-luc-{i}.pdf", await a.read(MAX_UPLOAD + 1)) for i, a in enumerate(annexes or [], 1)],
        )
    except InvalidDraft as exc:
        raise HTTPException(422, str(exc)) from exc
    return {"id": record["_id"], "state": record["state"]}


@router.get("/outgoing/{key}")
async def get_outgoing(key: str, request: Request) -> dict:
    """One outgoing document; `issue_standing` says whether it was issued in time (R-4.2a)."""
    document = _public(await repo.get(ctx_of(request).store.db, key))
    return {**document, "issue_standing": issue_standing(document, utcnow())}


@router.get("/outgoing/{key}/audit")
async def outgoing_audit(key: str, request: Request, limit: int = 500) -> list[dict]:
    """The audit entries about one outgoing document (R-4.1), oldest first: what the portal shows
    on the document's page."""
    return [_public(r) for r in await entries_about(ctx_of(request).store.db, "outgoing", key, limit=limit)]


@router.get("/outgoing")
async def list_outgoing(request: Request, state: str | None = None, limit: int = 50) -> list[dict]:
    query = {"state": state} if state else {}
    rows = await ctx_of(request).store.db[repo.OUTGOING].find(query, sort=[("created_at", -1)], limit=min(limit, 500)).to_list()
    return [_public(r) for r in rows]


class RecallIn(BaseModel):
    by: str | None = Field(None, min_length=1, description="Chủ tịch hoặc Phó Chủ tịch quyết định thu hồi")
    reason: str = Field("", max_length=2000)


class ApprovalIn(BaseModel):
    by: str | None = Field(None, min_length=1, description="the leader the clerk named (the caller)")


class ReturnIn(ApprovalIn):
    reason: str = Field("", max_length=2000, description="why it goes back to the clerk")


def _decision_refused(exc: ApprovalRefused) -> HTTPException:
    return HTTPException(404 if exc.missing else 409 if exc.conflict else 422, {"problems": exc.problems})


@router.post("/outgoing/{key}/approve", status_code=202)
async def approve_outgoing(key: str, request: Request, body: ApprovalIn | None = None) -> dict:
    """R-7.1, R-8.2: the named leader approves a document the clerk handed in; his key then signs
    it, asked in his name. The same approval again answers the same (idempotent)."""
    try:
        record = await decide_outgoing(ctx_of(request), key, by=acting_user(request, body.by if body else None), approving=True)
    except ApprovalRefused as exc:
        raise _decision_refused(exc) from exc
    return {"id": key, "state": record["state"], "approval": record["approval"]}


@router.post("/outgoing/{key}/return")
async def return_outgoing(key: str, body: ReturnIn, request: Request) -> dict:
    """The named leader sends a handed-in document back to the clerk with the reason; nothing is signed."""
    try:
        record = await decide_outgoing(ctx_of(request), key, by=acting_user(request, body.by), approving=False,
                                       reason=body.reason)
    except ApprovalRefused as exc:
        raise _decision_refused(exc) from exc
    return {"id": key, "state": record["state"], "approval": record["approval"]}


@router.post("/outgoing/{key}/recall", status_code=202)
async def recall(key: str, body: RecallIn, request: Request) -> dict:
    """R-7.4: a recall notice (status 13) to every recipient; follow each answer on its delivery."""
    try:
        record = await recall_outgoing(ctx_of(request), key, by=acting_user(request, body.by), reason=body.reason)
    except RecallRefused as exc:
        raise HTTPException(404 if exc.missing else 422, {"problems": exc.problems}) from exc
    return {"id": key, "recall": record["recall"],
            "deliveries": [{"organ_id": d["organ_id"], "recall_state": d["recall_state"]} for d in record["deliveries"]]}


class PaperSentIn(BaseModel):
    by: str | None = Field(None, min_length=1)
    sent_on: dt.date
    method: str = Field(description="bưu điện, trực tiếp, giao liên")
    reference: str = Field("", max_length=200, description="số phiếu gửi, mã bưu gửi …")


@router.post("/outgoing/{key}/paper/{organ_id}")
async def paper_sent(key: str, organ_id: str, body: PaperSentIn, request: Request) -> dict:
    """R-5.2: the clerk records the paper copy to one recipient as sent."""
    try:
        return await record_paper_sent(ctx_of(request), key, organ_id, by=acting_user(request, body.by), sent_on=body.sent_on, method=body.method,
                                       reference=body.reference)
    except PaperRefused as exc:
        raise HTTPException(404 if exc.missing else 422, {"problems": exc.problems}) from exc


@router.get("/paper/pending")
async def paper_pending(request: Request) -> list[dict]:
    """Paper copies still to send, oldest issued first (R-5.1, R-5.2)."""
    rows = await ctx_of(request).store.db[repo.OUTGOING].find(
        {"deliveries": {"$elemMatch": {"paper.state": "to_send"}}},
        projection={"code": 1, "subject": 1, "issued_at": 1, "deliveries": 1}, sort=[("issued_at", 1)],
    ).to_list()
    return [{"id": r["_id"], "code": r.get("code"), "subject": r.get("subject"), "issued_at": r.get("issued_at"),
             "recipients": [{"organ_id": d["organ_id"], "name": d["name"], "reasons": d["paper"]["reasons"]}
                            for d in r["deliveries"] if (d.get("paper") or {}).get("state") == "to_send"]} for r in rows]


@router.get("/replies/owed")
async def owed_replies(request: Request) -> list[dict]:
    """R-7.5, R-10.3: our documents that ask for a reply by a date, and who has not answered;
    overdue first. The officer who drafted each chases the answers."""
    today = vn_date(utcnow())
    rows = await ctx_of(request).store.db[repo.OUTGOING].find(
        {"state": "issued", "due_date": {"$ne": None}},
        projection={"code": 1, "subject": 1, "due_date": 1, "state": 1, "deliveries": 1, "created_by": 1},
    ).to_list()
    owed = [{"id": r["_id"], "code": r.get("code"), "subject": r.get("subject"), "officer": r.get("created_by"), **o}
            for r in rows if (o := replies_owed(r, today))]
    return sorted(owed, key=lambda o: (not o["overdue"], o["due_date"]))


@router.post("/outgoing/{key}/cancel")
async def cancel(key: str, body: RecallIn, request: Request) -> dict:
    """R-7.2b: cancel a document that will not be issued; a number it has stays taken."""
    try:
        record = await cancel_outgoing(ctx_of(request), key, by=acting_user(request, body.by), reason=body.reason)
    except RecallRefused as exc:
        raise HTTPException(404 if exc.missing else 422, {"problems": exc.problems}) from exc
    return {"id": key, "state": record["state"], "cancellation": record["cancellation"]}


class FormatCheckIn(BaseModel):
    by: str | None = Field(None, min_length=1, description="văn thư")
    passed: bool
    remarks: str = Field("", max_length=4000)


@router.post("/outgoing/{key}/format-check")
async def clerk_format_check(key: str, body: FormatCheckIn, request: Request) -> dict:
    """R-7.2: the clerk checks the format of a leader-signed document; passed, it is numbered."""
    try:
        record = await format_check(ctx_of(request), key, by=acting_user(request, body.by), passed=body.passed, remarks=body.remarks)
    except CheckRefused as exc:
        raise HTTPException(404 if exc.missing else 422, {"problems": exc.problems}) from exc
    return _public(record)


@router.get("/deliveries/unacknowledged")
async def unacknowledged(request: Request) -> list[dict]:
    """R-7.4: issued documents a recipient has not acknowledged (no 01 yet), with how many times
    they were sent again; those past the last re-delivery are for the clerk to follow up."""
    ctx = ctx_of(request)
    rows = await ctx.store.db[repo.OUTGOING].find(
        {"state": "issued", "deliveries": {"$elemMatch": {"channel": {"$ne": "outside"}, "business_statuses": {"$size": 0}}}},
        projection={"code": 1, "subject": 1, "issued_at": 1, "deliveries": 1}, sort=[("issued_at", 1)]).to_list()
    return [{"id": r["_id"], "code": r.get("code"), "subject": r.get("subject"), "issued_at": r.get("issued_at"),
             "recipients": [{"organ_id": d["organ_id"], "name": d["name"], "transport_state": d.get("transport_state"),
                             "redeliveries": len(d.get("redeliveries") or []),
                             "given_up": len(d.get("redeliveries") or []) >= ctx.settings.redelivery_max}
                            for d in r["deliveries"] if d.get("channel") != "outside" and not d.get("business_statuses")]}
            for r in rows]


@router.get("/issuing/late")
async def late_issuing(request: Request) -> dict:
    """R-4.2a: documents signed but not issued by the next working morning, and those issued late."""
    flagged = await late_issuing_rows(ctx_of(request).store.db, utcnow())
    return {standing: [_public(row) for row in rows] for standing, rows in flagged.items()}


@router.get("/register/{year}")
async def outgoing_register(year: int, request: Request) -> list[dict]:
    """Sổ đăng ký văn bản đi (NĐ 30 Phụ lục IV) for one year, in number order."""
    rows = await ctx_of(request).store.db[repo.OUTGOING].find(
        {"register.year": year}, sort=[("register.number", 1)],
        projection={"register": 1, "code": 1, "issued_date": 1, "type_name": 1, "subject": 1, "signer": 1, "recipients": 1, "state": 1},
    ).to_list()
    return [_public(r) for r in rows]


async def startup(ctx: ServiceContext) -> None:
    await repo.ensure_indexes(ctx.store.db)


definition = ServiceDefinition(
    name="dispatch",
    title="vanthu dispatch — numbering, signing and issuing outgoing documents",
    access=ACCESS,
    handlers={
        SignatureApplied: on_signature_applied,
        IncomingDocumentRegistered: on_incoming_registered,
        SignatureRefused: on_signature_refused,
        SendStateChanged: on_send_state_changed,
        StatusReceived: on_status_received,
        RecordArchived: on_record_archived,
    },
    routers=[router, register_api.router, drafts_api.router, reports_api.router],
    on_startup=[startup],
    background=[redelivery_loop, refreshed_every(issuing_facts)],
    status=[issuing_facts],
)


def main() -> None:
    serve(definition)
