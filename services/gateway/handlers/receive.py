"""Receiving from the axis (standards.md §2.3): list → fetch → keep the raw package →
publish → acknowledge `done` at transport level. A package already seen (same sender and
DocumentId, or the same axis item) is acknowledged again and not processed again — AS4-style
re-acknowledgement, so the axis stops offering it (peers.md §4.1)."""

from __future__ import annotations

import asyncio
import uuid

from pymongo.errors import DuplicateKeyError

from services.gateway.adapters import repository as repo
from services.gateway.adapters import evidence_store
from services.gateway.adapters.axis_client import AxisClient, AxisRejected, AxisUnavailable, PackageTooLarge, ReceivedItem
from services.gateway.domain import evidence
from services.gateway.domain.evidence import HEADER_PREFIX_BYTES
from services.gateway.handlers.oversize import refuse_too_large
from services.gateway.domain.transport import content_digest, edoc_dedup_key, status_dedup_key, unparsable_dedup_key
from shared.blobs import sha256_hex
from shared.clock import utcnow
from shared.contracts.messages import DocumentRef, PackageReceived, StatusReceived
from shared.edxml import EdxmlError, parse_edoc, parse_status, peek_header
from shared.logging import bind_correlation_id, get_logger, new_correlation_id
from prometheus_client import Counter
from services.gateway.handlers.link_state import record_poll
from shared.service import ServiceContext

log = get_logger(__name__)

RECEIVED = Counter("vanthu_gateway_packages_received_total", "Packages fetched from the axis", ["kind", "outcome"])

ACTOR = "system:gateway"


async def poll_once(ctx: ServiceContext, axis: AxisClient, *, concurrency: int = 8) -> int:
    """One pass over the axis: edoc packages, then status packages. Returns how many items
    were handled (new or duplicate)."""
    handled = 0
    not_taken = 0
    unavailable: str | None = None
    limit = asyncio.Semaphore(concurrency)

    async def one(item: ReceivedItem) -> None:
        async with limit:
            await receive_item(ctx, axis, item)

    for kind in ("edoc", "status"):
        try:
            items = await axis.list_received(kind)
        except AxisUnavailable as exc:
            log.warning("axis unavailable while listing", kind=kind, error=str(exc))
            unavailable = unavailable or f"{kind}: {exc}"
            continue
        results = await asyncio.gather(*(one(item) for item in items), return_exceptions=True)
        for item, result in zip(items, results):
            if isinstance(result, BaseException):
                log.error("package not taken, the axis will offer it again", axis_doc_id=item.doc_id, error=repr(result))
                not_taken += 1
            else:
                handled += 1
    if unavailable:
        record_poll(ctx, outcome="unavailable", error=unavailable)
    else:
        record_poll(ctx, outcome="partial" if not_taken else "ok",
                    error=f"{not_taken} package(s) not taken" if not_taken else None)
    return handled


