"""An outgoing document's life in dispatch (văn bản đi), pure rules.

[awaiting_approval] ─▶ leader_signing ─▶ [awaiting_clerk_check] ─▶ agency_signing (numbered) ─▶ [annex_signing] ─▶ issued
       │                 │                   │
       └─▶ returned_by_leader └─▶ signature_refused ◀┘

A document the clerk hands in (`POST /outgoing`) waits for the named leader's own approval
(R-7.1, R-8.2): nobody's key signs on somebody else's word. A draft the leader approved in the
system goes straight to the leader's signature.

Signatures come in the order the rules require: the leader's first, then — only over a valid
leader signature — the agency's (R-8.3c); the number and date are given between the two
(R-7.2). Each recipient organisation gets its own envelope and its own delivery record,
whose transport state (from the gateway) is kept apart from its business statuses (from the
recipient: 01 arrived, 02 refused, 03 registered, 04 assigned, 05 processing, 06 done).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from shared.clock import VN_TZ, to_vn
from shared.workdays import WorkCalendar


class OutgoingState(StrEnum):
    AWAITING_APPROVAL = "awaiting_approval"  # handed in by the clerk: the named leader approves it himself
    RETURNED_BY_LEADER = "returned_by_leader"
    LEADER_SIGNING = "leader_signing"
    AWAITING_CLERK_CHECK = "awaiting_clerk_check"  # the clerk checks the format before the number
    RETURNED_BY_CLERK = "returned_by_clerk"
    AGENCY_SIGNING = "agency_signing"
    ANNEX_SIGNING = "annex_signing"  # the agency signs each annex in its own file (NĐ 30 Phụ lục I II.8)
    ISSUED = "issued"
    SIGNATURE_REFUSED = "signature_refused"
    CANCELLED = "cancelled"  # numbered but not issued: the number stays taken, recorded as cancelled


BUSINESS_STATUS_NAMES = {
    "01": "received",
    "02": "rejected",
    "03": "accepted",
    "04": "assigned",
    "05": "processing",
    "06": "completed",
    "15": "change_accepted",
    "16": "change_rejected",
}


def business_state(status_code: str) -> str:
    return BUSINESS_STATUS_NAMES.get(status_code, f"status_{status_code}")


def latest_business_status(statuses: list[dict]) -> dict:
    """The status a delivery stands at: the last in business order (time, then code: 01 < 03 <
    04 … in the same second), whatever order the packages were processed in (R-6.1)."""
    def order(status: dict) -> tuple[dt.datetime, str]:
        at = status["at"]
        return (at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)), status["code"]

    return max(statuses, key=order)


# R-4.2a: issued the day it is signed, at the latest the next working morning.
MORNING_ENDS = dt.time(12, 0)


def issue_deadline(leader_signed_at: dt.datetime, calendar: WorkCalendar) -> dt.datetime:
    """The end of the next working morning after the day of the leader's signature (Vietnam time)."""
    next_day = calendar.next_working_day(to_vn(leader_signed_at).date())
    return dt.datetime.combine(next_day, MORNING_ENDS, tzinfo=VN_TZ)


def issue_standing(document: dict, now: dt.datetime) -> str | None:
    """"on_time", "late" (issued after the deadline), "overdue" (still not issued past it),
    "due" (not yet issued, still in time) — or None before the leader signed."""
    due = document.get("issue_due_at")
    if not due:
        return None
    due = to_vn(due)
    if document.get("issued_at"):
        return "on_time" if to_vn(document["issued_at"]) <= due else "late"
    if document.get("state") in (OutgoingState.SIGNATURE_REFUSED, OutgoingState.CANCELLED):
        return None  # stopped on purpose; the refusal or cancellation is its own record
    return "overdue" if to_vn(now) > due else "due"


RECALL_ANSWERS = {"15": "agreed", "16": "refused"}


