"""An incoming edoc package, from arrival to registration or refusal (R-3.4, R-4.2b, R-6.1, R-6.3).

1. arrival: record it and tell the sender 01 (the same day: NĐ 30 Điều 21.2(c));
2. verification (structure, required fields, sender, recipient, secrecy, attachments' SHA-256
   and real format, PDF signatures) → a kept report with a verdict;
3. passed → the next number in the yearly incoming register, files kept, 03 to the sender,
   the archive told; failed → refused, 02 with the reason to the sender (nothing registered);
   indeterminate → retried later with back-off, never refused; after the last retry the
   document is held for the clerk.
Each step is its own transaction and is skipped when already done, so a redelivery (e.g.
after the process was killed) continues where the last run stopped and never repeats a step.
"""

from __future__ import annotations

import asyncio
import uuid

from prometheus_client import Counter
from pymongo.errors import DuplicateKeyError

from services.intake.adapters import repository as repo
from services.intake.domain import handling, statuses
from services.intake.domain.documents import FINAL_STATES, DocumentState, register_counter, register_year, same_document_key
from services.intake.domain.metadata import metadata_of
from services.intake.domain.verification import Outcome, VerificationReport
from services.intake.handlers.health import REGISTERED, count_refused
from services.intake.handlers.replies import status_entry, status_request
from services.intake.handlers.urgency import urgent_first
from services.intake.handlers.verify import verify_package
from shared.blobs import BlobIntegrityError, BlobNotFound, BlobUnavailable
from shared.bus.consumer import Delivery, Reject, Retry
from shared.clock import utcnow
from shared.contracts.messages import BlobRef, IncomingDocumentRegistered, OrganRef, PackageReceived
from shared.db import AlreadyProcessed, UnitOfWork
from shared.edxml import EdocPackage, EdxmlError, ResponseFor, parse_edoc
from shared.logging import get_logger
from shared.service import ServiceContext

log = get_logger(__name__)
ACTOR = "system:intake"
OUTCOMES = Counter("vanthu_intake_documents_total", "Incoming documents by outcome", ["outcome"])


def _register_lock(ctx: ServiceContext) -> asyncio.Lock:
    # Correctness comes from the transaction (counter + unique index); the lock only spares
    # concurrent handlers in one process from write conflicts on the counter.
    return ctx.extras.setdefault("register_lock", asyncio.Lock())


async def on_package_received(message: PackageReceived, delivery: Delivery, ctx: ServiceContext) -> None:
    if message.business_doc_type in (1, 2, 3):  # recall, update, replace of a known document
        from services.intake.handlers.recall import on_business_package  # recall.py imports this module

        if await on_business_package(message, delivery, ctx):
            return
    async with urgent_first(ctx).turn(message.urgent) as started_at:  # R-4.2c
        await _handle_package(message, delivery, ctx, started_at)


async def _handle_package(message: PackageReceived, delivery: Delivery, ctx: ServiceContext, started_at) -> None:
    record = await repo.get_by_package(ctx.store.db, message.package_id)
    if record is not None and record["state"] in (*FINAL_STATES, DocumentState.HELD):
        raise AlreadyProcessed(message.message_id)
    try:
        raw = await ctx.blob_client.fetch(message.package)
    except (BlobUnavailable, BlobNotFound) as exc:
        raise Retry(f"package not fetched from the gateway: {exc}") from exc
    except BlobIntegrityError as exc:
        raise Reject(f"the gateway's copy does not match its hash: {exc}") from exc

    package: EdocPackage | None = None
    parse_error: EdxmlError | None = None
    try:
        package = parse_edoc(raw)
    except EdxmlError as exc:
        parse_error = exc

    if record is None:
        record = await _record_arrival(ctx, message, package, started_at)

    max_retries = ctx.settings.verification_max_attempts - 1
    final_attempt = delivery.attempt > max_retries
    report, files = await verify_package(ctx, message, raw, package, parse_error, final_attempt=final_attempt)

    if report.verdict == Outcome.INDETERMINATE:
        if not final_attempt:
            await _note_attempt(ctx, record["_id"], report, delivery.attempt)
            raise Retry(f"verification indeterminate: {report.summary_en()}", max_attempts=max_retries)
        await _hold(ctx, record, report)
    elif report.verdict == Outcome.PASSED:
        assert package is not None
        await _register(ctx, record, package, report, files)
    else:
        await _refuse(ctx, record, report)