async def receive_item(ctx: ServiceContext, axis: AxisClient, item: ReceivedItem) -> str:
    """Take one axis item. Returns 'new', 'duplicate' or 'invalid'."""
    db = ctx.store.db
    if (known := await repo.find_package_by_axis_id(db, item.doc_id)) is not None:
        await _acknowledge(axis, item.doc_id, "fail" if known.get("outcome") == "refused" else "done")
        RECEIVED.labels(kind=known["kind"], outcome="duplicate").inc()
        return "duplicate"

    limit = ctx.settings.max_package_bytes
    try:
        data = await axis.fetch(item.doc_id, max_bytes=limit)
        if len(data) > limit:  # within the JSON slack of the bounded read
            raise PackageTooLarge(item.doc_id, limit=limit, size=len(data), prefix=data[:HEADER_PREFIX_BYTES])
    except PackageTooLarge as exc:
        outcome = await refuse_too_large(ctx, item, exc)
        # "fail": taken but not accepted; the axis stops offering it either way.
        await _acknowledge(axis, item.doc_id, "fail")
        RECEIVED.labels(kind=item.message_type, outcome=outcome).inc()
        return outcome
    digest = sha256_hex(data)
    header = peek_header(data)
    kind = header.kind or item.message_type
    if kind == "status":
        dedup_key = status_dedup_key(header.sender_organ_id or item.from_code, digest)
    elif header.sender_organ_id and header.document_id:
        dedup_key = edoc_dedup_key(header.sender_organ_id, header.document_id, header.business_doc_type)
    else:
        dedup_key = unparsable_dedup_key(item.from_code, item.doc_id)

    contents = _content_digest(data) if kind == "edoc" else None
    reused_id_of = None
    if (first := await repo.find_package_by_dedup_key(db, dedup_key)) is not None:
        if contents is None or first.get("content_digest") in (None, contents):
            await _duplicate(ctx, axis, first, item, (data, header, kind))
            return "duplicate"
        # Same sender and DocumentId, other content: a second document reusing the number. It is
        # not dropped; intake registers it and flags it to the clerk.
        reused_id_of = first["_id"]
        dedup_key = f"{dedup_key}|{contents}"
        if (again := await repo.find_package_by_dedup_key(db, dedup_key)) is not None:
            await _duplicate(ctx, axis, again, item, (data, header, kind))
            return "duplicate"

    package_id = uuid.uuid4().hex
    bind_correlation_id(new_correlation_id())  # follows this document through every service
    blob = await ctx.blobs.put(data, media_type="application/xml", name=f"{item.doc_id}.edxml")
    now = utcnow()
    record = {
        "_id": package_id,
        "kind": kind,
        "axis_doc_id": item.doc_id,
        "axis_sender": item.from_code,
        "sender_organ_id": header.sender_organ_id,
        "document_id": header.document_id,
        "business_doc_type": header.business_doc_type,
        "status_code": header.status_code,
        "priority": header.priority,
        "dedup_key": dedup_key,
        "content_digest": contents,
        "reuses_document_id_of": reused_id_of,
        "package": blob.model_dump(),
        "received_at": now,
        "duplicates": 0,
    }
    message, outcome = _message_for(kind, record, data, blob)
    record["outcome"] = outcome

    async def work(uow):
        await repo.insert_package(uow, record)
        await evidence_store.insert(uow, evidence.entry(
            direction="received", kind=kind, axis_doc_id=item.doc_id, sender=header.sender_organ_id or item.from_code,
            recipients=[item.to_code or ctx.settings.agency_id],
            document_id=header.document_id if kind == "edoc" else header.response_for_document_id,
            status_code=header.status_code, sha256=digest, size=len(data),
            raw={"bucket": evidence_store.BUCKET, "sha256": blob.sha256}, ref={"package_id": package_id}))
        if message is not None:
            uow.publish(message)
        uow.audit(
            "package.received", subject_type="package", subject_id=package_id, actor=ACTOR,
            details={"axis_doc_id": item.doc_id, "from": item.from_code, "kind": kind, "sha256": digest, "outcome": outcome},
        )

    try:
        await ctx.store.transaction(work)
    except DuplicateKeyError:  # a concurrent poll took the same package first
        first = await repo.find_package_by_dedup_key(db, dedup_key) or await repo.find_package_by_axis_id(db, item.doc_id)
        await _duplicate(ctx, axis, first, item, (data, header, kind))
        return "duplicate"
    # Acknowledge only once the package and its message are durably stored.
    await _acknowledge(axis, item.doc_id, "done")
    RECEIVED.labels(kind=kind, outcome=outcome).inc()
    log.info("package received", package_id=package_id, axis_doc_id=item.doc_id, kind=kind, outcome=outcome,
             sender=record["sender_organ_id"], document_id=record["document_id"])
    return outcome


def _content_digest(data: bytes) -> str | None:
    try:
        package = parse_edoc(data)
    except EdxmlError:
        return None  # unreadable: intake refuses it; the axis id keeps it apart
    return content_digest([a.sha256 for a in package.attachments])


