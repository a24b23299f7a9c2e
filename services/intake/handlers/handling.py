"""Use cases of a registered document's handling (R-6.3, R-6.4, R-10.3): the chairman assigns,
officers receive, report progress and complete; the sender hears 04, 05 and 06.

Each use case reads the document, applies the pure rules of domain/handling.py, and writes the
result, the status to the sender (through the outbox) and the audit entry in one transaction.
The write is conditional on the `handling_version` it read, so two leaders assigning at once,
or an officer completing while the chairman reassigns, cannot overwrite each other."""

from __future__ import annotations

import datetime as dt

from services.intake.adapters import repository as repo
from services.intake.domain import handling as rules
from services.intake.domain import statuses
from services.intake.handlers.replies import status_entry, status_request
from shared.clock import to_vn, utcnow
from shared.db import UnitOfWork
from shared.logging import get_logger
from shared.service import ServiceContext
from shared.staff import load_staff
from shared.workdays import load_calendar

log = get_logger(__name__)


class DocumentNotFound(LookupError):
    pass


class ConcurrentChange(RuntimeError):
    """Someone changed the document's handling meanwhile: read it again."""


def _deadline_text(task: dict) -> str:
    if task.get("deadline"):
        return f", hạn xử lý {to_vn(task['deadline']):%d/%m/%Y}"
    if task.get("working_days"):
        return f", hạn {task['working_days']} ngày làm việc kể từ khi nhận"
    return ""


def _status(ctx: ServiceContext, document: dict, code, description: str):
    """The status package to the sender, or None for a paper document (no one to tell through the axis)."""
    return status_request(ctx, document, code, description) if document.get("reply_to") else None


async def _change(ctx: ServiceContext, key: str, decide, *, action: str, actor: str) -> dict:
    """Runs `decide(document, now)` → (changes, status or None, audit details) in a transaction."""

    async def work(uow: UnitOfWork) -> dict:
        document = await uow.db[repo.DOCUMENTS].find_one({"_id": key}, session=uow.session)
        if document is None:
            raise DocumentNotFound(key)
        now = utcnow()
        changes, status, details = decide(document, now)
        if not changes:
            return document  # nothing to do (e.g. received twice)
        version = document.get("handling_version", 0)
        update: dict = {"$set": {**changes, "handling_version": version + 1}}
        if status is not None:
            update["$push"] = {"statuses": status_entry(status)}
            uow.publish(status)
        result = await uow.db[repo.DOCUMENTS].update_one(
            {"_id": key, "state": "registered", "handling_version": document.get("handling_version")}, update,
            session=uow.session)
        if result.matched_count != 1:
            raise ConcurrentChange(key)
        uow.audit(action, subject_type="incoming", subject_id=key, actor=actor,
                  details={**details, "handling_state": changes.get("handling", document.get("handling", {})).get("state")})
        return {**document, **changes}

    document = await ctx.store.transaction(work)
    log.info("handling changed", action=action, document_key=key, actor=actor)
    return document


async def assign(ctx: ServiceContext, key: str, *, by: str, lead: rules.TaskRequest, cooperating: list[rules.TaskRequest],
                 note: str, reply_due: dt.date | None) -> dict:
    """R-6.4: one lead, optional cooperating officers, a deadline each, a direction note; 04 to the sender."""
    staff = load_staff(ctx.settings.staff_file)
    calendar = load_calendar(ctx.settings.holiday_calendar_file)

    def decide(document: dict, now: dt.datetime):
        changes = rules.plan_assignment(document, by=by, lead=lead, cooperating=cooperating, note=note, reply_due=reply_due,
                                        staff=staff, calendar=calendar, now=now)
        lead_task = changes["assignment"]["tasks"][0]
        leader = staff.get(by)
        member = staff.get(lead.officer)
        status = _status(ctx, document, statuses.ASSIGNED, statuses.DESCRIPTIONS[statuses.ASSIGNED].format(
            leader=f"{leader.position} {leader.name}", lead=member.name, position=member.position,
            deadline=_deadline_text(lead_task)))
        details = {"lead": lead.officer, "cooperating": [c.officer for c in cooperating], "note": note,
                   "reassigned": bool(document.get("assignment"))}
        return changes, status, details

    return await _change(ctx, key, decide, action="incoming.assigned", actor=f"user:{by}")


async def forward(ctx: ServiceContext, key: str, *, by: str, note: str) -> dict:
    """R-6.3: the clerk sends the checked arrival to the chairman (recorded; no status to the sender)."""
    staff = load_staff(ctx.settings.staff_file)

    def decide(document: dict, now: dt.datetime):
        return rules.plan_forwarding(document, by=by, note=note, staff=staff, now=now), None, {"note": note}

    return await _change(ctx, key, decide, action="incoming.forwarded", actor=f"user:{by}")


async def receive(ctx: ServiceContext, key: str, *, officer: str) -> dict:
    """R-6.3: the officer receives the document and their deadline starts; the lead's first
    receipt tells the sender 05."""
    staff = load_staff(ctx.settings.staff_file)
    calendar = load_calendar(ctx.settings.holiday_calendar_file)

    def decide(document: dict, now: dt.datetime):
        changes, starts = rules.receive(document, officer, now=now, calendar=calendar)
        if not changes:
            return {}, None, {}
        task = rules.find_task(changes, officer)
        status = None
        if starts:
            member = staff.get(officer)
            status = _status(ctx, document, statuses.IN_PROGRESS, statuses.DESCRIPTIONS[statuses.IN_PROGRESS].format(
                lead=member.name if member else officer, position=member.position if member else "", deadline=_deadline_text(task)))
        return changes, status, {"officer": officer, "deadline": task["deadline"]}

    return await _change(ctx, key, decide, action="incoming.received_by_officer", actor=f"user:{officer}")


async def record_progress(ctx: ServiceContext, key: str, *, officer: str, note: str) -> dict:
    def decide(document: dict, now: dt.datetime):
        return rules.record_progress(document, officer, note, now=now), None, {"officer": officer, "note": note}

    return await _change(ctx, key, decide, action="incoming.progress", actor=f"user:{officer}")


async def complete(ctx: ServiceContext, key: str, *, officer: str, note: str) -> dict:
    """An officer completes their part; the lead's completion completes the document: 06."""

    def decide(document: dict, now: dt.datetime):
        changes, done = rules.complete(document, officer, note, now=now)
        status = None
        if done:
            status = _status(ctx, document, statuses.DONE,
                                    statuses.DESCRIPTIONS[statuses.DONE].format(agency=ctx.settings.agency_name))
        task = rules.find_task(changes, officer)
        return changes, status, {"officer": officer, "note": note, "on_time": task["on_time"], "document_done": done}

    return await _change(ctx, key, decide, action="incoming.completed_by_officer", actor=f"user:{officer}")