def _response_for(message: PackageReceived, package: EdocPackage | None) -> ResponseFor:
    if package is not None:
        return ResponseFor(
            organ_id=package.sender.organ_id,
            code=package.code.full,
            promulgation_date=package.promulgation_info.promulgation_date,
            document_id=package.document_id,
        )
    # A package we could not read: answer with what the axis and the header told us.
    return ResponseFor(
        organ_id=message.sender_organ_id or message.axis_sender,
        code="",
        promulgation_date=None,
        document_id=message.document_id or message.axis_doc_id,
    )


async def _record_arrival(ctx: ServiceContext, message: PackageReceived, package: EdocPackage | None, started_at) -> dict:
    response_for = _response_for(message, package)
    record = {
        "_id": uuid.uuid4().hex,
        "package_id": message.package_id,
        "axis_doc_id": message.axis_doc_id,
        "state": DocumentState.ARRIVED.value,
        "arrived_at": message.received_at,
        "intake_started_at": started_at,
        # Answers go to the sender the axis authenticated, not to whoever the package claims to be.
        "reply_to": message.axis_sender or response_for.organ_id,
        "response_for": response_for.model_dump(mode="json"),
        "urgent": message.urgent,
        "priority": int(package.other_info.priority) if package else 0,
        "statuses": [],
        "verification_attempts": [],
        "correlation_id": message.correlation_id,
    }
    status = status_request(ctx, record, statuses.ARRIVED, statuses.DESCRIPTIONS[statuses.ARRIVED].format(agency=ctx.settings.agency_name))
    record["statuses"].append(status_entry(status))

    async def work(uow: UnitOfWork):
        await repo.insert(uow, record)
        uow.publish(status)
        uow.audit("incoming.arrived", subject_type="incoming", subject_id=record["_id"], actor=ACTOR,
                  details={"package_id": message.package_id, "from": response_for.organ_id, "document_id": response_for.document_id})

    try:
        await ctx.store.transaction(work)
    except DuplicateKeyError:  # a concurrent delivery recorded it first
        return await repo.get_by_package(ctx.store.db, message.package_id)
    log.info("incoming document arrived", document_key=record["_id"], document_id=response_for.document_id)
    return record


async def _note_attempt(ctx: ServiceContext, key: str, report: VerificationReport, attempt: int) -> None:
    async def work(uow: UnitOfWork):
        await uow.db[repo.DOCUMENTS].update_one(
            {"_id": key},
            {"$push": {"verification_attempts": {"attempt": attempt, "at": utcnow(), "verdict": report.verdict.value,
                                                 "summary": report.summary_en()}}},
            session=uow.session,
        )
        uow.audit("incoming.verification_indeterminate", subject_type="incoming", subject_id=key, actor=ACTOR,
                  details={"attempt": attempt, "summary": report.summary_en()})

    await ctx.store.transaction(work)
    OUTCOMES.labels(outcome="retry").inc()


