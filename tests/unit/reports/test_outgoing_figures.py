"""Per-officer and yearly figures of drafts and outgoing documents (R-12.4, R-12.6, R-4.2a, R-5.2,
R-7.5), pure: drafts moved with the real draft rules, issuing deadlines from the real R-4.2a rule."""

from __future__ import annotations

import datetime as dt

from services.dispatch.domain import drafts as draft_rules
from services.dispatch.domain import reports
from services.dispatch.domain.outgoing import issue_deadline
from services.signing.domain import reports as signing_reports
from shared.clock import VN_TZ
from shared.config import Settings
from shared.report_period import Period
from shared.staff import load_staff
from shared.workdays import load_calendar

STAFF = load_staff(Settings().staff_file)
CALENDAR = load_calendar(Settings().holiday_calendar_file)
MAY = Period(dt.date(2026, 5, 1), dt.date(2026, 5, 31))
LATER = dt.datetime(2026, 12, 1, 9, 0, tzinfo=VN_TZ)


def vn(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=VN_TZ)


def draft(key: str, author: str, created: dt.datetime, *, submitted=None, returned=None, approved=None) -> dict:
    d = {"_id": key, **draft_rules.new_draft(author=STAFF.get(author), version={"name": "a.pdf"}, fields={}, answers=[],
                                             now=created)}
    if submitted:
        d.update(draft_rules.submit(d, by=author, now=submitted))
    if returned:
        d.update(draft_rules.return_with_comments(d, leader=STAFF.get("chutich"), comment="Sửa lại", now=returned))
    if approved:
        if d["state"] != "submitted":
            d.update(draft_rules.submit(d, by=author, now=approved))
        d.update(draft_rules.approve(d, leader=STAFF.get("chutich"), key_of={"chairman": "chairman"}, now=approved)[0])
    return d


def outgoing(key: str, *, draft_id=None, signed: dt.datetime, issued: dt.datetime | None, state="issued", **extra) -> dict:
    return {"_id": key, "state": state, "type_name": "Công văn", "urgency": 0, "draft_id": draft_id, "created_at": signed,
            "issue_due_at": issue_deadline(signed, CALENDAR), "issued_at": issued, "deliveries": [], **extra}


def test_drafts_are_counted_per_author_once_per_kind_of_event_in_the_period():
    drafts = [draft("d1", "cc.tuphap", vn("2026-05-04"), submitted=vn("2026-05-04", 10)),
              draft("d2", "cc.tuphap", vn("2026-04-28"), submitted=vn("2026-04-29"), returned=vn("2026-05-02")),
              draft("d3", "cc.diachinh", vn("2026-05-05"))]
    rows = reports.officer_report(drafts, [], MAY, now=LATER)
    assert rows["cc.tuphap"]["drafts_written"] == 1  # d2 was written in April
    assert rows["cc.tuphap"]["drafts_submitted"] == 1 and rows["cc.tuphap"]["drafts_returned"] == 1
    assert rows["cc.diachinh"]["drafts_written"] == 1 and rows["cc.diachinh"]["drafts_submitted"] == 0
    only = reports.officer_report(drafts, [], MAY, now=LATER, officers=["cc.vanphong"])
    assert only == {"cc.vanphong": reports.empty_figures()}


def test_documents_issued_from_an_officers_drafts_and_replies_still_awaited():
    drafts = [draft("d1", "cc.tuphap", vn("2026-05-04"), approved=vn("2026-05-05"))]
    asks = outgoing("o1", draft_id="d1", signed=vn("2026-05-05"), issued=vn("2026-05-05", 15), due_date="2026-05-20",
                    deliveries=[{"organ_id": "A", "replied": {"registered_at": vn("2026-05-10")}}, {"organ_id": "B"}])
    not_ours = outgoing("o2", signed=vn("2026-05-05"), issued=vn("2026-05-05", 15))
    row = reports.officer_report(drafts, [asks, not_ours], MAY, now=LATER)["cc.tuphap"]
    assert (row["drafts_approved"], row["issued"], row["replies_awaited"], row["replies_awaited_overdue"]) == (1, 1, 1, 1)
    # In mid-May the date has not passed; B answering on 25/05 ends the wait from then on.
    assert reports.officer_report(drafts, [asks], MAY, now=vn("2026-05-15"))["cc.tuphap"]["replies_awaited_overdue"] == 0
    asks["deliveries"][1]["replied"] = {"registered_at": vn("2026-05-25")}
    assert reports.officer_report(drafts, [asks], Period(dt.date(2026, 5, 1), dt.date(2026, 5, 24)), now=LATER)[
        "cc.tuphap"]["replies_awaited"] == 1
    assert reports.officer_report(drafts, [asks], MAY, now=LATER)["cc.tuphap"]["replies_awaited"] == 0


