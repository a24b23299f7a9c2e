"""Tracking delivery per recipient (R-7.4): the transport state reported by the gateway, and
the business statuses the recipients send back (01 received, 02 rejected with reason, 03
accepted, 04 assigned, 05 processing, 06 completed), matched by DocumentId and sender."""

from __future__ import annotations

from services.dispatch.adapters import repository as repo
from services.dispatch.domain.outgoing import business_state, latest_business_status
from services.dispatch.handlers.recall import recall_answer
from shared.bus.consumer import Delivery
from shared.contracts.messages import RecordArchived, SendStateChanged, StatusReceived
from shared.db import AlreadyProcessed
from shared.logging import get_logger
from shared.service import ServiceContext

log = get_logger(__name__)

UNMATCHED = "unmatched_statuses"


async def on_send_state_changed(message: SendStateChanged, delivery: Delivery, ctx: ServiceContext) -> None:
    async def work(uow):
        await uow.claim("dispatch.send-states", delivery.message_id)
        record = await repo.by_send_id(uow, message.send_id)
        if record is None:
            log.warning("transport state for an unknown send", send_id=message.send_id)
            return
        # Messages may arrive out of order: keep the newest transport state by its time.
        await uow.db[repo.OUTGOING].update_one(
            {"_id": record["_id"], "deliveries": {"$elemMatch": {"send_id": message.send_id,
                                                                 "transport_at": {"$not": {"$gt": message.at}}}}},
            {"$set": {"deliveries.$.transport_state": message.state, "deliveries.$.attempts": message.attempts,
                      "deliveries.$.axis_doc_id": message.axis_doc_id, "deliveries.$.last_error": message.error,
                      "deliveries.$.transport_at": message.at}},
            session=uow.session,
        )
        uow.audit(f"delivery.transport.{message.state}", subject_type="outgoing", subject_id=record["_id"], actor="service:gateway",
                  details={"send_id": message.send_id, "attempts": message.attempts, "error": message.error})

    await ctx.store.transaction(work)


async def on_status_received(message: StatusReceived, delivery: Delivery, ctx: ServiceContext) -> None:
    async def work(uow):
        await uow.claim("dispatch.statuses", delivery.message_id)
        record = await repo.by_document_id(uow, message.response_for.document_id)
        entry = {"code": message.status_code, "state": business_state(message.status_code), "description": message.description,
                 "staff": message.staff_name, "department": message.staff_department, "at": message.status_at,
                 "received_at": message.received_at, "package_id": message.package_id}
        delivery_row = next((d for d in (record or {}).get("deliveries", []) if d["organ_id"] == message.sender_organ_id), None)
        if delivery_row is None:
            # Kept for the clerk: a status about a document we do not know (or from an organisation
            # we did not send it to) is a finding, not something to drop.
            await uow.db[UNMATCHED].insert_one({**entry, "sender": message.sender_organ_id,
                                                "response_for": message.response_for.model_dump(mode="json")}, session=uow.session)
            log.warning("status package not matched", document_id=message.response_for.document_id, sender=message.sender_organ_id)
            return
        # The state is the latest status in business order, not the one processed last: 01 and 03
        # sent a few ms apart can be handled in either order.
        latest = latest_business_status([*delivery_row.get("business_statuses", []), entry])
        changes = {"deliveries.$.business_state": latest["state"], "deliveries.$.business_at": latest["at"]}
        if record.get("recall") and (answer := recall_answer(message.status_code)):
            # this recipient's answer to our recall notice.
            changes = {"deliveries.$.recall_state": answer, "deliveries.$.recall_answer": message.description,
                       "deliveries.$.recall_answered_at": message.status_at}
        await uow.db[repo.OUTGOING].update_one(
            {"_id": record["_id"], "deliveries.organ_id": message.sender_organ_id},
            # Kept in business order whatever order they arrive in (same second: by code, 01 < 03 < 04 …).
            {"$push": {"deliveries.$.business_statuses": {"$each": [entry], "$sort": {"at": 1, "code": 1}}},
             "$set": changes},
            session=uow.session,
        )
        uow.audit(f"delivery.status.{message.status_code}", subject_type="outgoing", subject_id=record["_id"],
                  actor=f"organisation:{message.sender_organ_id}", details={"description": message.description})

    await ctx.store.transaction(work)


async def on_record_archived(message: RecordArchived, delivery: Delivery, ctx: ServiceContext) -> None:
    async def work(uow):
        await uow.claim("dispatch.archive-receipts", delivery.message_id)
        result = await uow.db[repo.OUTGOING].update_one(
            {"_id": message.document_key}, {"$set": {"archive_record_id": message.record_id}}, session=uow.session
        )
        if result.matched_count == 0:
            raise AlreadyProcessed(message.message_id)
        uow.audit("outgoing.archived", subject_type="outgoing", subject_id=message.document_key, actor="service:archive",
                  details={"record_id": message.record_id, "file_hashes": message.file_hashes})

    await ctx.store.transaction(work)
