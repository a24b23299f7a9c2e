"""Reports from dispatch's own records (R-9.4, R-12.4, R-12.6, R-4.2a, R-7.5), pure rules: given
the stored drafts and outgoing documents and a period, the figures.

Per officer (the author of the drafts, R-12.4):
- `drafts_written`: drafts they created in the period; `drafts_submitted`, `drafts_returned`,
  `drafts_approved`: drafts submitted by them, returned to them with comments, approved, in the
  period (each draft once per kind of event, however many rounds it went through);
- `issued`: outgoing documents made from their drafts and issued in the period;
- `replies_awaited` (R-7.5, R-10.3): their issued documents asking for a reply by a date that some
  recipient has not answered at the end of the period (or now); `replies_awaited_overdue`: past the date.

Yearly (R-12.6): outgoing issued (by kind, urgent), issued on time or late against R-4.2a (the
next working morning after the leader's signature, `domain/outgoing.py`), signed and still not
issued past that deadline, paper copies (R-5.2) required and sent, deliveries outside the system
(R-5.1), recalls with the recipients' answers, cancelled numbers, the clerk's format returns,
drafts, and the replies asked for.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable

from services.dispatch.domain.outgoing import OutgoingState, issue_standing
from services.dispatch.domain.register import URGENCY
from shared.clock import to_vn
from shared.report_period import Period, rate, moment

OFFICER_FIGURES = ("drafts_written", "drafts_submitted", "drafts_returned", "drafts_approved", "issued",
                   "replies_awaited", "replies_awaited_overdue")
FIGURE_LABELS_VI = {
    "drafts_written": "Dự thảo đã soạn", "drafts_submitted": "Dự thảo đã trình", "drafts_returned": "Dự thảo bị trả lại",
    "drafts_approved": "Dự thảo được duyệt", "issued": "Văn bản đi đã phát hành",
    "replies_awaited": "Chờ nơi nhận trả lời (R-7.5)", "replies_awaited_overdue": "Chờ trả lời quá hạn",
}


def empty_figures() -> dict:
    return {name: 0 for name in OFFICER_FIGURES}


def _events(draft: dict, action: str) -> list[dt.datetime]:
    return [m for h in draft.get("history", []) if h.get("action") == action and (m := moment(h.get("at")))]


def replies_standing(document: dict, as_of: dt.datetime) -> tuple[bool, bool] | None:
    """(some recipient still owes a reply at `as_of`, and its date has passed), or None when the
    document asks for no reply or was not issued by then. A reply counts from its registration."""
    if not document.get("due_date") or document.get("state") != OutgoingState.ISSUED:
        return None
    issued = moment(document.get("issued_at"))
    if issued is None or issued >= as_of:
        return None
    owed = [d for d in document.get("deliveries", [])
            if not d.get("replied") or (moment(d["replied"].get("registered_at")) or as_of) > as_of]
    if not owed:
        return False, False
    return True, to_vn(as_of).date() > dt.date.fromisoformat(document["due_date"][:10])


def officer_report(drafts: Iterable[dict], outgoing: Iterable[dict], period: Period, *, now: dt.datetime,
                   officers: Iterable[str] | None = None) -> dict[str, dict]:
    as_of = period.as_of(now)
    wanted = set(officers) if officers is not None else None
    rows: dict[str, dict] = {o: empty_figures() for o in (wanted or ())}
    author_of: dict[str, str] = {}
    for draft in drafts:
        author = draft.get("author")
        author_of[draft["_id"]] = author
        if wanted is not None and author not in wanted:
            continue
        row = rows.setdefault(author, empty_figures())
        row["drafts_written"] += period.contains(draft.get("created_at"))
        for action, name in (("submitted", "drafts_submitted"), ("returned", "drafts_returned"), ("approved", "drafts_approved")):
            row[name] += any(period.contains(m) for m in _events(draft, action))
    for document in outgoing:
        author = author_of.get(document.get("draft_id") or "")
        if author is None or (wanted is not None and author not in wanted):
            continue
        row = rows.setdefault(author, empty_figures())
        if document.get("state") == OutgoingState.ISSUED and period.contains(document.get("issued_at")):
            row["issued"] += 1
        standing = replies_standing(document, as_of)
        if standing and standing[0]:
            row["replies_awaited"] += 1
            row["replies_awaited_overdue"] += standing[1]
    return rows


def yearly_report(drafts: Iterable[dict], outgoing: Iterable[dict], period: Period, *, now: dt.datetime) -> dict:
    as_of = period.as_of(now)
    by_kind, urgent_by_level, recall_answers = Counter(), Counter(), Counter()
    issued = on_time = late = overdue = cancelled = clerk_returns = signature_refused = 0
    paper_required = paper_sent = outside = recalls = asked = answered = still_owed = owed_overdue = 0
    for document in outgoing:
        state = document.get("state")
        issued_at = moment(document.get("issued_at"))
        if state == OutgoingState.ISSUED and period.contains(issued_at):
            issued += 1
            by_kind[(document.get("type_name") or "").strip() or "Không ghi loại"] += 1
            if int(document.get("urgency") or 0) > 0:
                urgent_by_level[URGENCY.get(int(document["urgency"]), "Khẩn")] += 1
            standing = issue_standing(document, as_of)
            on_time += standing == "on_time"
            late += standing == "late"
            for delivery in document.get("deliveries", []):
                outside += delivery.get("channel") == "outside"
                paper = delivery.get("paper") or {}
                if paper.get("required"):
                    paper_required += 1
                    paper_sent += paper.get("state") == "sent"
            if document.get("due_date"):
                asked += 1
                standing_replies = replies_standing(document, as_of)
                if standing_replies is not None:
                    if standing_replies[0]:
                        still_owed += 1
                        owed_overdue += standing_replies[1]
                    else:
                        answered += 1
        # Signed, still not issued past the deadline at the end of the period (R-4.2a).
        due = moment(document.get("issue_due_at"))
        if (due is not None and period.contains(due) and due < as_of and state not in
                (OutgoingState.SIGNATURE_REFUSED, OutgoingState.CANCELLED)
                and (issued_at is None or issued_at >= as_of)):
            overdue += 1
        if period.contains((document.get("cancellation") or {}).get("at")):
            cancelled += 1
        if state == OutgoingState.RETURNED_BY_CLERK and period.contains((document.get("format_check") or {}).get("at")):
            clerk_returns += 1
        if state == OutgoingState.SIGNATURE_REFUSED and period.contains(document.get("created_at")):
            signature_refused += 1
        recall = document.get("recall") or {}
        if period.contains(recall.get("requested_at")):
            recalls += 1
            for delivery in document.get("deliveries", []):
                recall_answers[delivery.get("recall_state") or "requested"] += 1
    written = submitted = returned = approved = 0
    for draft in drafts:
        written += period.contains(draft.get("created_at"))
        submitted += any(period.contains(m) for m in _events(draft, "submitted"))
        returned += any(period.contains(m) for m in _events(draft, "returned"))
        approved += any(period.contains(m) for m in _events(draft, "approved"))
    return {
        "outgoing": {
            "issued": issued, "issued_by_kind": dict(by_kind.most_common()),
            "urgent": sum(urgent_by_level.values()), "urgent_by_level": dict(urgent_by_level.most_common()),
            "issued_on_time": on_time, "issued_late": late, "on_time_rate": rate(on_time, on_time + late),
            "not_issued_past_deadline": overdue,
            "paper_copies_required": paper_required, "paper_copies_sent": paper_sent,
            "paper_copies_pending": paper_required - paper_sent, "deliveries_outside_system": outside,
            "recalled": recalls, "recall_answers": dict(sorted(recall_answers.items())),
            "cancelled": cancelled, "returned_by_clerk": clerk_returns, "signature_refused": signature_refused,
            "replies_asked": asked, "replies_complete": answered, "replies_owed": still_owed,
            "replies_owed_overdue": owed_overdue,
        },
        "drafts": {"written": written, "submitted": submitted, "returned": returned, "approved": approved},
    }