async def _register(ctx: ServiceContext, record: dict, package: EdocPackage, report: VerificationReport, files: list[BlobRef]) -> None:
    key = record["_id"]
    now = utcnow()
    metadata = metadata_of(package)
    same_key = same_document_key(package.sender.organ_id, package.code.full, package.promulgation_info.promulgation_date)
    async with _register_lock(ctx):

        async def work(uow: UnitOfWork):
            year = register_year(record["arrived_at"])
            number = await uow.next_number(register_counter(year))
            same = await repo.find_same_document(uow, same_key, key)
            status = status_request(
                ctx, record, statuses.REGISTERED,
                statuses.DESCRIPTIONS[statuses.REGISTERED].format(agency=ctx.settings.agency_name, number=number, year=year),
            )
            changes = {
                "state": DocumentState.REGISTERED.value,
                "register": {"year": year, "number": number},
                "registered_at": now,
                "metadata": metadata,
                "same_document_key": same_key,
                "possible_duplicate_of": same["_id"] if same else None,
                "files": [f.model_dump() for f in files],
                "verification": report.to_dict(),
                "handling": handling.awaiting_assignment(),  # with the chairman
            }
            if not await repo.update_if_state(uow, key, DocumentState.ARRIVED, changes, {"statuses": status_entry(status)}):
                raise AlreadyProcessed(key)
            uow.publish(status)
            uow.publish(
                IncomingDocumentRegistered(
                    document_key=key,
                    register_year=year,
                    register_number=number,
                    arrived_at=record["arrived_at"],
                    registered_at=now,
                    sender=OrganRef(organ_id=package.sender.organ_id, name=package.sender.organ_name),
                    document_id=package.document_id,
                    code=package.code.full,
                    type_name_vi=package.document_type.type_name,
                    subject=package.subject,
                    issued_date=package.promulgation_info.promulgation_date,
                    signer=package.signer_info.full_name,
                    priority=int(package.other_info.priority),
                    due_date=package.due_date,
                    files=files,
                    verification_verdict=report.verdict.value,
                    validation_policy=report.policy_version,
                    urgent=record.get("urgent", False),
                    replies_to=[r.document_id for r in package.response_for if r.document_id],
                )
            )
            uow.audit("incoming.registered", subject_type="incoming", subject_id=key, actor=ACTOR,
                      details={"year": year, "number": number, "code": package.code.full, "from": package.sender.organ_id,
                               "possible_duplicate_of": same["_id"] if same else None,
                               "files": [{"name": f.name, "sha256": f.sha256} for f in files]})
            return year, number

        year, number = await ctx.store.transaction(work)
    OUTCOMES.labels(outcome="registered").inc()
    REGISTERED.labels(source="axis").inc()
    log.info("incoming document registered", document_key=key, year=year, number=number)


async def _refuse(ctx: ServiceContext, record: dict, report: VerificationReport) -> None:
    key = record["_id"]
    reason = report.refusal_reason_vi()

    async def work(uow: UnitOfWork):
        status = status_request(ctx, record, statuses.REFUSED, reason)
        changes = {"state": DocumentState.REFUSED.value, "refused_at": utcnow(), "refusal_reason": reason,
                   "verification": report.to_dict()}
        if not await repo.update_if_state(uow, key, DocumentState.ARRIVED, changes, {"statuses": status_entry(status)}):
            raise AlreadyProcessed(key)
        uow.publish(status)
        uow.audit("incoming.refused", subject_type="incoming", subject_id=key, actor=ACTOR,
                  details={"reason": reason, "failed_checks": [c.name for c in report.failed_checks()]})

    await ctx.store.transaction(work)
    OUTCOMES.labels(outcome="refused").inc()
    count_refused(report)
    log.warning("incoming document refused", document_key=key, reason=reason)


async def _hold(ctx: ServiceContext, record: dict, report: VerificationReport) -> None:
    async def work(uow: UnitOfWork):
        changes = {"state": DocumentState.HELD.value, "held_at": utcnow(), "verification": report.to_dict()}
        if not await repo.update_if_state(uow, record["_id"], DocumentState.ARRIVED, changes):
            raise AlreadyProcessed(record["_id"])
        uow.audit("incoming.held", subject_type="incoming", subject_id=record["_id"], actor=ACTOR,
                  details={"summary": report.summary_en()})

    await ctx.store.transaction(work)
    OUTCOMES.labels(outcome="held").inc()
    log.warning("incoming document held for the clerk: verification stayed indeterminate", document_key=record["_id"])