def _message_for(kind: str, record: dict, data: bytes, blob):
    if kind != "status":
        # Every edoc package goes to intake, even a broken one: intake refuses it with
        # status 02 and the reason, so the sender learns what was wrong.
        return (
            PackageReceived(
                package_id=record["_id"],
                axis_doc_id=record["axis_doc_id"],
                axis_sender=record["axis_sender"],
                sender_organ_id=record["sender_organ_id"],
                document_id=record["document_id"],
                business_doc_type=record["business_doc_type"],
                package=blob,
                received_at=record["received_at"],
                urgent=bool(record["priority"]),
            ),
            "new",
        )
    try:
        status = parse_status(data)
    except EdxmlError as exc:
        # Nobody answers a status package; a broken one is kept and logged for the operator.
        record["errors"] = [str(e) for e in exc.errors]
        return None, "invalid"
    return (
        StatusReceived(
            package_id=record["_id"],
            axis_doc_id=record["axis_doc_id"],
            sender_organ_id=status.sender.organ_id,
            status_code=status.status_code.value,
            description=status.description,
            response_for=DocumentRef(
                organ_id=status.response_for.organ_id,
                code=status.response_for.code,
                document_id=status.response_for.document_id,
                promulgation_date=status.response_for.promulgation_date,
            ),
            staff_name=status.staff_info.staff if status.staff_info else "",
            staff_department=status.staff_info.department if status.staff_info else "",
            status_at=status.timestamp,
            received_at=record["received_at"],
        ),
        "new",
    )


async def _duplicate(ctx: ServiceContext, axis: AxisClient, first: dict | None, item: ReceivedItem,
                     received: tuple | None = None) -> None:
    if first is not None:
        if received is None or first.get("axis_doc_id") == item.doc_id:
            await repo.note_duplicate(ctx.store.db, first["_id"], item.doc_id)
        else:
            await _keep_duplicate(ctx, first, item, *received)
    await _acknowledge(axis, item.doc_id, "done")
    RECEIVED.labels(kind=(first or {}).get("kind", "unknown"), outcome="duplicate").inc()
    log.info("duplicate package acknowledged again", axis_doc_id=item.doc_id, first_package=(first or {}).get("_id"))


async def _keep_duplicate(ctx: ServiceContext, first: dict, item: ReceivedItem, data: bytes, header, kind: str) -> None:
    """Another axis item with a package already taken is still something the axis delivered:
    its bytes are kept and it enters the evidence log once, beside the count on the first."""
    blob = await ctx.blobs.put(data, media_type="application/xml", name=f"{item.doc_id}.edxml")

    async def work(uow):
        if not await repo.note_duplicate(uow.db, first["_id"], item.doc_id, session=uow.session, once=True):
            return  # this axis item was counted already (offered again)
        await evidence_store.insert(uow, evidence.entry(
            direction="received", kind=kind, axis_doc_id=item.doc_id, sender=header.sender_organ_id or item.from_code,
            recipients=[item.to_code or ctx.settings.agency_id],
            document_id=header.document_id if kind == "edoc" else header.response_for_document_id,
            status_code=header.status_code, sha256=blob.sha256, size=len(data),
            raw={"bucket": evidence_store.BUCKET, "sha256": blob.sha256}, ref={"duplicate_of": first["_id"]}))
        uow.audit("package.duplicate", subject_type="package", subject_id=first["_id"], actor=ACTOR,
                  details={"axis_doc_id": item.doc_id, "from": item.from_code, "sha256": blob.sha256})

    await ctx.store.transaction(work)


async def _acknowledge(axis: AxisClient, doc_id: str, status: str) -> None:
    try:
        await axis.acknowledge(doc_id, status)
    except (AxisUnavailable, AxisRejected) as exc:
        # Not fatal: the item is offered again and recognised as a duplicate then.
        log.warning("acknowledgement not delivered", axis_doc_id=doc_id, error=str(exc))
