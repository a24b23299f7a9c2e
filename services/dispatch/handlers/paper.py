"""Recording a paper copy as sent (R-5.1, R-5.2): by whom, when, how, with which reference."""

from __future__ import annotations

import datetime as dt

from services.dispatch.adapters import repository as repo
from services.dispatch.domain.paper import METHODS
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.service import ServiceContext
from shared.staff import Role, load_staff


class PaperRefused(ValueError):
    def __init__(self, problems: list[str], *, missing: bool = False) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.missing = missing


async def record_paper_sent(ctx: ServiceContext, key: str, organ_id: str, *, by: str, sent_on: dt.date, method: str,
                            reference: str) -> dict:
    member = load_staff(ctx.settings.staff_file).get(by.removeprefix("user:"))
    problems = []
    if member is None or member.role != Role.CLERK:
        problems.append("Văn thư ghi nhận việc gửi bản giấy (đầu mối gửi, nhận văn bản).")
    if method not in METHODS:
        problems.append(f"Cách gửi phải là một trong: {', '.join(METHODS)}.")
    if sent_on > dt.date.today() + dt.timedelta(days=1):
        problems.append("Ngày gửi ở tương lai.")
    if problems:
        raise PaperRefused(problems)

    async def work(uow: UnitOfWork) -> dict:
        record = await uow.db[repo.OUTGOING].find_one({"_id": key}, session=uow.session)
        delivery = next((d for d in (record or {}).get("deliveries", []) if d["organ_id"] == organ_id), None)
        if delivery is None:
            raise PaperRefused(["Không có nơi nhận này trong văn bản đi."], missing=True)
        paper = delivery.get("paper") or {}
        if paper.get("state") != "to_send":
            raise PaperRefused(["Nơi nhận này không cần, hoặc đã được gửi, bản giấy."])
        sent = {**paper, "state": "sent", "sent_on": sent_on.isoformat(), "method": method, "reference": reference,
                "recorded_by": member.user, "recorded_at": utcnow()}
        await uow.db[repo.OUTGOING].update_one({"_id": key, "deliveries.organ_id": organ_id},
                                               {"$set": {"deliveries.$.paper": sent}}, session=uow.session)
        uow.audit("outgoing.paper_sent", subject_type="outgoing", subject_id=key, actor=f"user:{member.user}",
                  details={"organ_id": organ_id, "method": method, "reference": reference, "sent_on": sent_on.isoformat()})
        return {"id": key, "organ_id": organ_id, "paper": sent}

    return await ctx.store.transaction(work)
