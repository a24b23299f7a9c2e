"""HTTP API of handling (R-6.3, R-6.4, R-10.3): the chairman's queue, assignment, the officer's
receipt, progress and completion, and each officer's "my work". Who is calling comes in the
request until signed-in accounts arrive with the web application (issue 6)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from services.intake.adapters import repository as repo
from services.intake.domain import handling as rules
from services.intake.handlers import handling
from shared.clock import utcnow
from shared.service import ctx_of
from shared.auth import acting_user
from shared.staff import Role, load_staff
from shared.workdays import CalendarError, load_calendar

router = APIRouter(tags=["handling"])


class TaskIn(BaseModel):
    officer: str = Field(min_length=1)
    working_days: int | None = Field(None, description="hạn xử lý, số ngày làm việc kể từ khi cán bộ nhận văn bản")
    due_date: dt.date | None = Field(None, description="hoặc hạn xử lý là một ngày cụ thể")

    def request(self) -> rules.TaskRequest:
        return rules.TaskRequest(self.officer, self.working_days, self.due_date)


class AssignmentIn(BaseModel):
    by: str | None = Field(None, min_length=1, description="Chủ tịch hoặc Phó Chủ tịch giao việc")
    lead: TaskIn
    cooperating: list[TaskIn] = Field(default_factory=list, max_length=20)
    note: str = Field("", max_length=4000, description="ý kiến chỉ đạo")
    reply_due: dt.date | None = Field(None, description="hạn trả lời khi văn bản yêu cầu báo cáo, cung cấp thông tin (R-10.3)")


class ForwardIn(BaseModel):
    by: str | None = Field(None, min_length=1, description="văn thư")
    note: str = Field("", max_length=2000, description="ý kiến của văn thư khi chuyển Chủ tịch")


class OfficerNote(BaseModel):
    note: str = Field("", max_length=4000)


async def _run(coroutine) -> dict:
    try:
        document = await coroutine
    except handling.DocumentNotFound as exc:
        raise HTTPException(404, "Không có văn bản đến này.") from exc
    except rules.HandlingError as exc:
        raise HTTPException(409 if exc.conflict else 422, exc.message_vi) from exc
    except handling.ConcurrentChange as exc:
        raise HTTPException(409, "Văn bản vừa được người khác cập nhật; hãy tải lại và thử lại.") from exc
    except CalendarError as exc:
        raise HTTPException(503, f"Lịch ngày nghỉ không dùng được: {exc}") from exc
    return {"id": document["_id"], "handling": document.get("handling"), "assignment": document.get("assignment")}


@router.get("/handling/awaiting-assignment")
async def awaiting_assignment(request: Request, limit: int = 100) -> list[dict]:
    """The chairman's queue: registered documents not yet assigned, urgent first (R-4.2c), then
    in order of arrival."""
    rows = await ctx_of(request).store.db[repo.DOCUMENTS].find(
        {"state": "registered", "handling.state": rules.HandlingState.AWAITING_ASSIGNMENT.value},
        sort=[("priority", -1), ("register.year", 1), ("register.number", 1)], limit=min(limit, 500),
        projection={"register": 1, "metadata.code": 1, "metadata.subject": 1, "metadata.sender": 1, "metadata.due_date": 1,
                    "priority": 1, "urgent": 1, "registered_at": 1, "handling.forwarded": 1},
    ).to_list()
    return [{("id" if k == "_id" else k): v for k, v in r.items()} for r in rows]


@router.post("/documents/{key}/forward")
async def forward(key: str, body: ForwardIn, request: Request) -> dict:
    """R-6.3, R-5.3: the clerk has checked the arrival and sends it to the chairman."""
    return await _run(handling.forward(ctx_of(request), key, by=acting_user(request, body.by), note=body.note))


@router.post("/documents/{key}/assignment")
async def assign(key: str, body: AssignmentIn, request: Request) -> dict:
    return await _run(handling.assign(ctx_of(request), key, by=acting_user(request, body.by), lead=body.lead.request(),
                                      cooperating=[c.request() for c in body.cooperating], note=body.note,
                                      reply_due=body.reply_due))


@router.post("/documents/{key}/handling/{officer}/received")
async def received(key: str, officer: str, request: Request) -> dict:
    return await _run(handling.receive(ctx_of(request), key, officer=acting_user(request, officer)))


@router.post("/documents/{key}/handling/{officer}/progress")
async def progress(key: str, officer: str, body: OfficerNote, request: Request) -> dict:
    return await _run(handling.record_progress(ctx_of(request), key, officer=acting_user(request, officer), note=body.note))


@router.post("/documents/{key}/handling/{officer}/completed")
async def completed(key: str, officer: str, body: OfficerNote, request: Request) -> dict:
    return await _run(handling.complete(ctx_of(request), key, officer=acting_user(request, officer), note=body.note))


@router.get("/officers/{officer}/work")
async def my_work(officer: str, request: Request) -> dict:
    """"My work" (R-6.4, R-9.4): the officer's tasks with where each stands — not yet received,
    in progress, due soon, overdue, done — and the replies they owe (R-10.3). Overdue first."""
    ctx = ctx_of(request)
    if request.state.principal.role == Role.OFFICER:
        acting_user(request, officer)  # an officer sees their own work only
    if load_staff(ctx.settings.staff_file).get(officer) is None:
        raise HTTPException(404, f"Không có cán bộ '{officer}'.")
    calendar = load_calendar(ctx.settings.holiday_calendar_file)
    now = utcnow()
    rows = await ctx.store.db[repo.DOCUMENTS].find(
        {"state": "registered", "assignment.tasks.officer": officer},
        projection={"register": 1, "metadata.code": 1, "metadata.subject": 1, "metadata.sender": 1, "priority": 1,
                    "assignment": 1, "handling": 1},
    ).to_list()
    order = {"overdue": 0, "due_soon": 1, "not_received": 2, "in_progress": 3, "done_late": 4, "done_on_time": 5}
    items = []
    for row in rows:
        task = rules.find_task(row, officer)
        standing = rules.standing(task, now=now, calendar=calendar)
        handling_state = (row.get("handling") or {})
        items.append({
            "id": row["_id"], "register": row.get("register"), "code": row["metadata"].get("code"),
            "subject": row["metadata"].get("subject"), "priority": row.get("priority", 0), "role": task["role"],
            "standing": standing, "deadline": task.get("deadline"), "received_at": task.get("received_at"),
            "note": row["assignment"].get("note", ""), "reply_due": handling_state.get("reply_due"),
            "reply_owed": bool(handling_state.get("reply_required")) and task["role"] == "lead"
            and handling_state.get("state") != rules.HandlingState.COMPLETED,
        })
    items.sort(key=lambda i: (order[i["standing"]], -i["priority"], str(i["deadline"] or "")))
    counts = {name: sum(i["standing"] == name for i in items) for name in order}
    return {"officer": officer, "counts": counts, "replies_owed": sum(i["reply_owed"] for i in items), "items": items}


@router.get("/staff")
async def staff_list(request: Request) -> list[dict]:
    return [m.model_dump() for m in load_staff(ctx_of(request).settings.staff_file).members.values()]
