"""Signature results: after the leader's signature the document gets its number and date and
goes to the agency signature (R-7.2, R-8.3c); after the agency's it is issued — one envelope
per recipient, urgent ones first (R-4.2c, R-7.1) — and handed to the archive (R-7.3)."""

from __future__ import annotations

import asyncio
import uuid

from services.dispatch.adapters import repository as repo
from services.dispatch.domain import numbering
from services.dispatch.domain.outgoing import OutgoingState, issue_deadline
from services.dispatch.domain.packages import build_envelope, document_id
from services.dispatch.domain.paper import paper_entry, paper_reasons
from services.dispatch.handlers.issuing_health import count_issued
from shared.blobs import BlobNotFound, BlobUnavailable
from shared.bus.consumer import Delivery, Retry
from shared.clock import utcnow, vn_date
from shared.contracts.messages import (
    BlobRef,
    OrganRef,
    OutgoingDocumentIssued,
    SendRequested,
    SignatureApplied,
    SignatureRefused,
    SignatureRequested,
)
from shared.db import AlreadyProcessed
from shared.edxml import Organization, StaffInfo, build_edoc
from shared.logging import get_logger
from shared.pdfdocs import DATE_FIELD, NUMBER_FIELD, fill_fields
from shared.service import ServiceContext
from shared.workdays import load_calendar

log = get_logger(__name__)
ACTOR = "system:dispatch"


async def _keep_signed_copy(ctx: ServiceContext, ref: BlobRef, key: str, role: str) -> BlobRef:
    try:
        data = await ctx.blob_client.fetch(ref)
    except (BlobUnavailable, BlobNotFound) as exc:
        raise Retry(f"signed PDF not fetched from signing: {exc}") from exc
    return await ctx.blobs.put(data, media_type="application/pdf", name=f"{key}-{role}-signed.pdf")


async def on_signature_applied(message: SignatureApplied, delivery: Delivery, ctx: ServiceContext) -> None:
    record = await repo.get(ctx.store.db, message.document_key)
    if record is None:
        raise Retry(f"unknown outgoing document {message.document_key}")
    expected = {"leader": OutgoingState.LEADER_SIGNING, "agency": OutgoingState.AGENCY_SIGNING,
                "annex": OutgoingState.ANNEX_SIGNING}.get(message.role)
    if expected is None or record["state"] != expected.value:
        raise AlreadyProcessed(message.message_id)
    signed = await _keep_signed_copy(ctx, message.signed_pdf, message.document_key, message.role)
    signature = {"role": message.role, "request_id": message.request_id, "key_label": message.key_label,
                 "signer_subject": message.signer_subject, "signed_at": message.signed_at, "sha256": signed.sha256,
                 "level": message.level}  # B-B said so in the record when no time-stamping server is configured
    if message.role == "leader" and record.get("clerk_check_required"):
        await _await_clerk_check(ctx, record, signed, signature)
    elif message.role == "leader":
        await _number_and_request_agency_signature(ctx, record, signed, signature)
    elif message.role == "annex":
        await _annex_signed(ctx, record, signed, signature)
    elif record.get("annexes"):
        await _request_annex_signatures(ctx, record, signed, signature)
    else:
        await _issue(ctx, record, signed, signature, OutgoingState.AGENCY_SIGNING)


async def _await_clerk_check(ctx: ServiceContext, record: dict, signed: BlobRef, signature: dict) -> None:
    """R-7.2: signed by the leader; the clerk checks the format before the number is given."""
    async def work(uow):
        changes = {"state": OutgoingState.AWAITING_CLERK_CHECK.value, "files.leader_signed": signed.model_dump(),
                   # R-4.2a: the clock for issuing starts with the leader's signature, check or not.
                   "issue_due_at": issue_deadline(signature["signed_at"], load_calendar(ctx.settings.holiday_calendar_file))}
        if not await repo.update_if_state(uow, record["_id"], OutgoingState.LEADER_SIGNING.value, changes,
                                          {"signatures": signature}):
            raise AlreadyProcessed(record["_id"])
        uow.audit("outgoing.awaiting_clerk_check", subject_type="outgoing", subject_id=record["_id"], actor=ACTOR,
                  details={"leader_signer": signature["signer_subject"]})

    await ctx.store.transaction(work)


