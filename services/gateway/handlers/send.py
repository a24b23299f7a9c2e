"""Sending through the axis with finite retries and back-off until the axis accepts.

The consumer only records the request (with its own copy of the package, so later retries do
not depend on the requesting service) and acks; a worker sends what is due, urgent first, and
reports every transport state change back to the requester (SendStateChanged).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt

from prometheus_client import Counter

from services.gateway.adapters import evidence_store
from services.gateway.adapters import repository as repo
from services.gateway.domain import evidence
from services.gateway.domain.evidence import too_large_reason
from services.gateway.handlers.oversize import OWN_REQUESTER
from services.gateway.adapters.axis_client import AxisClient, AxisRejected, AxisUnavailable
from services.gateway.domain.transport import SendState, after_failed_attempt, retry_delay
from shared.blobs import BlobNotFound, BlobUnavailable
from shared.bus.consumer import Delivery, Reject, Retry
from shared.clock import utcnow
from shared.contracts.messages import SendRequested, SendStateChanged
from shared.logging import bind_correlation_id, get_logger
from shared.service import ServiceContext

log = get_logger(__name__)

SENT = Counter("vanthu_gateway_send_attempts_total", "Send attempts to the axis", ["kind", "outcome"])
ACTOR = "system:gateway"
STUCK_AFTER = dt.timedelta(minutes=2)


async def accept_send_request(message: SendRequested, delivery: Delivery, ctx: ServiceContext) -> None:
    if message.package_b64 is not None:
        data = base64.b64decode(message.package_b64)
    elif message.package is not None:
        try:
            data = await ctx.blob_client.fetch(message.package)
        except (BlobUnavailable, BlobNotFound) as exc:
            raise Retry(f"package not fetched from {message.package.service}: {exc}") from exc
    else:
        raise Reject("SendRequested without a package")
    if len(data) > ctx.settings.max_package_bytes:
        await _refuse_too_large(message, delivery, ctx, len(data))
        return
    blob = await ctx.blobs.put(data, media_type="application/xml", name=f"{message.send_id}.edxml")
    now = utcnow()
    send = {
        "_id": message.send_id,
        "requested_by": message.requested_by,
        "kind": message.message_kind,
        "recipients": message.recipients,
        "document_id": message.document_id,
        "status_code": message.status_code,
        "sequence": message.sequence,
        "package": blob.model_dump(),
        "urgent": message.urgent,
        "state": SendState.READY.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
        "correlation_id": message.correlation_id,
        "history": [{"state": SendState.READY.value, "at": now}],
    }

    async def work(uow):
        await uow.claim("gateway.send-requests", delivery.message_id)
        await repo.insert_send(uow, send)
        uow.publish(_state_message(send, now))
        uow.audit("send.requested", subject_type="send", subject_id=message.send_id, actor=f"service:{message.requested_by}",
                  details={"kind": message.message_kind, "recipients": message.recipients, "document_id": message.document_id,
                           "status_code": message.status_code})

    await ctx.store.transaction(work)
    ctx.extras["send_wakeup"].set()


async def _refuse_too_large(message: SendRequested, delivery: Delivery, ctx: ServiceContext, size: int) -> None:
    """A package over the limit is never offered to the axis: the send is recorded failed at
    once, with the reason, and the requester told (SendStateChanged)."""
    reason = too_large_reason(ctx.settings.max_package_bytes)
    now = utcnow()
    send = {
        "_id": message.send_id, "requested_by": message.requested_by, "kind": message.message_kind,
        "recipients": message.recipients, "document_id": message.document_id, "status_code": message.status_code,
        "sequence": message.sequence, "package": None, "size": size, "urgent": message.urgent,
        "state": SendState.FAILED.value, "attempts": 0, "last_error": reason, "next_attempt_at": None,
        "created_at": now, "updated_at": now, "correlation_id": message.correlation_id,
        "history": [{"state": SendState.FAILED.value, "at": now, "error": reason}],
    }

    async def work(uow):
        await uow.claim("gateway.send-requests", delivery.message_id)
        await repo.insert_send(uow, send)
        uow.publish(_state_message(send, now))
        uow.audit("send.refused", subject_type="send", subject_id=message.send_id, actor=ACTOR,
                  details={"reason": reason, "size": size, "limit": ctx.settings.max_package_bytes,
                           "document_id": message.document_id, "recipients": message.recipients})

    await ctx.store.transaction(work)
    log.warning("send refused: package over the size limit", send_id=message.send_id, size=size,
                limit=ctx.settings.max_package_bytes)


def _state_message(send: dict, at: dt.datetime) -> SendStateChanged:
    return SendStateChanged(
        send_id=send["_id"],
        requested_by=send["requested_by"],
        state=send["state"],
        attempts=send["attempts"],
        axis_doc_id=send.get("axis_doc_id"),
        error=send.get("last_error"),
        next_attempt_at=send.get("next_attempt_at") if send["state"] == SendState.WAITING_FOR_RETRY else None,
        at=at,
        urgent=send.get("urgent", False),
        correlation_id=send.get("correlation_id"),
    )


async def _transition(ctx: ServiceContext, send: dict, new_state: SendState, *, evidence_entry: dict | None = None,
                      **fields) -> dict:
    holder: list[dict] = []

    async def work(uow):
        updated = await repo.transition_send(uow, send, new_state, **fields)
        if evidence_entry is not None:  # the package the axis took: kept as evidence, same transaction
            await evidence_store.insert(uow, {**evidence_entry, "axis_doc_id": updated.get("axis_doc_id")})
        if updated["requested_by"] != OWN_REQUESTER:  # the gateway's own 02s have nobody to tell
            uow.publish(_state_message(updated, updated["updated_at"]))
        uow.audit(f"send.{new_state.value}", subject_type="send", subject_id=send["_id"], actor=ACTOR,
                  details={k: v for k, v in fields.items() if k in ("attempts", "axis_doc_id", "last_error")})
        holder.append(updated)

    await ctx.store.transaction(work)
    return holder[0]


async def send_one(ctx: ServiceContext, axis: AxisClient, send: dict) -> SendState:
    bind_correlation_id(send.get("correlation_id"))
    try:
        sending = await _transition(ctx, send, SendState.SENDING)
    except repo.StaleSend:
        return SendState(send["state"])
    data = await ctx.blobs.get(sending["package"]["sha256"])
    attempts = sending["attempts"] + 1
    try:
        receipt = await axis.send(ctx.settings.agency_id, sending["recipients"], sending["kind"], data)
    except (AxisUnavailable, AxisRejected) as exc:
        permanent = isinstance(exc, AxisRejected)
        new_state = after_failed_attempt(attempts, ctx.settings.axis_send_max_attempts, permanent=permanent)
        next_at = utcnow() + retry_delay(
            attempts, base_seconds=ctx.settings.axis_send_backoff_seconds, cap_seconds=ctx.settings.axis_send_backoff_max_seconds
        )
        await _transition(ctx, sending, new_state, attempts=attempts, last_error=str(exc), next_attempt_at=next_at)
        SENT.labels(kind=sending["kind"], outcome=new_state.value).inc()
        log.warning("send attempt failed", send_id=send["_id"], attempts=attempts, state=new_state.value, error=str(exc))
        return new_state
    package = sending["package"]
    sent = evidence.entry(direction="sent", kind=sending["kind"], axis_doc_id=receipt.doc_id, sender=ctx.settings.agency_id,
                          recipients=sending["recipients"], document_id=sending.get("document_id"),
                          status_code=sending.get("status_code"), sha256=package["sha256"], size=len(data),
                          raw={"bucket": evidence_store.BUCKET, "sha256": package["sha256"]}, ref={"send_id": send["_id"]})
    await _transition(ctx, sending, SendState.ACCEPTED, evidence_entry=sent, attempts=attempts, axis_doc_id=receipt.doc_id,
                      last_error=None)
    SENT.labels(kind=sending["kind"], outcome="accepted").inc()
    log.info("package accepted by the axis", send_id=send["_id"], axis_doc_id=receipt.doc_id, kind=sending["kind"])
    return SendState.ACCEPTED


async def release_stuck_sends(ctx: ServiceContext) -> int:
    """A send left in `sending` by a crash goes back to the retry queue. The axis may then
    get it twice; receivers de-duplicate on (sender, DocumentId)."""
    released = 0
    for send in await repo.stuck_sending(ctx.store.db, utcnow() - STUCK_AFTER):
        try:
            await _transition(ctx, send, SendState.WAITING_FOR_RETRY, next_attempt_at=utcnow(),
                              last_error="interrupted while sending")
            released += 1
        except repo.StaleSend:
            pass
    return released


async def send_due(ctx: ServiceContext, axis: AxisClient, *, batch: int = 16, concurrency: int = 4) -> int:
    # Look past sends that must wait for an earlier package about the same document, so a
    # crowd of waiting ones never starves the rest.
    due = await repo.due_sends(ctx.store.db, utcnow(), batch * 8)
    ordered, seen = [], set()
    for send in due:
        key = (send.get("document_id"), tuple(send["recipients"]))
        if key[0] and key in seen:
            continue  # one package per document and recipient at a time
        if not await repo.has_earlier_unfinished(ctx.store.db, send):
            ordered.append(send)
            seen.add(key)
            if len(ordered) == batch:
                break
    due = ordered
    limit = asyncio.Semaphore(concurrency)

    async def one(send):
        async with limit:
            return await send_one(ctx, axis, send)

    await asyncio.gather(*(one(s) for s in due), return_exceptions=False)
    return len(due)
