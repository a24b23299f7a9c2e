"""Recalling an issued document (R-7.4), and cancelling one that will not be issued (R-7.2b): one status-13 notice to each recipient through the
system, and each recipient's answer (15 withdrawn, 16 refused with the reason) tracked on its
delivery."""

from __future__ import annotations

import base64
import uuid

from services.dispatch.adapters import repository as repo
from services.dispatch.domain.outgoing import (
    RECALL_ANSWERS,
    cancel_problems,
    recall_problems,
)
from services.dispatch.domain.packages import recall_notice
from shared.clock import utcnow
from shared.contracts.messages import SendRequested
from shared.db import UnitOfWork
from shared.edxml import Organization, StaffInfo, build_status
from shared.logging import get_logger
from shared.service import ServiceContext
from shared.staff import load_staff

log = get_logger(__name__)


class RecallRefused(ValueError):
    def __init__(self, problems: list[str], *, missing: bool = False) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.missing = missing


async def recall_outgoing(ctx: ServiceContext, key: str, *, by: str, reason: str) -> dict:
    settings = ctx.settings
    member = load_staff(settings.staff_file).get(by.removeprefix("user:"))

    async def work(uow: UnitOfWork) -> dict:
        record = await uow.db[repo.OUTGOING].find_one({"_id": key}, session=uow.session)
        if record is None:
            raise RecallRefused(["Không có văn bản đi này."], missing=True)
        problems = recall_problems(record, by_role=member.role.value if member else None, reason=reason)
        if problems:
            raise RecallRefused(problems)
        now = utcnow()
        notice = build_status(recall_notice(
            record, own=Organization(organ_id=settings.agency_id, organ_name=settings.agency_full_name),
            staff=StaffInfo(department=settings.clerk_department, staff=settings.clerk_name), reason=reason.strip(), at=now))
        deliveries = []
        for delivery in record["deliveries"]:
            if delivery.get("channel") == "outside":  # they got it on paper; the recall goes the same way
                deliveries.append({**delivery, "recall_state": "by_paper"})
                continue
            send_id = uuid.uuid4().hex
            uow.publish(SendRequested(
                send_id=send_id, requested_by="dispatch", recipients=[delivery["organ_id"]], message_kind="status",
                document_id=record["document_id"], status_code="13", package_b64=base64.b64encode(notice).decode(),
                urgent=record.get("urgency", 0) > 0))
            deliveries.append({**delivery, "recall_state": "requested", "recall_send_id": send_id})
        recall = {"decided_by": member.user, "reason": reason.strip(), "requested_at": now}
        await uow.db[repo.OUTGOING].update_one(
            {"_id": key, "recall": {"$exists": False}}, {"$set": {"recall": recall, "deliveries": deliveries}},
            session=uow.session)
        uow.audit("outgoing.recall_requested", subject_type="outgoing", subject_id=key, actor=f"user:{member.user}",
                  details={"reason": reason, "recipients": [d["organ_id"] for d in deliveries]})
        return {**record, "recall": recall, "deliveries": deliveries}

    record = await ctx.store.transaction(work)
    log.warning("outgoing document recalled", document_key=key, recipients=len(record["deliveries"]))
    return record


def recall_answer(status_code: str) -> str | None:
    """The delivery's recall state a recipient's status sets, if any."""
    return RECALL_ANSWERS.get(status_code)


async def cancel_outgoing(ctx: ServiceContext, key: str, *, by: str, reason: str) -> dict:
    """R-7.2b: a document that will not be issued is cancelled; a number it already has stays
    taken — the register shows it cancelled — and is never given again."""
    member = load_staff(ctx.settings.staff_file).get(by.removeprefix("user:"))

    async def work(uow: UnitOfWork) -> dict:
        record = await uow.db[repo.OUTGOING].find_one({"_id": key}, session=uow.session)
        if record is None:
            raise RecallRefused(["Không có văn bản đi này."], missing=True)
        problems = cancel_problems(record, by_role=member.role.value if member else None, reason=reason)
        if problems:
            raise RecallRefused(problems)
        cancellation = {"by": member.user, "reason": reason.strip(), "at": utcnow(), "state_before": record["state"],
                        "number": (record.get("register") or {}).get("number")}
        result = await uow.db[repo.OUTGOING].update_one(
            {"_id": key, "state": record["state"]}, {"$set": {"state": "cancelled", "cancellation": cancellation}},
            session=uow.session)
        if result.matched_count != 1:
            raise RecallRefused(["Văn bản vừa thay đổi; hãy tải lại."])
        uow.audit("outgoing.cancelled", subject_type="outgoing", subject_id=key, actor=f"user:{member.user}",
                  details=cancellation)
        return {**record, "state": "cancelled", "cancellation": cancellation}

    return await ctx.store.transaction(work)
