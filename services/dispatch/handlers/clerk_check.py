"""The clerk's format check between the leader's signature and the number (R-7.2): passed, the
number and date are given and the agency signs; failed, the document goes back with the
clerk's remarks and no number is used."""

from __future__ import annotations

from services.dispatch.adapters import repository as repo
from services.dispatch.domain.outgoing import OutgoingState
from services.dispatch.handlers.signatures import _number_and_request_agency_signature
from shared.clock import utcnow
from shared.contracts.messages import BlobRef
from shared.db import UnitOfWork
from shared.service import ServiceContext
from shared.staff import Role, load_staff


class CheckRefused(ValueError):
    def __init__(self, problems: list[str], *, missing: bool = False) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.missing = missing


async def format_check(ctx: ServiceContext, key: str, *, by: str, passed: bool, remarks: str) -> dict:
    member = load_staff(ctx.settings.staff_file).get(by.removeprefix("user:"))
    record = await repo.get(ctx.store.db, key)
    if record is None:
        raise CheckRefused(["Không có văn bản đi này."], missing=True)
    problems = []
    if member is None or member.role != Role.CLERK:
        problems.append("Văn thư kiểm tra thể thức văn bản trước khi cấp số.")
    if record["state"] != OutgoingState.AWAITING_CLERK_CHECK:
        problems.append("Văn bản không ở bước chờ văn thư kiểm tra thể thức.")
    if not passed and not remarks.strip():
        problems.append("Ghi những điểm sai thể thức để trả lại.")
    if problems:
        raise CheckRefused(problems)
    check = {"by": member.user, "at": utcnow(), "passed": passed, "remarks": remarks.strip()}
    if passed:
        await ctx.store.db[repo.OUTGOING].update_one({"_id": key}, {"$set": {"format_check": check}})
        leader = next(s for s in record["signatures"] if s["role"] == "leader")
        await _number_and_request_agency_signature(ctx, record, BlobRef(**record["files"]["leader_signed"]), leader,
                                                   expected=OutgoingState.AWAITING_CLERK_CHECK)
        return await repo.get(ctx.store.db, key)

    async def work(uow: UnitOfWork) -> dict:
        if not await repo.update_if_state(uow, key, OutgoingState.AWAITING_CLERK_CHECK.value,
                                          {"state": OutgoingState.RETURNED_BY_CLERK.value, "format_check": check}):
            raise CheckRefused(["Văn bản vừa thay đổi; hãy tải lại."])
        uow.audit("outgoing.returned_by_clerk", subject_type="outgoing", subject_id=key, actor=f"user:{member.user}",
                  details={"remarks": check["remarks"]})
        return {**record, "state": OutgoingState.RETURNED_BY_CLERK.value, "format_check": check}

    return await ctx.store.transaction(work)
