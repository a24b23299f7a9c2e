"""Recall, update and replace of a received document (R-6.2; standards.md §1.5, §2.5).

A recall comes as status 13 (`on_recall_status`, from followups.py) or as an edoc package
with BussinessDocType=1; update (2) and replace (3) as edoc packages (`on_business_package`,
from receive.py before a new document's verification). Each is decided and answered (15/16)
in one transaction with its de-duplication mark, so a redelivery changes nothing twice and
answers once. The recall's own record is kept in `recall_requests` (NĐ 30 Phụ lục VI III.8(c)).
"""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from services.intake.adapters import repository as repo
from services.intake.domain import recall as rules
from services.intake.domain.documents import DocumentState
from services.intake.domain.metadata import metadata_of
from services.intake.domain.verification import Outcome
from services.intake.handlers.replies import status_entry, status_request
from services.intake.handlers.verify import verify_package
from shared.blobs import BlobIntegrityError, BlobNotFound, BlobUnavailable
from shared.bus.consumer import Delivery, Reject, Retry
from shared.clock import utcnow
from shared.contracts.messages import IncomingDocumentRecalled, PackageReceived, StatusReceived
from shared.db import AlreadyProcessed, UnitOfWork
from shared.edxml import BusinessDocType, EdocPackage, EdxmlError, ResponseFor, parse_edoc
from shared.logging import get_logger
from shared.service import ServiceContext

log = get_logger(__name__)
ACTOR = "system:intake"


async def _find_target(uow: UnitOfWork, sender: str, document_id: str) -> dict | None:
    """The incoming document the sender acts on: same issuer, same DocumentId."""
    return await uow.db[repo.DOCUMENTS].find_one(
        {"response_for.organ_id": sender,
         "$or": [{"response_for.document_id": document_id}, {"known_document_ids": document_id}]},
        sort=[("arrived_at", -1)], session=uow.session,
    )


async def _hashes_held_elsewhere(uow: UnitOfWork, document: dict) -> set[str]:
    digests = [f["sha256"] for f in document.get("files") or [] if f.get("sha256")]
    if not digests:
        return set()
    others = uow.db[repo.DOCUMENTS].find(
        {"_id": {"$ne": document["_id"]}, "state": {"$ne": DocumentState.RECALLED.value},
         "files.sha256": {"$in": digests}},
        projection={"files.sha256": 1}, session=uow.session,
    )
    return {f["sha256"] for other in await others.to_list() for f in other.get("files") or []} & set(digests)


def _reply_record(document: dict | None, sender: str, document_id: str, urgent: bool) -> dict:
    """What `_status_request` needs: the known document, or just the sender and the id it named."""
    if document is not None:
        return document
    response_for = ResponseFor(organ_id=sender, code="", promulgation_date=None, document_id=document_id)
    return {"response_for": response_for.model_dump(mode="json"), "reply_to": sender, "urgent": urgent}


