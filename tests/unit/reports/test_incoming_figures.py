"""Per-officer and yearly figures of incoming documents (R-12.4, R-12.6, R-6.3, R-6.4, R-10.3),
pure: documents assigned, received and completed with the real handling rules, then counted.
Deadlines in working days over the shipped holiday calendar; periods are whole days, Vietnam time."""

from __future__ import annotations

import copy
import datetime as dt

from services.intake.domain import handling as rules
from services.intake.domain import reports
from services.intake.domain.handling import TaskRequest
from shared.clock import UTC, VN_TZ
from shared.config import Settings
from shared.report_period import Period
from shared.staff import load_staff
from shared.workdays import load_calendar

STAFF = load_staff(Settings().staff_file)
CALENDAR = load_calendar(Settings().holiday_calendar_file)
APRIL = Period(dt.date(2026, 4, 1), dt.date(2026, 4, 30))
LATER = dt.datetime(2026, 12, 1, 9, 0, tzinfo=VN_TZ)  # "now", well after the periods


def vn(day: str, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), tzinfo=VN_TZ)


def document(key: str = "d1", *, due_date: str | None = None, type_name: str = "Công văn", **extra) -> dict:
    return {"_id": key, "state": "registered", "register": {"year": 2026, "number": 1},
            "metadata": {"code": f"{key}/UBND", "subject": f"Văn bản {key}", "due_date": due_date, "type_name": type_name},
            "handling": rules.awaiting_assignment(), **extra}


def assign(doc: dict, at: dt.datetime, *, lead=TaskRequest("cc.tuphap", 1), cooperating=(), reply_due=None) -> dict:
    doc.update(rules.plan_assignment(doc, by="chutich", lead=lead, cooperating=list(cooperating), note="", reply_due=reply_due,
                                     staff=STAFF, calendar=CALENDAR, now=at))
    return doc


def receive(doc: dict, officer: str, at: dt.datetime) -> dict:
    changes, _ = rules.receive(doc, officer, now=at, calendar=CALENDAR)
    doc.update(changes)
    return doc


def complete(doc: dict, officer: str, at: dt.datetime) -> dict:
    changes, _ = rules.complete(doc, officer, "xong", now=at)
    doc.update(changes)
    return doc


def row(documents, period=APRIL, now=LATER, officer="cc.tuphap") -> dict:
    return reports.officer_report(copy.deepcopy(documents), period, now=now, calendar=CALENDAR, officers=[officer])[officer]


def handled(key: str, completed_at: dt.datetime) -> dict:
    """Received Friday 24/04 afternoon with one working day: Monday 27/04 is the compensatory day
    off for Giỗ Tổ, so the deadline is the end of Tuesday 28/04."""
    doc = receive(assign(document(key), vn("2026-04-24", 14)), "cc.tuphap", vn("2026-04-24", 15))
    return complete(doc, "cc.tuphap", completed_at)


def test_on_time_and_late_are_judged_in_working_days_over_the_holiday_calendar():
    on_time = handled("a", vn("2026-04-28", 23, 30))  # two calendar days after Monday, still in time
    late = handled("b", vn("2026-04-29", 7, 30))
    assert on_time["assignment"]["tasks"][0]["deadline"] == dt.datetime(2026, 4, 28, 23, 59, 59, tzinfo=VN_TZ)
    figures = row([on_time, late])
    assert (figures["received"], figures["on_time"], figures["late"]) == (2, 1, 1)
    assert figures["outstanding"] == figures["overdue"] == 0
    assert figures["on_time_rate"] == 50.0


def test_a_completion_without_its_recorded_verdict_is_judged_against_the_deadline():
    doc = handled("a", vn("2026-04-29", 7, 30))
    del doc["assignment"]["tasks"][0]["on_time"]
    assert row([doc])["late"] == 1