def recall_problems(document: dict, *, by_role: str | None, reason: str) -> list[str]:
    """R-7.4: what stops a recall, in Vietnamese. Only an issued document is recalled, once, on
    the decision of the chairman or a vice-chairman, with the reason the recipients will read."""
    problems = []
    if document.get("state") != OutgoingState.ISSUED:
        problems.append("Chỉ thu hồi được văn bản đã phát hành.")
    if document.get("recall"):
        problems.append("Văn bản đã được thu hồi trước đó.")
    if by_role not in ("chairman", "vice_chairman"):
        problems.append("Việc thu hồi văn bản do Chủ tịch hoặc Phó Chủ tịch UBND xã quyết định.")
    if not reason.strip():
        problems.append("Ghi lý do thu hồi để nơi nhận biết.")
    return problems


def replies_owed(document: dict, today: dt.date) -> dict | None:
    """R-7.5, R-10.3: for a document that asks for a reply by a date, who has not answered, and
    whether the date has passed. None when no reply is asked or everyone answered."""
    if not document.get("due_date") or document.get("state") != OutgoingState.ISSUED:
        return None
    due = dt.date.fromisoformat(document["due_date"])
    owed = [d for d in document.get("deliveries", []) if not d.get("replied")]
    if not owed:
        return None
    return {"due_date": due.isoformat(), "overdue": today > due, "days_left": (due - today).days,
            "owed_by": [{"organ_id": d["organ_id"], "name": d["name"]} for d in owed]}


def cancel_problems(document: dict, *, by_role: str | None, reason: str) -> list[str]:
    """R-7.2b: a number given to a document that will not be issued is cancelled, never reused.
    Only a document not yet issued can be cancelled, by the clerk or a leader, with a reason."""
    problems = []
    if document.get("state") in (OutgoingState.ISSUED, OutgoingState.CANCELLED):
        problems.append("Văn bản đã phát hành (hãy thu hồi) hoặc đã hủy." if document["state"] == OutgoingState.ISSUED
                        else "Văn bản đã hủy trước đó.")
    if by_role not in ("clerk", "chairman", "vice_chairman"):
        problems.append("Văn thư hoặc lãnh đạo UBND xã mới được hủy văn bản đi.")
    if not reason.strip():
        problems.append("Ghi lý do hủy.")
    return problems


LEADER_ROLES = ("chairman", "vice_chairman")


def approval_problems(document: dict, *, by_user: str, by_role: str | None, approving: bool, reason: str = "") -> list[str]:
    """R-7.1, R-8.2: what stops a leader approving (or returning) a document the clerk handed in.
    Only the leader the clerk named decides, while it waits; a return says why."""
    problems = []
    if by_role not in LEADER_ROLES:
        problems.append("Chỉ lãnh đạo UBND xã duyệt văn bản để ký số.")
    if document.get("state") != OutgoingState.AWAITING_APPROVAL:
        problems.append("Văn bản không ở trạng thái chờ lãnh đạo duyệt.")
    asked_of = (document.get("approval") or {}).get("asked_of")
    if asked_of and by_user != asked_of:
        problems.append(f"Văn thư trình văn bản này cho {asked_of}; chỉ người đó duyệt hoặc trả lại.")
    if not approving and not reason.strip():
        problems.append("Ghi lý do trả lại để văn thư biết.")
    return problems


def already_decided(document: dict, *, by_user: str, approving: bool) -> bool:
    """The same leader's same decision arriving again (a retried call): answered, not refused."""
    approval = document.get("approval") or {}
    return approval.get("decided_by") == by_user and approval.get("approved") is approving


def needs_redelivery(delivery: dict, now: dt.datetime, *, after: dt.timedelta, max_times: int) -> bool:
    """R-7.4: accepted by the axis, no acknowledgement (01) from the recipient after `after`,
    re-sent fewer than `max_times` times. The recipient's system recognises the same DocumentId
    and registers it once."""
    if delivery.get("channel") == "outside" or delivery.get("transport_state") != "accepted":
        return False
    if delivery.get("business_statuses"):
        return False
    redeliveries = delivery.get("redeliveries") or []
    if len(redeliveries) >= max_times:
        return False
    since = redeliveries[-1]["at"] if redeliveries else delivery.get("transport_at")
    return since is not None and to_vn(now) - to_vn(since) >= after
