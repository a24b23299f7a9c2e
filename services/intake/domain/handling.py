"""Routing, assignment and handling of a registered incoming document (R-6.3, R-6.4, R-10.3).

registered ─▶ awaiting_assignment (sent to the chairman; urgent ones first, R-4.2c)
   ─chairman or vice-chairman assigns one lead, optional cooperating officers, a deadline each
    and a direction note─▶ assigned  (status 04 to the sender)
   ─the lead receives it─▶ in_progress (status 05); each deadline runs from its officer's receipt
   ─the lead completes─▶ completed (status 06); cooperating officers complete their own parts.

A document that asks for a report or information (R-10.3: it carries a due date, or the
chairman marks it) keeps its reply deadline: no officer's deadline may run past it.
Pure rules: every function takes the stored document and returns the changes to write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from shared.clock import VN_TZ, to_vn
from shared.staff import LEADERS, Role, Staff
from shared.workdays import END_OF_DAY, WorkCalendar

MAX_WORKING_DAYS = 90
DUE_SOON_WORKING_DAYS = 2


class HandlingState(StrEnum):
    AWAITING_ASSIGNMENT = "awaiting_assignment"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class TaskRole(StrEnum):
    LEAD = "lead"
    COOPERATING = "cooperating"


class HandlingError(ValueError):
    """A request the rules refuse; `message_vi` is shown to the user as it is."""

    def __init__(self, message_vi: str, *, conflict: bool = False) -> None:
        super().__init__(message_vi)
        self.message_vi = message_vi
        self.conflict = conflict  # the document's state forbids it (HTTP 409), not the request (422)


@dataclass(frozen=True)
class TaskRequest:
    officer: str
    working_days: int | None = None  # counted from the officer's receipt
    due_date: dt.date | None = None  # or a fixed date set by the chairman


def awaiting_assignment() -> dict:
    """The `handling` of a newly registered document: with the chairman (R-6.3)."""
    return {"state": HandlingState.AWAITING_ASSIGNMENT.value}


def reply_due_of(document: dict) -> dt.date | None:
    """R-10.3: the reply deadline the sender set (ToPlaces/DueDate), or one the chairman set."""
    handling = document.get("handling") or {}
    for value in (handling.get("reply_due"), (document.get("metadata") or {}).get("due_date")):
        if value:
            return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else dt.date.fromisoformat(str(value)[:10])
    return None


def _ensure_open(document: dict) -> dict:
    if document.get("state") != "registered":
        raise HandlingError(f"Văn bản đang ở trạng thái '{document.get('state')}', không thể giao xử lý.", conflict=True)
    handling = document.get("handling") or awaiting_assignment()
    if handling.get("state") == HandlingState.COMPLETED:
        raise HandlingError("Văn bản đã xử lý xong.", conflict=True)
    return handling


def plan_forwarding(document: dict, *, by: str, note: str, staff: Staff, now: dt.datetime) -> dict:
    """R-6.3, R-5.3: the clerk, having checked the arrival and its verification report, sends it to
    the chairman with an optional note. The document is already in the chairman's queue (R-4.2b:
    processed at once, never held back); this records that the focal point has seen and passed it.
    Forwarding twice changes nothing."""
    handling = _ensure_open(document)
    clerk = staff.get(by)
    if clerk is None or clerk.role != Role.CLERK:
        raise HandlingError("Chỉ văn thư chuyển văn bản đến cho Chủ tịch.")
    if handling.get("forwarded"):
        return {}
    return {"handling": {**handling, "forwarded": {"by": clerk.user, "name": clerk.name, "at": now, "note": note.strip()}}}


def _task(request: TaskRequest, role: TaskRole, staff: Staff, today: dt.date) -> dict:
    member = staff.get(request.officer)
    if member is None:
        raise HandlingError(f"Không có cán bộ '{request.officer}' trong danh sách cán bộ của xã.")
    if member.role in (Role.ARCHIVIST, Role.OPERATOR):
        raise HandlingError(f"{member.name} ({member.position}) không phải người xử lý văn bản.")
    if (request.working_days is None) == (request.due_date is None):
        raise HandlingError(f"Hạn xử lý của {member.name}: ghi số ngày làm việc hoặc ngày hết hạn (một trong hai).")
    if request.working_days is not None and not 1 <= request.working_days <= MAX_WORKING_DAYS:
        raise HandlingError(f"Hạn xử lý của {member.name} phải từ 1 đến {MAX_WORKING_DAYS} ngày làm việc.")
    if request.due_date is not None and request.due_date < today:
        raise HandlingError(f"Hạn xử lý của {member.name} ({request.due_date:%d/%m/%Y}) đã qua.")
    return {
        "officer": member.user, "name": member.name, "role": role.value,
        "working_days": request.working_days,
        "due_date": request.due_date.isoformat() if request.due_date else None,
        "received_at": None, "deadline": None, "progress": [], "completed_at": None, "completion_note": "",
    }


def plan_assignment(document: dict, *, by: str, lead: TaskRequest, cooperating: list[TaskRequest], note: str,
                    reply_due: dt.date | None, staff: Staff, calendar: WorkCalendar, now: dt.datetime) -> dict:
    """R-6.4: the `assignment` and `handling` to write. A second assignment replaces the first
    (tasks already received keep their receipt), the first kept in `history`."""
    handling = _ensure_open(document)
    leader = staff.get(by)
    if leader is None or leader.role not in LEADERS:
        raise HandlingError("Chỉ Chủ tịch hoặc Phó Chủ tịch UBND xã được giao xử lý văn bản.")
    officers = [lead.officer, *(c.officer for c in cooperating)]
    if len(set(officers)) != len(officers):
        raise HandlingError("Mỗi cán bộ chỉ được giao một lần: người chủ trì không đồng thời là người phối hợp.")
    today = to_vn(now).date()
    tasks = [_task(lead, TaskRole.LEAD, staff, today), *(_task(c, TaskRole.COOPERATING, staff, today) for c in cooperating)]
    reply = reply_due or reply_due_of(document)
    for task in tasks:
        if reply and task["due_date"] and dt.date.fromisoformat(task["due_date"]) > reply:
            raise HandlingError(f"Hạn xử lý của {task['name']} ({dt.date.fromisoformat(task['due_date']):%d/%m/%Y}) "
                                f"muộn hơn hạn trả lời văn bản ({reply:%d/%m/%Y}).")
    previous = document.get("assignment")
    if previous:  # a task already received keeps its receipt, progress and completion
        earlier = {t["officer"]: t for t in previous.get("tasks", [])}
        for task in tasks:
            old = earlier.get(task["officer"])
            if old and old.get("received_at"):
                task.update({k: old[k] for k in ("received_at", "progress", "completed_at", "completion_note")})
    assignment = {
        "assigned_by": leader.user, "assigned_by_name": leader.name, "assigned_at": now, "note": note.strip(),
        "lead_officer": lead.officer, "cooperating_officers": [c.officer for c in cooperating], "tasks": tasks,
        "history": [*(previous or {}).get("history", []), *([{k: v for k, v in previous.items() if k != "history"}]
                                                           if previous else [])],
    }
    state = handling.get("state")
    new_state = state if state == HandlingState.IN_PROGRESS and tasks[0]["received_at"] else HandlingState.ASSIGNED.value
    for task in tasks:
        if task["received_at"]:
            task["deadline"] = task_deadline(task, reply, calendar)
    return {"assignment": assignment,
            "handling": {**handling, "state": new_state, "reply_due": reply.isoformat() if reply else None,
                         "reply_required": reply is not None}}


def task_deadline(task: dict, reply_due: dt.date | None, calendar: WorkCalendar) -> dt.datetime | None:
    """R-6.3: the deadline runs from the officer's receipt; a fixed date is the end of that
    day; never past the reply deadline (R-10.3)."""
    if task["due_date"]:
        deadline = dt.datetime.combine(dt.date.fromisoformat(task["due_date"]), END_OF_DAY, tzinfo=VN_TZ)
    elif task.get("received_at"):
        deadline = calendar.deadline(task["received_at"], task["working_days"])
    else:
        return None
    if reply_due:
        deadline = min(deadline, dt.datetime.combine(reply_due, END_OF_DAY, tzinfo=VN_TZ))
    return deadline


def find_task(document: dict, officer: str) -> dict:
    assignment = document.get("assignment") or {}
    for task in assignment.get("tasks", []):
        if task["officer"] == officer:
            return task
    raise HandlingError(f"Văn bản không được giao cho '{officer}'.")


def receive(document: dict, officer: str, *, now: dt.datetime, calendar: WorkCalendar) -> tuple[dict, bool]:
    """The officer receives the document: their deadline starts (R-6.3). Returns the new
    `assignment` and `handling`, and whether this moves the document to in_progress (the lead's
    first receipt: status 05). Receiving twice changes nothing."""
    handling = _ensure_open(document)
    task = find_task(document, officer)
    if task["received_at"]:
        return {}, False
    task["received_at"] = now
    task["deadline"] = task_deadline(task, reply_due_of(document), calendar)
    starts = task["role"] == TaskRole.LEAD and handling["state"] == HandlingState.ASSIGNED
    if starts:
        handling = {**handling, "state": HandlingState.IN_PROGRESS.value, "started_at": now}
    return {"assignment": document["assignment"], "handling": handling}, starts


def record_progress(document: dict, officer: str, note: str, *, now: dt.datetime) -> dict:
    _ensure_open(document)
    task = find_task(document, officer)
    if not task["received_at"]:
        raise HandlingError("Cán bộ phải nhận văn bản trước khi cập nhật tiến độ.", conflict=True)
    if task["completed_at"]:
        raise HandlingError("Phần việc này đã hoàn thành.", conflict=True)
    if not note.strip():
        raise HandlingError("Ghi nội dung tiến độ xử lý.")
    task["progress"].append({"at": now, "note": note.strip()})
    return {"assignment": document["assignment"]}


def complete(document: dict, officer: str, note: str, *, now: dt.datetime) -> tuple[dict, bool]:
    """The officer completes their part. The lead's completion completes the document (status
    06); it needs the document received first. Returns the changes and whether it completed."""
    handling = _ensure_open(document)
    task = find_task(document, officer)
    if not task["received_at"]:
        raise HandlingError("Cán bộ phải nhận văn bản trước khi báo hoàn thành.", conflict=True)
    if task["completed_at"]:
        raise HandlingError("Phần việc này đã hoàn thành.", conflict=True)
    task["completed_at"] = now
    task["completion_note"] = note.strip()
    task["on_time"] = task["deadline"] is None or to_vn(now) <= to_vn(task["deadline"])
    done = task["role"] == TaskRole.LEAD
    if done:
        handling = {**handling, "state": HandlingState.COMPLETED.value, "completed_at": now,
                    "completed_on_time": task["on_time"]}
    return {"assignment": document["assignment"], "handling": handling}, done


def standing(task: dict, *, now: dt.datetime, calendar: WorkCalendar) -> str:
    """Where an officer's task stands, for "my work" (R-6.4, R-9.4)."""
    deadline = task.get("deadline")
    if task.get("completed_at"):
        return "done_on_time" if task.get("on_time", True) else "done_late"
    if not task.get("received_at"):
        return "not_received"
    if deadline is None:
        return "in_progress"
    deadline = to_vn(deadline)
    if to_vn(now) > deadline:
        return "overdue"
    if calendar.working_days_between(to_vn(now).date(), deadline.date()) <= DUE_SOON_WORKING_DAYS:
        return "due_soon"
    return "in_progress"
