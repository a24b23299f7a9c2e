"""Re-delivery until acknowledged (R-7.4): issued documents a recipient has not acknowledged
are sent to it again, the same package, at most `redelivery_max` times; what is still
unacknowledged after that is listed for the clerk."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from services.dispatch.adapters import repository as repo
from services.dispatch.domain.outgoing import OutgoingState, needs_redelivery
from shared.clock import utcnow
from shared.contracts.messages import BlobRef, SendRequested
from shared.db import UnitOfWork
from shared.logging import get_logger
from shared.service import ServiceContext

log = get_logger(__name__)


async def redeliver_due(ctx: ServiceContext) -> int:
    settings = ctx.settings
    now = utcnow()
    after = dt.timedelta(seconds=settings.redelivery_after_seconds)
    rows = await ctx.store.db[repo.OUTGOING].find(
        {"state": OutgoingState.ISSUED.value, "deliveries.transport_state": "accepted"},
        projection={"deliveries": 1, "document_id": 1, "urgency": 1}).to_list()
    sent = 0
    for row in rows:
        for delivery in row["deliveries"]:
            if not needs_redelivery(delivery, now, after=after, max_times=settings.redelivery_max):
                continue
            send_id = uuid.uuid4().hex
            request = SendRequested(send_id=send_id, requested_by="dispatch", recipients=[delivery["organ_id"]],
                                    message_kind="edoc", document_id=row["document_id"],
                                    package=BlobRef(**delivery["package"]), urgent=row.get("urgency", 0) > 0)
            count = len(delivery.get("redeliveries") or [])

            async def work(uow: UnitOfWork, row=row, delivery=delivery, request=request, count=count) -> bool:
                result = await uow.db[repo.OUTGOING].update_one(
                    {"_id": row["_id"], "deliveries": {"$elemMatch": {"organ_id": delivery["organ_id"],
                                                                      "redeliveries": {"$size": count}}
                                                       if count else {"organ_id": delivery["organ_id"],
                                                                      "redeliveries": {"$exists": False}}}},
                    {"$push": {"deliveries.$.redeliveries": {"send_id": request.send_id, "at": now}},
                     "$set": {"deliveries.$.send_id": request.send_id, "deliveries.$.transport_state": "requested"}},
                    session=uow.session)
                if result.modified_count != 1:
                    return False  # another replica did it
                uow.publish(request)
                uow.audit("delivery.redelivered", subject_type="outgoing", subject_id=row["_id"], actor="system:dispatch",
                          details={"organ_id": delivery["organ_id"], "send_id": request.send_id, "time": count + 1})
                return True

            if await ctx.store.transaction(work):
                sent += 1
                log.warning("document sent again: no acknowledgement", document_id=row["document_id"],
                            recipient=delivery["organ_id"], time=count + 1)
    return sent


async def redelivery_loop(ctx: ServiceContext) -> None:
    while True:
        try:
            await redeliver_due(ctx)
        except Exception:  # noqa: BLE001 - a failed round is tried again next time
            log.exception("re-delivery round failed")
        await asyncio.sleep(ctx.settings.redelivery_check_seconds)