async def _number_and_request_agency_signature(ctx: ServiceContext, record: dict, signed: BlobRef, signature: dict,
                                               expected: OutgoingState = OutgoingState.LEADER_SIGNING) -> None:
    """Number and date (R-7.2), written into the document when it has the fields, then the
    agency signature. `expected` is leader_signing, or awaiting_clerk_check after the check."""
    key = record["_id"]
    now = utcnow()
    request_id = uuid.uuid4().hex
    leader_pdf = await ctx.blobs.get(signed.sha256) if record.get("writes_number") else None

    async def work(uow):
        year = numbering.register_year(now)
        number = await uow.next_number(numbering.register_counter(year))
        issued = vn_date(now)
        code = numbering.full_code(number, record["code_notation"])
        to_sign = signed
        if leader_pdf is not None:  # number and date written into the document, as form filling
            filled = await asyncio.to_thread(fill_fields, leader_pdf, {
                NUMBER_FIELD: numbering.number_line(code), DATE_FIELD: numbering.date_line(ctx.settings.agency_place, issued)})
            to_sign = await ctx.blobs.put(filled, media_type="application/pdf", name=f"{key}-numbered.pdf")
        changes = {
            "state": OutgoingState.AGENCY_SIGNING.value,
            "register": {"year": year, "number": number},
            "code": code,
            "issued_date": issued.isoformat(),
            "numbered_at": now,
            # R-4.2a: the clock for issuing starts with the leader's signature.
            "issue_due_at": issue_deadline(signature["signed_at"], load_calendar(ctx.settings.holiday_calendar_file)),
            "document_id": document_id(ctx.settings.agency_id, issued, number, record["code_notation"]),
            "files.leader_signed": signed.model_dump(),
            "files.numbered": to_sign.model_dump(),
            "number_written": leader_pdf is not None,
        }
        push = {"signature_requests": {"request_id": request_id, "role": "agency", "at": now}}
        if expected == OutgoingState.LEADER_SIGNING:  # after a clerk's check it is already recorded
            push["signatures"] = signature
        if not await repo.update_if_state(uow, key, expected.value, changes, push):
            raise AlreadyProcessed(key)
        uow.publish(
            SignatureRequested(
                request_id=request_id,
                document_key=key,
                role="agency",
                key_label=ctx.settings.agency_key_label,
                pdf=to_sign,
                requested_by_user=record["created_by"],
                reason=f"Phát hành văn bản {code}",
                urgent=record["urgency"] > 0,
            )
        )
        uow.audit("outgoing.numbered", subject_type="outgoing", subject_id=key, actor=ACTOR,
                  details={"code": code, "year": year, "number": number, "leader_signer": signature["signer_subject"]})

    await ctx.store.transaction(work)
    log.info("outgoing document numbered", document_key=key)


async def _request_annex_signatures(ctx: ServiceContext, record: dict, signed: BlobRef, signature: dict) -> None:
    """The main document is signed; now the agency signs each annex in its own file (II.8)."""
    key = record["_id"]
    now = utcnow()
    requests = [SignatureRequested(request_id=uuid.uuid4().hex, document_key=key, role="annex",
                                   key_label=ctx.settings.agency_key_label, pdf=BlobRef(**annex["approved"]),
                                   requested_by_user=record["created_by"], stamp_text=record["code"],
                                   reason=f"Phụ lục kèm theo văn bản {record['code']}", urgent=record["urgency"] > 0)
                for annex in record["annexes"]]

    async def work(uow):
        changes = {"state": OutgoingState.ANNEX_SIGNING.value, "files.agency_signed": signed.model_dump()}
        push = {"signatures": signature,
                "signature_requests": {"$each": [{"request_id": r.request_id, "role": "annex", "index": i, "at": now}
                                                 for i, r in enumerate(requests)]}}
        if not await repo.update_if_state(uow, key, OutgoingState.AGENCY_SIGNING.value, changes, push):
            raise AlreadyProcessed(key)
        for request in requests:
            uow.publish(request)
        uow.audit("outgoing.annexes_to_sign", subject_type="outgoing", subject_id=key, actor=ACTOR,
                  details={"annexes": len(requests)})

    await ctx.store.transaction(work)


async def _annex_signed(ctx: ServiceContext, record: dict, signed: BlobRef, signature: dict) -> None:
    key = record["_id"]
    index = next((r["index"] for r in record["signature_requests"] if r["request_id"] == signature["request_id"]), None)
    if index is None:
        raise AlreadyProcessed(signature["request_id"])

    async def work(uow):
        result = await uow.db[repo.OUTGOING].find_one_and_update(
            {"_id": key, "state": OutgoingState.ANNEX_SIGNING.value, f"annexes.{index}.signed": {"$exists": False}},
            {"$set": {f"annexes.{index}.signed": signed.model_dump()}, "$push": {"signatures": signature}},
            session=uow.session, return_document=True)
        if result is None:
            raise AlreadyProcessed(signature["request_id"])
        uow.audit("outgoing.annex_signed", subject_type="outgoing", subject_id=key, actor=ACTOR,
                  details={"index": index, "sha256": signed.sha256})
        return result

    await ctx.store.transaction(work)
    # Read again after commit: two annexes signed at once each see only their own write inside
    # their transaction. Whoever sees them all issues; the state change lets only one succeed.
    updated = await repo.get(ctx.store.db, key)
    if updated["state"] == OutgoingState.ANNEX_SIGNING and all(a.get("signed") for a in updated["annexes"]):
        await _issue(ctx, updated, BlobRef(**updated["files"]["agency_signed"]), None, OutgoingState.ANNEX_SIGNING)