async def recall_document(ctx: ServiceContext, *, consumer: str, message_id: str, recall_id: str, via: str, sender: str,
                          document_id: str, reason: str, received_at, urgent: bool = False) -> rules.Decision:
    """Decide a recall and carry it out: withdraw (state `recalled`, content destroyed, metadata
    kept) and answer 15, or answer 16 with the reason (R-6.2)."""

    async def work(uow: UnitOfWork) -> rules.Decision:
        await uow.claim(consumer, message_id)
        document = await _find_target(uow, sender, document_id)
        decision = rules.decide_recall(document, document_id=document_id, agency=ctx.settings.agency_name)
        status = status_request(ctx, _reply_record(document, sender, document_id, urgent), decision.code, decision.description_vi)
        now = utcnow()
        destroyed: list[str] = []
        if document is not None:
            changes: dict = {}
            if decision.verdict == rules.Verdict.WITHDRAW:
                keep = await _hashes_held_elsewhere(uow, document)
                # Every version's content goes: the current files and those kept by updates/replaces.
                every_file = [*(document.get("files") or []),
                              *(f for r in document.get("revisions") or [] for f in (r.get("previous") or {}).get("files") or [])]
                destroyed = rules.hashes_to_destroy(every_file, keep)
                # GridFS is outside the transaction; deleting is idempotent, so a retried
                # transaction deletes again harmlessly.
                for digest in destroyed:
                    await ctx.blobs.delete(digest)
                changes = {
                    "state": DocumentState.RECALLED.value,
                    "state_before_recall": document["state"],
                    "recalled_at": now,
                    "files": rules.destroyed_files(document.get("files") or [], now),
                    "recall": {"recall_id": recall_id, "via": via, "reason": reason, "received_at": received_at},
                }
            update: dict = {"$push": {"statuses": status_entry(status)}}
            if changes:
                update["$set"] = changes
            result = await uow.db[repo.DOCUMENTS].update_one({"_id": document["_id"], "state": document["state"]}, update,
                                                             session=uow.session)
            if result.matched_count != 1:
                raise Retry("the recalled document changed meanwhile")
        await uow.db[repo.RECALLS].insert_one(
            {"_id": recall_id, "kind": "recall", "via": via, "sender": sender, "document_id": document_id,
             "document_key": document["_id"] if document else None, "reason": reason, "received_at": received_at,
             "decided_at": now, "verdict": decision.verdict.value, "state": "agreed" if decision.agreed else "refused",
             "answer": {"code": decision.code.value, "description": decision.description_vi, "send_id": status.send_id},
             "destroyed_files": destroyed},
            session=uow.session,
        )
        uow.publish(status)
        if document is not None and decision.verdict == rules.Verdict.WITHDRAW and document.get("register"):
            # The archive's copy goes too: one recall, one withdrawal everywhere.
            uow.publish(IncomingDocumentRecalled(
                document_key=document["_id"], recall_id=recall_id, reason=reason, recalled_at=now,
                file_hashes=[f["sha256"] for f in document.get("files") or [] if f.get("sha256")], urgent=urgent))
        uow.audit(f"incoming.recall_{'agreed' if decision.agreed else 'refused'}", subject_type="recall", subject_id=recall_id,
                  actor=f"organisation:{sender}",
                  details={"document_id": document_id, "document_key": document["_id"] if document else None,
                           "verdict": decision.verdict.value, "answer": decision.code.value, "via": via})
        if destroyed:
            uow.audit("incoming.content_destroyed", subject_type="incoming", subject_id=document["_id"], actor=ACTOR,
                      details={"recall_id": recall_id, "sha256": destroyed})
        return decision

    try:
        decision = await ctx.store.transaction(work)
    except DuplicateKeyError as exc:  # the same recall package, decided before under another message id
        raise AlreadyProcessed(recall_id) from exc
    log.warning("recall decided", document_id=document_id, sender=sender, verdict=decision.verdict.value,
                answer=decision.code.value)
    return decision


async def on_recall_status(message: StatusReceived, delivery: Delivery, ctx: ServiceContext) -> None:
    """Status 13: ResponseFor names the recalled document."""
    if message.status_code != "13":
        raise AlreadyProcessed(delivery.message_id)  # only 13 is routed here; anything else is not ours
    await recall_document(
        ctx, consumer="intake.recalls", message_id=delivery.message_id, recall_id=message.package_id, via="status_13",
        sender=message.sender_organ_id, document_id=message.response_for.document_id, reason=message.description,
        received_at=message.received_at,
    )


async def on_business_package(message: PackageReceived, delivery: Delivery, ctx: ServiceContext) -> bool:
    """An edoc package with BussinessDocType 1, 2 or 3. Returns False when the package cannot be
    read: it then goes the way of a new document, which refuses it with 02 and the reason."""
    try:
        raw = await ctx.blob_client.fetch(message.package)
    except (BlobUnavailable, BlobNotFound) as exc:
        raise Retry(f"package not fetched from the gateway: {exc}") from exc
    except BlobIntegrityError as exc:
        raise Reject(f"the gateway's copy does not match its hash: {exc}") from exc
    try:
        package = parse_edoc(raw)
    except EdxmlError:
        return False
    target = rules.target_document_id(package.business)
    if package.business.business_doc_type not in rules.FOLLOWUP_TYPES or not target:
        return False
    sender = package.sender.organ_id
    if package.business.business_doc_type == BusinessDocType.RECALL:
        await recall_document(
            ctx, consumer="intake.packages", message_id=delivery.message_id, recall_id=message.package_id, via="edoc_recall",
            sender=sender, document_id=target, reason=package.business.business_doc_reason, received_at=message.received_at,
            urgent=message.urgent,
        )
    else:
        await revise_document(ctx, message, delivery, raw, package, target)
    return True


