"""Replies to our documents (R-7.5, R-10.3): an incoming document registered by intake that
names one of our issued documents in its ResponseFor marks that recipient as having answered."""

from __future__ import annotations

from services.dispatch.adapters import repository as repo
from shared.bus.consumer import Delivery
from shared.contracts.messages import IncomingDocumentRegistered
from shared.db import UnitOfWork
from shared.logging import get_logger
from shared.service import ServiceContext

log = get_logger(__name__)


async def on_incoming_registered(message: IncomingDocumentRegistered, delivery: Delivery, ctx: ServiceContext) -> None:
    async def work(uow: UnitOfWork) -> int:
        await uow.claim("dispatch.replies", delivery.message_id)
        matched = 0
        for document_id in message.replies_to:
            result = await uow.db[repo.OUTGOING].update_one(
                {"document_id": document_id, "deliveries": {"$elemMatch": {"organ_id": message.sender.organ_id,
                                                                            "replied": {"$exists": False}}}},
                {"$set": {"deliveries.$.replied": {"incoming_key": message.document_key, "code": message.code,
                                                   "registered_at": message.registered_at,
                                                   "register_number": message.register_number}}},
                session=uow.session)
            if result.modified_count:
                matched += 1
                uow.audit("outgoing.reply_received", subject_type="outgoing", subject_id=document_id,
                          actor=f"organisation:{message.sender.organ_id}",
                          details={"incoming_key": message.document_key, "code": message.code})
        return matched

    if message.replies_to and await ctx.store.transaction(work):
        log.info("reply to an outgoing document recorded", sender=message.sender.organ_id, replies_to=message.replies_to)
