"""Storing registered incoming documents and issued outgoing documents (R-7.3: every issued
document keeps a legally valid copy in the electronic archive). Each file is fetched from the
service that owns it, its SHA-256 checked on arrival, and kept in the archive's GridFS."""

from __future__ import annotations

from services.archive.adapters import repository as repo
from services.archive.adapters.pdf_facts import page_count, pdf_text
from services.archive.domain.records import Source, record_id
from shared.blobs import BlobIntegrityError, BlobNotFound, BlobUnavailable
from shared.bus.consumer import Delivery, Reject, Retry
from shared.clock import utcnow
from shared.contracts.messages import IncomingDocumentRecalled, IncomingDocumentRegistered, OutgoingDocumentIssued, RecordArchived
from shared.db import AlreadyProcessed
from shared.logging import get_logger
from shared.service import ServiceContext

log = get_logger(__name__)
ACTOR = "system:archive"


async def _store(ctx: ServiceContext, source: Source, message, metadata: dict) -> None:
    rid = record_id(source, message.document_key)
    if await repo.get(ctx.store.db, rid) is not None:
        raise AlreadyProcessed(message.message_id)
    files_bucket = ctx.extras["files"]
    files = []
    texts: list[str] = []
    for ref in message.files:
        try:
            data = await ctx.blob_client.fetch(ref)
        except (BlobUnavailable, BlobNotFound) as exc:
            raise Retry(f"file {ref.name} not fetched from {ref.service}: {exc}") from exc
        except BlobIntegrityError as exc:
            # The copy on the way does not match the hash its owner declared: never archive it.
            raise Reject(f"integrity failure, not archived: {exc}") from exc
        kept = await files_bucket.put(data, media_type=ref.media_type, name=ref.name)
        entry = {"sha256": kept.sha256, "size": kept.size, "name": ref.name, "media_type": ref.media_type,
                 "role": "attachment" if files else "main"}
        if ref.media_type == "application/pdf":
            entry["pages"] = page_count(data)
            texts.append(await pdf_text(data))
        files.append(entry)
    now = utcnow()
    record = {"_id": rid, "source": source, "document_key": message.document_key, "files": files, "stored_at": now,
              "correlation_id": message.correlation_id, "state": "kept", "dossiers": [],
              "access": {"restricted": False, "users": []}, "year": message.register_year,
              "page_count": sum(f.get("pages", 0) for f in files), **metadata}

    async def work(uow):
        await uow.claim("archive.records", message.message_id)
        await repo.insert(uow, record)
        if any(texts):
            await uow.db[repo.RECORD_TEXTS].insert_one({"_id": rid, "text": "\n".join(texts)}, session=uow.session)
        uow.publish(RecordArchived(record_id=rid, source=source, document_key=message.document_key,
                                   file_hashes=[f["sha256"] for f in files], urgent=message.urgent))
        uow.audit("record.stored", subject_type="record", subject_id=rid, actor=ACTOR,
                  details={"files": [{"name": f["name"], "sha256": f["sha256"]} for f in files]})

    await ctx.store.transaction(work)
    log.info("record archived", record_id=rid, files=len(files))


async def on_incoming_registered(message: IncomingDocumentRegistered, delivery: Delivery, ctx: ServiceContext) -> None:
    await _store(ctx, "incoming", message, {
        "register": {"book": "incoming", "year": message.register_year, "number": message.register_number},
        "sender": message.sender.model_dump(),
        "document_id": message.document_id,
        "code": message.code,
        "type_name": message.type_name_vi,
        "subject": message.subject,
        "issued_date": message.issued_date.isoformat(),
        "signer": message.signer,
        "priority": message.priority,
        "due_date": message.due_date.isoformat() if message.due_date else None,
        "arrived_at": message.arrived_at,
        "registered_at": message.registered_at,
        "verification": {"verdict": message.verification_verdict, "policy": message.validation_policy},
    })


async def on_outgoing_issued(message: OutgoingDocumentIssued, delivery: Delivery, ctx: ServiceContext) -> None:
    await _store(ctx, "outgoing", message, {
        "register": {"book": "outgoing", "year": message.register_year, "number": message.register_number},
        "document_id": message.document_id,
        "code": message.code,
        "type_name": message.type_name_vi,
        "subject": message.subject,
        "issued_date": message.issued_date.isoformat(),
        "signer": message.signer,
        "recipients": [r.model_dump() for r in message.recipients],
    })


async def on_incoming_recalled(message: IncomingDocumentRecalled, delivery: Delivery, ctx: ServiceContext) -> None:
    """R-6.2: the archive's copy of a recalled document is destroyed; the record keeps its
    metadata, which files it had and why they are gone. A recall that overtakes the document
    leaves a tombstone, so the document is never stored afterwards."""
    rid = record_id("incoming", message.document_key)
    record = await repo.get(ctx.store.db, rid)
    if record is not None and record.get("withdrawn"):
        raise AlreadyProcessed(message.message_id)
    files_bucket = ctx.extras["files"]
    destroyed: list[str] = []
    if record is not None:
        others = await ctx.store.db[repo.RECORDS].find(
            {"_id": {"$ne": rid}, "withdrawn": {"$exists": False}, "files.sha256": {"$in": [f["sha256"] for f in record["files"]]}},
            projection={"files.sha256": 1}).to_list()
        shared_hashes = {f["sha256"] for other in others for f in other["files"]}
        destroyed = [f["sha256"] for f in record["files"] if f["sha256"] not in shared_hashes]
        for digest in destroyed:  # outside the transaction; deleting again is harmless
            await files_bucket.delete(digest)
    now = utcnow()
    withdrawn = {"recall_id": message.recall_id, "reason": message.reason, "recalled_at": message.recalled_at, "at": now}

    async def work(uow):
        await uow.claim("archive.records", message.message_id)
        if record is None:
            await repo.insert(uow, {"_id": rid, "source": "incoming", "document_key": message.document_key, "files": [],
                                    "stored_at": None, "withdrawn": withdrawn})
        else:
            await uow.db[repo.RECORDS].update_one(
                {"_id": rid}, {"$set": {"withdrawn": withdrawn,
                                        "files": [{**f, "destroyed": f["sha256"] in destroyed} for f in record["files"]]}},
                session=uow.session)
        await uow.db[repo.RECORD_TEXTS].delete_one({"_id": rid}, session=uow.session)  # destroyed with the content
        uow.audit("record.withdrawn", subject_type="record", subject_id=rid, actor=ACTOR,
                  details={"recall_id": message.recall_id, "destroyed_sha256": destroyed, "before_stored": record is None})

    await ctx.store.transaction(work)
    log.warning("recalled record withdrawn", record_id=rid, destroyed=len(destroyed))
