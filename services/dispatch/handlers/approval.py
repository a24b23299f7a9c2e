"""The leader's own decision on a document the clerk handed in (R-7.1, R-8.2): approved, it goes
to the leader's signature with the leader's key, asked in the leader's name; returned, it stops
with the reason. The clerk's word never moves a leader's key."""

from __future__ import annotations

import uuid

from services.dispatch.adapters import repository as repo
from services.dispatch.domain.outgoing import OutgoingState, already_decided, approval_problems
from services.dispatch.handlers.create import leader_signature_request
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.service import ServiceContext
from shared.staff import load_staff


class ApprovalRefused(ValueError):
    def __init__(self, problems: list[str], *, missing: bool = False, conflict: bool = False) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.missing = missing
        self.conflict = conflict


async def decide_outgoing(ctx: ServiceContext, key: str, *, by: str, approving: bool, reason: str = "") -> dict:
    user = by.removeprefix("user:")
    member = load_staff(ctx.settings.staff_file).get(user)

    async def work(uow: UnitOfWork) -> dict:
        record = await uow.db[repo.OUTGOING].find_one({"_id": key}, session=uow.session)
        if record is None:
            raise ApprovalRefused(["Không có văn bản đi này."], missing=True)
        if already_decided(record, by_user=user, approving=approving):
            return record  # the same call again: nothing twice
        if problems := approval_problems(record, by_user=user, by_role=member.role.value if member else None,
                                         approving=approving, reason=reason):
            raise ApprovalRefused(problems, conflict=record.get("state") != OutgoingState.AWAITING_APPROVAL)
        now = utcnow()
        approval = {**record["approval"], "decided_by": user, "decided_at": now, "approved": approving,
                    **({} if approving else {"reason": reason.strip()})}
        if approving:
            request_id = uuid.uuid4().hex
            changes = {"state": OutgoingState.LEADER_SIGNING.value, "approval": approval, "approved_by": user}
            push = {"signature_requests": {"request_id": request_id, "role": "leader", "at": now}}
        else:
            changes, push = {"state": OutgoingState.RETURNED_BY_LEADER.value, "approval": approval}, None
        if not await repo.update_if_state(uow, key, OutgoingState.AWAITING_APPROVAL.value, changes, push=push):
            raise ApprovalRefused(["Văn bản vừa thay đổi; hãy tải lại."], conflict=True)
        if approving:
            uow.publish(leader_signature_request(record, request_id, by=user))
        uow.audit("outgoing.approved" if approving else "outgoing.returned_by_leader", subject_type="outgoing",
                  subject_id=key, actor=f"user:{user}",
                  details={"asked_by": approval["asked_by"], **({} if approving else {"reason": reason.strip()})})
        return {**record, **changes}

    return await ctx.store.transaction(work)