def entry_kind(kind: BusinessDocType) -> str:
    return "update" if kind == BusinessDocType.UPDATE else "replace"


async def revise_document(ctx: ServiceContext, message: PackageReceived, delivery: Delivery, raw: bytes,
                          package: EdocPackage, target: str) -> rules.Decision:
    """Update (2) or replace (3): the new content is verified like any arrival (R-6.1), then
    applied to the target with the previous version kept in its `revisions`, and answered 15;
    unknown or recalled target, or content that fails verification: 16 with the reason."""
    kind = package.business.business_doc_type
    sender = package.sender.organ_id
    report, files = None, []
    if package.attachments or kind == BusinessDocType.REPLACE:
        final_attempt = delivery.attempt > ctx.settings.verification_max_attempts - 1
        report, files = await verify_package(ctx, message, raw, package, None, final_attempt=final_attempt)
        if report.verdict == Outcome.INDETERMINATE and not final_attempt:
            raise Retry(f"verification of the {entry_kind(kind)} indeterminate: {report.summary_en()}",
                        max_attempts=ctx.settings.verification_max_attempts - 1)
    failure = report.refusal_reason_vi() if report is not None and report.verdict == Outcome.FAILED else ""

    async def work(uow: UnitOfWork) -> rules.Decision:
        await uow.claim("intake.packages", delivery.message_id)
        document = await _find_target(uow, sender, target)
        decision = rules.decide_revision(document, kind, document_id=target, agency=ctx.settings.agency_name,
                                         verification_failure=failure)
        status = status_request(ctx, _reply_record(document, sender, target, message.urgent), decision.code,
                                 decision.description_vi)
        now = utcnow()
        entry = rules.revision_entry(kind, package_id=message.package_id, document_id=package.document_id,
                                     code=package.code.full, subject=package.subject,
                                     reason=package.business.business_doc_reason, received_at=message.received_at,
                                     business=package.business)
        if document is not None:
            push: dict = {"statuses": status_entry(status)}
            update: dict = {"$push": push}
            if decision.agreed:
                applied = rules.applies(document.get("revisions") or [], message.received_at)
                push["revisions"] = {"$each": [{**entry, "applied": applied,
                                                "previous": rules.previous_version(document) if applied else None}],
                                     "$sort": {"received_at": 1}}
                update["$addToSet"] = {"known_document_ids": {"$each": [target, package.document_id]}}
                update["$set"] = {"revised_at": now}
                if applied:
                    update["$set"].update(rules.revision_changes(
                        kind, document, new_metadata=metadata_of(package), new_files=[f.model_dump() for f in files],
                        business=package.business, verification=report.to_dict() if report else None))
            await uow.db[repo.DOCUMENTS].update_one({"_id": document["_id"]}, update, session=uow.session)
        await uow.db[repo.RECALLS].insert_one(
            {"_id": message.package_id, "kind": entry["kind"], "via": "edoc", "sender": sender, "document_id": target,
             "document_key": document["_id"] if document else None, "revision": entry, "received_at": message.received_at,
             "decided_at": now, "verdict": decision.verdict.value, "state": "agreed" if decision.agreed else "refused",
             "answer": {"code": decision.code.value, "description": decision.description_vi, "send_id": status.send_id}},
            session=uow.session,
        )
        uow.publish(status)
        uow.audit(f"incoming.{entry['kind']}_{'recorded' if decision.agreed else 'refused'}", subject_type="incoming",
                  subject_id=document["_id"] if document else message.package_id, actor=f"organisation:{sender}",
                  details={"target": target, "package_id": message.package_id, "answer": decision.code.value})
        return decision

    try:
        decision = await ctx.store.transaction(work)
    except DuplicateKeyError as exc:  # the same package, decided before under another message id
        raise AlreadyProcessed(message.package_id) from exc
    log.info("revision decided", kind=int(kind), target=target, answer=decision.code.value)
    return decision