def test_outstanding_and_overdue_at_the_end_of_the_period():
    received = receive(assign(document("r"), vn("2026-04-24", 14)), "cc.tuphap", vn("2026-04-24", 15))  # due 28/04
    not_received = assign(document("n"), vn("2026-04-24", 14), lead=TaskRequest("cc.tuphap", 5))  # no clock yet
    fixed = assign(document("f"), vn("2026-04-20", 14), lead=TaskRequest("cc.tuphap", due_date=dt.date(2026, 4, 22)))
    documents = [received, not_received, fixed]

    figures = row(documents)  # at the end of April
    assert figures["received"] == figures["outstanding"] == 3
    assert figures["not_received"] == 2
    assert figures["overdue"] == 2  # the received one past 28/04, the fixed date 22/04 even unreceived
    assert [i["id"] for i in figures["overdue_items"]] == ["f", "r"]  # the oldest deadline first

    # Standing figures of a period that has not ended are taken now: on 28/04 at noon only the fixed date is past.
    now = vn("2026-04-28", 12)
    assert row(documents, now=now)["overdue"] == 1
    # On the deadline's last second the task is not yet overdue.
    assert row(documents, now=dt.datetime(2026, 4, 28, 23, 59, 59, tzinfo=VN_TZ))["overdue"] == 1


def test_a_task_completed_after_the_period_was_outstanding_at_its_end():
    doc = handled("a", vn("2026-05-04", 10))  # late, in May
    april, may = row([doc]), row([doc], period=Period(dt.date(2026, 5, 1), dt.date(2026, 5, 31)))
    assert (april["received"], april["late"], april["outstanding"], april["overdue"]) == (1, 0, 1, 1)
    assert (may["received"], may["late"], may["outstanding"]) == (0, 1, 0)


def test_period_boundaries_are_whole_days_in_vietnam_time():
    # 31/03 23:30 in Vietnam is 16:30 UTC the same day; 01/04 00:00 in Vietnam is 31/03 17:00 UTC.
    march_end = assign(document("m"), dt.datetime(2026, 3, 31, 16, 30, tzinfo=UTC))
    april_start = assign(document("a"), dt.datetime(2026, 3, 31, 17, 0, tzinfo=UTC))
    april_end = assign(document("e"), vn("2026-04-30", 23, 59))
    may_start = assign(document("s"), vn("2026-05-01", 0, 0))
    figures = row([march_end, april_start, april_end, may_start])
    assert figures["received"] == 2  # 01/04 00:00 and 30/04 23:59, both ends included
    assert figures["outstanding"] == 3  # given by the end of April (the May one not yet)
    one_day = Period(dt.date(2026, 3, 31), dt.date(2026, 3, 31))
    assert row([march_end, april_start], period=one_day)["received"] == 1


def test_replies_owed_by_the_lead_until_completed_and_overdue_after_the_reply_date():
    asks = assign(document("q", due_date="2026-04-10"), vn("2026-04-01"),
                  lead=TaskRequest("cc.tuphap", 3), cooperating=[TaskRequest("cc.diachinh", 2)])
    assert asks["handling"]["reply_required"]
    lead, cooperating = row([asks]), row([asks], officer="cc.diachinh")
    assert (lead["replies_owed"], lead["replies_overdue"]) == (1, 1)
    assert cooperating["replies_owed"] == 0 and cooperating["received"] == 1  # the lead answers
    assert row([asks], now=vn("2026-04-09"))["replies_overdue"] == 0
    receive(asks, "cc.tuphap", vn("2026-04-02"))
    complete(asks, "cc.tuphap", vn("2026-04-03"))
    assert row([asks])["replies_owed"] == 0


def test_a_cooperating_part_left_open_closes_with_the_document():
    doc = assign(document("c"), vn("2026-04-01"), lead=TaskRequest("cc.tuphap", 3), cooperating=[TaskRequest("cc.diachinh", 1)])
    receive(doc, "cc.diachinh", vn("2026-04-01", 10))  # due 02/04
    receive(doc, "cc.tuphap", vn("2026-04-01", 10))
    complete(doc, "cc.tuphap", vn("2026-04-10"))  # the document is done; her part can no longer change
    cooperating = row([doc], officer="cc.diachinh")
    assert (cooperating["received"], cooperating["on_time"], cooperating["late"], cooperating["outstanding"]) == (1, 0, 0, 0)
    early = row([doc], period=Period(dt.date(2026, 4, 1), dt.date(2026, 4, 5)), officer="cc.diachinh")
    assert (early["outstanding"], early["overdue"]) == (1, 1)  # before that it was hers, and late


