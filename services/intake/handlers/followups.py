"""What comes back to intake after registration: the transport state of the statuses it
sent, the archive's receipt, and recall notices (status 13, acted on in handlers/recall.py, R-6.2)."""

from __future__ import annotations

from services.intake.adapters import repository as repo
from services.intake.handlers.recall import on_recall_status
from shared.bus.consumer import Delivery
from shared.clock import utcnow
from shared.contracts.messages import RecordArchived, SendStateChanged, StatusReceived
from shared.logging import get_logger
from shared.service import ServiceContext

log = get_logger(__name__)


async def on_send_state_changed(message: SendStateChanged, delivery: Delivery, ctx: ServiceContext) -> None:
    async def work(uow):
        await uow.claim("intake.send-states", delivery.message_id)
        result = await uow.db[repo.DOCUMENTS].update_one(
            {"statuses": {"$elemMatch": {"send_id": message.send_id, "transport_at": {"$not": {"$gt": message.at}}}}},
            {"$set": {"statuses.$.transport_state": message.state, "statuses.$.transport_at": message.at,
                      "statuses.$.axis_doc_id": message.axis_doc_id, "statuses.$.error": message.error}},
            session=uow.session,
        )
        if result.matched_count:
            uow.audit(f"status_send.{message.state}", subject_type="status_send", subject_id=message.send_id,
                      actor="service:gateway", details={"attempts": message.attempts, "error": message.error})

    await ctx.store.transaction(work)


async def on_record_archived(message: RecordArchived, delivery: Delivery, ctx: ServiceContext) -> None:
    async def work(uow):
        await uow.claim("intake.archive-receipts", delivery.message_id)
        await uow.db[repo.DOCUMENTS].update_one(
            {"_id": message.document_key}, {"$set": {"archive_record_id": message.record_id, "archived_at": utcnow()}},
            session=uow.session,
        )
        uow.audit("incoming.archived", subject_type="incoming", subject_id=message.document_key, actor="service:archive",
                  details={"record_id": message.record_id, "file_hashes": message.file_hashes})

    await ctx.store.transaction(work)


async def on_recall_notice(message: StatusReceived, delivery: Delivery, ctx: ServiceContext) -> None:
    """Status 13: decided, carried out and answered 15/16 in handlers/recall.py (R-6.2)."""
    await on_recall_status(message, delivery, ctx)
