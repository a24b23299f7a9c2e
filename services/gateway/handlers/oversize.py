"""A received package over the size limit (settings.max_package_bytes; issue 7 item 4): not
read past the limit, not parsed, recorded as refused with the reason, answered with status 02
and acknowledged on the axis so it is not offered again.

The gateway answers it itself, through its own send path: intake never sees the package (its
bytes were never taken, so there is nothing to verify, register or keep), and the refusal is
a transport fact the gateway alone knows. The 02 names the package by what its header says
(sender, DocumentId), read from the first bytes only, or by the axis's id when even that is
unreadable — as intake answers a package it cannot parse.
"""

from __future__ import annotations

import uuid

from pymongo.errors import DuplicateKeyError

from services.gateway.adapters import evidence_store
from services.gateway.adapters import repository as repo
from services.gateway.adapters.axis_client import PackageTooLarge, ReceivedItem
from services.gateway.domain import evidence
from services.gateway.domain.transport import SendState, unparsable_dedup_key
from shared.clock import utcnow
from shared.edxml import Organization, ResponseFor, StaffInfo, StatusCode, StatusPackage, build_status, peek_header
from shared.logging import bind_correlation_id, get_logger, new_correlation_id
from shared.service import ServiceContext

log = get_logger(__name__)
ACTOR = "system:gateway"
OWN_REQUESTER = "gateway"  # sends the gateway makes itself: no requester to tell of their state
REFUSED = StatusCode("02")


def refusal_package(ctx: ServiceContext, *, sender: str, document_id: str, reason: str) -> bytes:
    settings = ctx.settings
    return build_status(StatusPackage(
        sender=Organization(organ_id=settings.agency_id, organ_name=settings.agency_full_name),
        response_for=ResponseFor(organ_id=sender, code="", promulgation_date=None, document_id=document_id),
        staff_info=StaffInfo(department=settings.clerk_department, staff=settings.clerk_name),
        status_code=REFUSED, description=reason, timestamp=utcnow()))


async def refuse_too_large(ctx: ServiceContext, item: ReceivedItem, exc: PackageTooLarge) -> str:
    """Record the refusal (package, 02 to send, evidence entry, audit) in one transaction.
    Returns 'refused', or 'duplicate' when a concurrent poll recorded it first."""
    limit = ctx.settings.max_package_bytes
    reason = evidence.too_large_reason(limit)
    header = peek_header(exc.prefix)
    kind = header.kind or item.message_type
    sender = header.sender_organ_id or item.from_code
    document_id = header.document_id if kind == "edoc" else header.response_for_document_id
    package_id = uuid.uuid4().hex
    bind_correlation_id(new_correlation_id())
    now = utcnow()
    record = {
        "_id": package_id, "kind": kind, "axis_doc_id": item.doc_id, "axis_sender": item.from_code,
        "sender_organ_id": header.sender_organ_id, "document_id": header.document_id,
        "business_doc_type": header.business_doc_type, "status_code": header.status_code, "priority": header.priority,
        "dedup_key": unparsable_dedup_key(item.from_code, item.doc_id), "content_digest": None,
        "package": None, "size_at_least": exc.size or limit + 1, "received_at": now, "duplicates": 0,
        "outcome": "refused", "refusal_reason": reason,
    }
    send = None
    if kind == "edoc":  # nobody answers a status package
        data = refusal_package(ctx, sender=sender, document_id=document_id or item.doc_id, reason=reason)
        blob = await ctx.blobs.put(data, media_type="application/xml", name=f"{package_id}-02.edxml")
        send = {
            "_id": uuid.uuid4().hex, "requested_by": OWN_REQUESTER, "kind": "status", "recipients": [sender],
            "document_id": document_id or item.doc_id, "status_code": REFUSED.value, "sequence": None,
            "package": blob.model_dump(), "urgent": bool(header.priority), "state": SendState.READY.value,
            "attempts": 0, "next_attempt_at": now, "created_at": now, "updated_at": now,
            "correlation_id": None, "history": [{"state": SendState.READY.value, "at": now}], "answers_package": package_id,
        }
        record["refusal_send_id"] = send["_id"]

    async def work(uow):
        await repo.insert_package(uow, record)
        if send is not None:
            await repo.insert_send(uow, send)
        await evidence_store.insert(uow, evidence.entry(
            direction="received", kind=kind, axis_doc_id=item.doc_id, sender=sender,
            recipients=[item.to_code or ctx.settings.agency_id], document_id=document_id, status_code=header.status_code,
            sha256=None, size=record["size_at_least"], raw=None, ref={"package_id": package_id}, refused=reason))
        uow.audit("package.refused", subject_type="package", subject_id=package_id, actor=ACTOR,
                  details={"axis_doc_id": item.doc_id, "from": item.from_code, "kind": kind, "reason": reason,
                           "limit": limit, "size_at_least": record["size_at_least"]})

    try:
        await ctx.store.transaction(work)
    except DuplicateKeyError:
        return "duplicate"
    if send is not None and (wakeup := ctx.extras.get("send_wakeup")) is not None:
        wakeup.set()
    log.warning("package refused: over the size limit", package_id=package_id, axis_doc_id=item.doc_id, sender=sender,
                document_id=document_id, limit=limit, size_at_least=record["size_at_least"])
    return "refused"