def test_a_reassignment_is_not_counted_twice_and_a_recalled_document_is_no_ones_work():
    doc = assign(document("x"), vn("2026-03-30"))  # given in March
    receive(doc, "cc.tuphap", vn("2026-03-31"))
    assign(doc, vn("2026-04-02"), lead=TaskRequest("cc.tuphap", 5))  # reassigned in April, same officer
    figures = row([doc])
    assert figures["received"] == 0 and figures["outstanding"] == 1
    recalled = {**assign(document("y"), vn("2026-04-02")), "state": "recalled", "recalled_at": vn("2026-04-03")}
    assert row([recalled])["received"] == 0


def test_an_officer_with_nothing_has_a_row_of_zeros_and_everyone_is_listed_otherwise():
    doc = assign(document("z"), vn("2026-04-02"), cooperating=[TaskRequest("cc.diachinh", 2)])
    assert reports.officer_report([doc], APRIL, now=LATER, calendar=CALENDAR, officers=["cc.vanphong"]) == {
        "cc.vanphong": {**reports.empty_figures(), "overdue_items": [], "on_time_rate": None}}
    assert set(reports.officer_report([doc], APRIL, now=LATER, calendar=CALENDAR)) == {"cc.tuphap", "cc.diachinh"}


def refused(key: str, *failed: str) -> dict:
    labels = {"signature": "Chữ ký số", "attachment_format": "Định dạng tệp đính kèm", "sender_known": "Nơi gửi"}
    return {"_id": key, "state": "refused", "arrived_at": vn("2026-06-01"),
            "verification": {"checks": [{"name": n, "outcome": "failed", "label_vi": labels[n]} for n in failed]
                             + [{"name": "structure", "outcome": "passed", "label_vi": "Cấu trúc"}]}}


def test_the_yearly_report_counts_arrivals_registrations_refusals_by_reason_urgency_paper_and_recalls():
    year = Period.year(2026)

    def reg(key, at, **kw):
        return document(key, arrived_at=at, registered_at=at, **kw)

    done = complete(receive(assign(reg("a", vn("2026-02-02")), vn("2026-02-02")), "cc.tuphap", vn("2026-02-02", 10)),
                    "cc.tuphap", vn("2026-02-03"))
    late = complete(receive(assign(reg("b", vn("2026-02-02")), vn("2026-02-02")), "cc.tuphap", vn("2026-02-02", 10)),
                    "cc.tuphap", vn("2026-02-10"))
    urgent = reg("c", vn("2026-03-02"), type_name="Quyết định", urgent=True, priority=3)
    urgent["metadata"]["priority"] = 3
    paper = reg("d", vn("2026-03-03"), source="paper")
    recalled = {**reg("e", vn("2026-03-04")), "state": "recalled", "recalled_at": vn("2026-03-05")}
    last_year = reg("f", vn("2025-12-31", 23, 59))
    documents = [done, late, urgent, paper, recalled, last_year,
                 refused("r1", "signature"), refused("r2", "signature", "attachment_format"), refused("r3", "sender_known")]
    recalls = [{"kind": "recall", "state": "agreed", "received_at": vn("2026-03-05")},
               {"kind": "recall", "state": "refused", "received_at": vn("2026-03-06")},
               {"kind": "update", "state": "agreed", "received_at": vn("2026-03-07")},
               {"kind": "recall", "state": "agreed", "received_at": vn("2025-12-30")}]
    report = reports.yearly_report(documents, recalls, year, now=LATER, calendar=CALENDAR)
    incoming = report["incoming"]
    assert incoming["received"] == 8 and incoming["received_paper"] == 1
    assert incoming["registered"] == 5 and incoming["registered_by_kind"] == {"Công văn": 4, "Quyết định": 1}
    assert incoming["refused"] == 3
    assert incoming["refused_by_reason"] == {"Chữ ký số": 2, "Định dạng tệp đính kèm": 1, "Nơi gửi": 1}
    assert incoming["urgent"] == 1 and incoming["urgent_by_level"] == {"Hỏa tốc": 1}
    assert incoming["digitised"] == 1 and incoming["recalled"] == 1
    assert incoming["recall_requests"] == {"recall": {"agreed": 1, "refused": 1, "total": 2},
                                           "update": {"agreed": 1, "refused": 0, "total": 1}}
    assignments = report["assignments"]
    assert (assignments["documents_assigned"], assignments["completed_on_time"], assignments["completed_late"]) == (2, 1, 1)
    assert assignments["on_time_rate"] == 50.0 and assignments["outstanding"] == 0