def test_the_yearly_report_judges_issuing_against_the_next_working_morning():
    # Signed Wednesday 29/04 in the afternoon: 30/04 and 01/05 are holidays, so the deadline is
    # Monday 04/05 at noon (R-4.2a).
    signed = vn("2026-04-29", 16)
    assert issue_deadline(signed, CALENDAR) == dt.datetime(2026, 5, 4, 12, 0, tzinfo=VN_TZ)
    on_time = outgoing("a", signed=signed, issued=vn("2026-05-04", 11), urgency=2,
                       deliveries=[{"organ_id": "X", "paper": {"required": True, "state": "sent"}},
                                   {"organ_id": "Y", "channel": "outside", "paper": {"required": True, "state": "to_send"}}])
    late = outgoing("b", signed=signed, issued=vn("2026-05-04", 13))
    stuck = outgoing("c", signed=signed, issued=None, state="agency_signing")
    refused = outgoing("d", signed=signed, issued=None, state="signature_refused")
    recalled = outgoing("e", signed=vn("2026-06-01"), issued=vn("2026-06-01", 10),
                        recall={"requested_at": vn("2026-06-03")},
                        deliveries=[{"organ_id": "X", "recall_state": "agreed"}, {"organ_id": "Y", "recall_state": "refused"}])
    cancelled = outgoing("f", signed=vn("2026-06-01"), issued=None, state="cancelled", cancellation={"at": vn("2026-06-02")})
    drafts = [draft("d1", "cc.tuphap", vn("2026-05-04"), submitted=vn("2026-05-04", 10))]
    report = reports.yearly_report(drafts, [on_time, late, stuck, refused, recalled, cancelled], Period.year(2026), now=LATER)
    out = report["outgoing"]
    assert (out["issued"], out["issued_on_time"], out["issued_late"], out["on_time_rate"]) == (3, 2, 1, 66.7)
    assert out["not_issued_past_deadline"] == 1  # the stuck one; a refused signature or a cancellation is not
    assert out["urgent_by_level"] == {"Thượng khẩn": 1}
    assert (out["paper_copies_required"], out["paper_copies_sent"], out["paper_copies_pending"]) == (2, 1, 1)
    assert out["deliveries_outside_system"] == 1
    assert out["recalled"] == 1 and out["recall_answers"] == {"agreed": 1, "refused": 1}
    assert out["cancelled"] == 1 and out["signature_refused"] == 1
    assert report["drafts"] == {"written": 1, "submitted": 1, "returned": 0, "approved": 0}
    # Before the deadline passed the stuck one was not yet late.
    early = reports.yearly_report([], [stuck], Period.year(2026), now=vn("2026-05-04", 11))
    assert early["outgoing"]["not_issued_past_deadline"] == 0


def test_signatures_per_key_in_the_year_with_custody_and_level():
    at = vn("2026-03-02")
    rows = [{"key_label": "chairman", "role": "leader", "outcome": "signed", "level": "B-T", "custody": "holder", "at": at},
            {"key_label": "agency", "role": "agency", "outcome": "signed", "level": "B-T", "custody": "holder", "at": at},
            {"key_label": "agency", "role": "digitised", "outcome": "signed", "level": "B-B", "custody": "delegation:7", "at": at},
            {"key_label": "agency", "role": "agency", "outcome": "refused", "at": at},
            {"key_label": "agency", "role": "agency", "outcome": "signed", "level": "B-T", "custody": "holder",
             "at": vn("2025-12-31", 23)}]
    report = signing_reports.yearly_report(rows, Period.year(2026))["signatures"]
    assert (report["signed"], report["refused"]) == (3, 1)
    assert report["by_key"]["agency"] == {"signed": 2, "refused": 1, "by_role": {"agency": 1, "digitised": 1},
                                          "by_level": {"B-T": 1, "B-B": 1}, "by_custody": {"holder": 1, "delegation": 1}}
