"""Reports from intake's own records (R-9.4, R-12.4, R-12.6, R-10.3), pure rules: given the stored
documents and recall requests and a period, the figures.

Per officer (R-12.4), from each task of each registered document's assignment:
- `received`: tasks given to the officer in the period (the first assignment naming them; a
  reassignment does not count the same document again);
- `on_time` / `late`: tasks the officer completed in the period, against their deadline (the
  deadline runs from the officer's receipt in working days, or is a fixed date, never past the
  reply deadline: `domain/handling.py`, `shared/workdays.py`);
- `outstanding`: tasks given and not completed at the end of the period (or now, if sooner), of
  which `not_received` were not even received yet, and `overdue` are past their deadline; a
  cooperating part left open when the lead completed the document closes with it;
- `replies_owed` (R-10.3): documents asking for a report or information whose lead the officer
  is and which are not completed at that moment; `replies_overdue`: past the reply date.
A recalled document is no one's work any more (R-6.2): it is left out of the officer figures and
counted in the yearly report's recalls.

Yearly (R-12.6): incoming received, registered (by kind), refused (by the reason's kind),
urgent, digitised paper documents, recalls, updates and replacements, and the assignments with
their on-time rate.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from services.intake.domain.documents import DocumentState
from services.intake.domain.handling import TaskRole, reply_due_of, task_deadline
from services.intake.domain.register import URGENCY
from services.intake.domain.verification import CHECK_LABELS_VI
from shared.clock import VN_TZ
from shared.report_period import Period, rate, moment
from shared.workdays import END_OF_DAY, WorkCalendar

OFFICER_FIGURES = ("received", "on_time", "late", "outstanding", "not_received", "overdue", "replies_owed", "replies_overdue")
FIGURE_LABELS_VI = {
    "received": "Văn bản được giao", "on_time": "Xử lý đúng hạn", "late": "Xử lý quá hạn",
    "outstanding": "Đang xử lý (tồn)", "not_received": "Chưa nhận", "overdue": "Tồn đã quá hạn",
    "replies_owed": "Phải trả lời (R-10.3)", "replies_overdue": "Trả lời quá hạn",
}
OVERDUE_ITEMS_KEPT = 50  # per officer: enough to steer, bounded


def empty_figures() -> dict:
    return {name: 0 for name in OFFICER_FIGURES}


def first_assigned_at(document: dict, officer: str) -> dt.datetime | None:
    """When the officer was first given this document: the earliest assignment naming them."""
    assignment = document.get("assignment") or {}
    moments = [moment(a.get("assigned_at")) for a in [*assignment.get("history", []), assignment]
               if any(t.get("officer") == officer for t in a.get("tasks", []))]
    return min((m for m in moments if m is not None), default=None)


def task_due(document: dict, task: dict, calendar: WorkCalendar) -> dt.datetime | None:
    """The task's deadline: as recorded at receipt, or a fixed date known before receipt."""
    if task.get("deadline"):
        return moment(task["deadline"])
    return task_deadline(task, reply_due_of(document), calendar)


def completed_on_time(document: dict, task: dict, calendar: WorkCalendar) -> bool:
    if "on_time" in task:  # decided at completion (domain/handling.py `complete`)
        return bool(task["on_time"])
    due = task_due(document, task, calendar)
    return due is None or moment(task["completed_at"]) <= due


def task_figures(document: dict, task: dict, period: Period, *, as_of: dt.datetime, calendar: WorkCalendar) -> dict:
    """One task's contribution to its officer's row, and whether it is overdue at `as_of`."""
    figures = empty_figures()
    assigned = first_assigned_at(document, task["officer"])
    completed = moment(task.get("completed_at"))
    if period.contains(assigned):
        figures["received"] = 1
    if completed is not None and period.contains(completed):
        figures["on_time" if completed_on_time(document, task, calendar) else "late"] = 1
    # A part not completed when the lead completed the document is closed with it (handling
    # refuses any change after that): no longer anyone's outstanding work.
    closed = completed or moment((document.get("handling") or {}).get("completed_at"))
    outstanding = assigned is not None and assigned < as_of and (closed is None or closed >= as_of)
    if outstanding:
        figures["outstanding"] = 1
        received = moment(task.get("received_at"))
        if received is None or received >= as_of:
            figures["not_received"] = 1
        due = task_due(document, task, calendar)
        if due is not None and due < as_of:
            figures["overdue"] = 1
        handling = document.get("handling") or {}
        if handling.get("reply_required") and task.get("role") == TaskRole.LEAD:
            figures["replies_owed"] = 1
            reply_due = reply_due_of(document)
            if reply_due and dt.datetime.combine(reply_due, END_OF_DAY, tzinfo=VN_TZ) < as_of:
                figures["replies_overdue"] = 1
    return figures