async def _issue(ctx: ServiceContext, record: dict, signed: BlobRef, signature: dict | None, expected: OutgoingState) -> None:
    key = record["_id"]
    agency_signer = (signature or next(s for s in record["signatures"] if s["role"] == "agency"))["signer_subject"]
    now = utcnow()
    settings = ctx.settings
    pdf = await ctx.blobs.get(signed.sha256)
    annexes = [(f"{record['code'].replace('/', '_')}_phu-luc-{i}.pdf", await ctx.blobs.get(a["signed"]["sha256"]))
               for i, a in enumerate(record.get("annexes") or [], 1)]
    own = Organization(organ_id=settings.agency_id, organ_name=settings.agency_full_name)
    staff = StaffInfo(department=settings.clerk_department, staff=settings.clerk_name)
    deliveries, sends = [], []
    for recipient in record["recipients"]:
        channel = recipient.get("channel", "axis")
        paper = paper_entry(paper_reasons(category=record.get("category", "normal"), type_name=record["type_name"],
                                          channel=channel))
        if channel == "outside":  # recorded as exchanged outside the system; the paper copy carries it
            deliveries.append({"organ_id": recipient["organ_id"], "name": recipient["name"], "channel": "outside",
                               "transport_state": "outside_system", "business_statuses": [], "paper": paper})
            continue
        envelope = build_envelope(
            record,
            own=own,
            recipient=Organization(organ_id=recipient["organ_id"], organ_name=recipient["name"]),
            place=settings.agency_place,
            staff=staff,
            pdf=pdf,
            at=now,
            annexes=annexes,
        )
        package = await ctx.blobs.put(build_edoc(envelope), media_type="application/xml",
                                      name=f"{key}-{recipient['organ_id']}.edxml")
        send_id = uuid.uuid4().hex
        deliveries.append({"organ_id": recipient["organ_id"], "name": recipient["name"], "send_id": send_id, "channel": "axis",
                           "transport_state": "requested", "attempts": 0, "business_statuses": [], "package": package.model_dump(),
                           "paper": paper})
        sends.append(SendRequested(send_id=send_id, requested_by="dispatch", recipients=[recipient["organ_id"]],
                                   message_kind="edoc", document_id=record["document_id"], package=package,
                                   urgent=record["urgency"] > 0))

    async def work(uow):
        changes = {"state": OutgoingState.ISSUED.value, "issued_at": now, "files.agency_signed": signed.model_dump(),
                   "deliveries": deliveries}
        if not await repo.update_if_state(uow, key, expected.value, changes, {"signatures": signature} if signature else None):
            raise AlreadyProcessed(key)
        for send in sends:
            uow.publish(send)
        uow.publish(
            OutgoingDocumentIssued(
                document_key=key,
                register_year=record["register"]["year"],
                register_number=record["register"]["number"],
                code=record["code"],
                document_id=record["document_id"],
                issued_date=record["issued_date"],
                type_name_vi=record["type_name"],
                subject=record["subject"],
                signer=record["signer"]["full_name"],
                recipients=[OrganRef(organ_id=r["organ_id"], name=r["name"]) for r in record["recipients"]],
                files=[signed, *(BlobRef(**a["signed"]) for a in record.get("annexes") or [])],
                urgent=record["urgency"] > 0,
            )
        )
        uow.audit("outgoing.issued", subject_type="outgoing", subject_id=key, actor=ACTOR,
                  details={"code": record["code"], "recipients": [d["organ_id"] for d in deliveries], "sha256": signed.sha256,
                           "agency_signer": agency_signer})

    await ctx.store.transaction(work)
    count_issued(record)
    log.info("outgoing document issued", document_key=key, code=record["code"])


async def on_signature_refused(message: SignatureRefused, delivery: Delivery, ctx: ServiceContext) -> None:
    expected = OutgoingState.LEADER_SIGNING if message.role == "leader" else OutgoingState.AGENCY_SIGNING

    async def work(uow):
        changes = {"state": OutgoingState.SIGNATURE_REFUSED.value, "refusal": {"role": message.role, "reason": message.reason,
                                                                              "reason_vi": message.reason_vi, "at": utcnow()}}
        if not await repo.update_if_state(uow, message.document_key, expected.value, changes):
            raise AlreadyProcessed(message.message_id)
        uow.audit("outgoing.signature_refused", subject_type="outgoing", subject_id=message.document_key, actor="service:signing",
                  details={"role": message.role, "reason": message.reason})

    await ctx.store.transaction(work)
    log.warning("signature refused", document_key=message.document_key, role=message.role, reason=message.reason)