def officer_report(documents: Iterable[dict], period: Period, *, now: dt.datetime, calendar: WorkCalendar,
                   officers: Iterable[str] | None = None) -> dict[str, dict]:
    """Per officer: the figures, and the overdue documents (to steer, R-9.4). `officers` limits
    the rows (and gives a row of zeros to an officer with nothing)."""
    as_of = period.as_of(now)
    wanted = set(officers) if officers is not None else None
    rows: dict[str, dict] = {o: {**empty_figures(), "overdue_items": []} for o in (wanted or ())}
    for document in documents:
        if document.get("state") != DocumentState.REGISTERED:
            continue
        for task in (document.get("assignment") or {}).get("tasks", []):
            officer = task.get("officer")
            if wanted is not None and officer not in wanted:
                continue
            figures = task_figures(document, task, period, as_of=as_of, calendar=calendar)
            row = rows.setdefault(officer, {**empty_figures(), "overdue_items": []})
            for name, value in figures.items():
                row[name] += value
            if figures["overdue"] and len(row["overdue_items"]) < OVERDUE_ITEMS_KEPT:
                metadata = document.get("metadata") or {}
                row["overdue_items"].append({
                    "id": document["_id"], "register": document.get("register"), "code": metadata.get("code"),
                    "subject": metadata.get("subject"), "role": task.get("role"),
                    "deadline": task_due(document, task, calendar)})
    for row in rows.values():
        done = row["on_time"] + row["late"]
        row["on_time_rate"] = rate(row["on_time"], done)
        row["overdue_items"].sort(key=lambda i: i["deadline"])
    return rows


# ---- the yearly report (R-12.6) ---------------------------------------------------------------


def refusal_kinds(document: dict) -> list[str]:
    """The kinds of check a refused document failed, in Vietnamese (each once)."""
    checks = (document.get("verification") or {}).get("checks") or []
    kinds = [c.get("label_vi") or CHECK_LABELS_VI.get(c.get("name", ""), c.get("name", "")) for c in checks
             if c.get("outcome") == "failed"]
    return list(dict.fromkeys(kinds)) or ["Không rõ"]


def _kind(document: dict) -> str:
    return ((document.get("metadata") or {}).get("type_name") or "").strip() or "Không ghi loại"


def yearly_report(documents: Iterable[dict], recalls: Iterable[dict], period: Period, *, now: dt.datetime,
                  calendar: WorkCalendar) -> dict:
    as_of = period.as_of(now)
    arrived = Counter()
    registered_by_kind, refused_by_reason, urgent_by_level = Counter(), Counter(), Counter()
    registered = refused = digitised = digitisation_failed = duplicates = recalled = 0
    assigned_documents = tasks = on_time = late = outstanding = overdue = reply_required = 0
    for document in documents:
        state = document.get("state", "")
        if period.contains(document.get("arrived_at")):
            arrived["paper" if document.get("source") == "paper" else "axis"] += 1
            if state == DocumentState.REFUSED:
                refused += 1
                refused_by_reason.update(refusal_kinds(document))
            if state == DocumentState.DIGITISATION_FAILED:
                digitisation_failed += 1
        if period.contains(document.get("recalled_at")):
            recalled += 1
        was_registered = document.get("register") and period.contains(document.get("registered_at"))
        if was_registered:
            registered += 1
            registered_by_kind[_kind(document)] += 1
            priority = int((document.get("metadata") or {}).get("priority") or document.get("priority") or 0)
            if priority > 0 or document.get("urgent"):
                urgent_by_level[URGENCY.get(priority, "Khẩn")] += 1
            if document.get("source") == "paper":
                digitised += 1
            if document.get("possible_duplicate_of"):
                duplicates += 1
        assignment = document.get("assignment") or {}
        if not assignment or state != DocumentState.REGISTERED:
            continue
        first = min((m for m in (moment(a.get("assigned_at")) for a in [*assignment.get("history", []), assignment]) if m),
                    default=None)
        if period.contains(first):
            assigned_documents += 1
            if (document.get("handling") or {}).get("reply_required"):
                reply_required += 1
        for task in assignment.get("tasks", []):
            figures = task_figures(document, task, period, as_of=as_of, calendar=calendar)
            tasks += figures["received"]
            on_time += figures["on_time"]
            late += figures["late"]
            outstanding += figures["outstanding"]
            overdue += figures["overdue"]
    by_kind: dict[str, Counter] = {}
    for recall in recalls:
        if period.contains(recall.get("received_at")):
            by_kind.setdefault(recall.get("kind", "recall"), Counter())[recall.get("state", "refused")] += 1
    revisions = {kind: {"agreed": c["agreed"], "refused": c["refused"], "total": c["agreed"] + c["refused"]}
                 for kind, c in sorted(by_kind.items())}
    return {
        "incoming": {
            "received": arrived["axis"] + arrived["paper"], "received_electronic": arrived["axis"], "received_paper": arrived["paper"],
            "registered": registered, "registered_by_kind": dict(registered_by_kind.most_common()),
            "refused": refused, "refused_by_reason": dict(refused_by_reason.most_common()),
            "urgent": sum(urgent_by_level.values()), "urgent_by_level": dict(urgent_by_level.most_common()),
            "digitised": digitised, "digitisation_failed": digitisation_failed, "possible_duplicates": duplicates,
            "recalled": recalled, "recall_requests": revisions,
        },
        "assignments": {
            "documents_assigned": assigned_documents, "reply_required": reply_required, "tasks": tasks,
            "completed_on_time": on_time, "completed_late": late, "on_time_rate": rate(on_time, on_time + late),
            "outstanding": outstanding, "overdue": overdue,
        },
    }

