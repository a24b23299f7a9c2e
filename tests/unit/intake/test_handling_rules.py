"""Assignment and handling rules (R-6.3, R-6.4, R-10.3), pure: no store, no broker."""

from __future__ import annotations

import datetime as dt

import pytest

from services.intake.domain import handling as rules
from services.intake.domain.handling import HandlingError, TaskRequest
from shared.clock import VN_TZ
from shared.config import Settings
from shared.staff import load_staff
from shared.workdays import load_calendar

STAFF = load_staff(Settings().staff_file)
CALENDAR = load_calendar(Settings().holiday_calendar_file)
MONDAY = dt.datetime(2026, 11, 23, 8, 0, tzinfo=VN_TZ)


def registered(**metadata) -> dict:
    return {"_id": "d1", "state": "registered", "metadata": {"code": "15/QĐ-UBND", **metadata},
            "handling": rules.awaiting_assignment()}


def assign(document, *, by="chutich", lead=TaskRequest("cc.tuphap", 3), cooperating=(), note="Đề nghị xử lý", reply_due=None,
           now=MONDAY):
    changes = rules.plan_assignment(document, by=by, lead=lead, cooperating=list(cooperating), note=note, reply_due=reply_due,
                                    staff=STAFF, calendar=CALENDAR, now=now)
    document.update(changes)
    return document


def test_the_chairman_assigns_one_lead_and_cooperating_officers_with_a_deadline_each():
    doc = assign(registered(), cooperating=[TaskRequest("cc.diachinh", due_date=dt.date(2026, 12, 4))])
    assert doc["handling"]["state"] == "assigned"
    assert [(t["officer"], t["role"]) for t in doc["assignment"]["tasks"]] == [("cc.tuphap", "lead"), ("cc.diachinh", "cooperating")]
    assert doc["assignment"]["lead_officer"] == "cc.tuphap" and doc["assignment"]["note"] == "Đề nghị xử lý"
    # A deadline in working days starts only when the officer receives the document.
    assert doc["assignment"]["tasks"][0]["deadline"] is None


@pytest.mark.parametrize("kwargs, words", [
    ({"by": "cc.vanphong"}, "Chủ tịch hoặc Phó Chủ tịch"),
    ({"by": "khongco"}, "Chủ tịch hoặc Phó Chủ tịch"),
    ({"lead": TaskRequest("nobody", 3)}, "Không có cán bộ"),
    ({"lead": TaskRequest("luutru", 3)}, "không phải người xử lý"),
    ({"lead": TaskRequest("cc.tuphap")}, "một trong hai"),
    ({"lead": TaskRequest("cc.tuphap", 3, dt.date(2026, 12, 1))}, "một trong hai"),
    ({"lead": TaskRequest("cc.tuphap", 0)}, "từ 1 đến"),
    ({"lead": TaskRequest("cc.tuphap", due_date=dt.date(2026, 11, 1))}, "đã qua"),
    ({"cooperating": [TaskRequest("cc.tuphap", 2)]}, "một lần"),
])
def test_bad_assignments_are_refused_with_a_reason_in_vietnamese(kwargs, words):
    with pytest.raises(HandlingError, match=words):
        assign(registered(), **kwargs)


def test_only_a_registered_open_document_can_be_assigned():
    with pytest.raises(HandlingError) as refused:
        assign({**registered(), "state": "recalled"})
    assert refused.value.conflict


def test_the_deadline_runs_from_receipt_in_working_days():
    doc = assign(registered())
    friday = dt.datetime(2026, 11, 27, 16, 0, tzinfo=VN_TZ)
    changes, starts = rules.receive(doc, "cc.tuphap", now=friday, calendar=CALENDAR)
    assert starts and changes["handling"]["state"] == "in_progress"
    task = rules.find_task(changes, "cc.tuphap")
    assert task["deadline"] == dt.datetime(2026, 12, 2, 23, 59, 59, tzinfo=VN_TZ)  # Mon, Tue, Wed
    doc.update(changes)
    assert rules.receive(doc, "cc.tuphap", now=friday + dt.timedelta(days=1), calendar=CALENDAR) == ({}, False)


def test_a_document_asking_for_a_reply_keeps_its_reply_deadline():
    """R-10.3: no officer's deadline runs past the reply date the sender set."""
    doc = assign(registered(due_date="2026-11-25"), lead=TaskRequest("cc.tuphap", 10))
    assert doc["handling"]["reply_required"] and doc["handling"]["reply_due"] == "2026-11-25"
    changes, _ = rules.receive(doc, "cc.tuphap", now=MONDAY, calendar=CALENDAR)
    assert rules.find_task(changes, "cc.tuphap")["deadline"].date() == dt.date(2026, 11, 25)
    with pytest.raises(HandlingError, match="muộn hơn hạn trả lời"):
        assign(registered(due_date="2026-11-25"), lead=TaskRequest("cc.tuphap", due_date=dt.date(2026, 11, 30)))


def test_progress_and_completion_and_where_each_task_stands():
    doc = assign(registered(), cooperating=[TaskRequest("cc.diachinh", 1)])
    with pytest.raises(HandlingError, match="nhận văn bản trước"):
        rules.complete(doc, "cc.tuphap", "xong", now=MONDAY)
    assert rules.standing(rules.find_task(doc, "cc.tuphap"), now=MONDAY, calendar=CALENDAR) == "not_received"
    doc.update(rules.receive(doc, "cc.tuphap", now=MONDAY, calendar=CALENDAR)[0])
    doc.update(rules.receive(doc, "cc.diachinh", now=MONDAY, calendar=CALENDAR)[0])
    lead = rules.find_task(doc, "cc.tuphap")
    assert rules.standing(lead, now=MONDAY, calendar=CALENDAR) == "in_progress"  # due Thursday
    assert rules.standing(lead, now=MONDAY + dt.timedelta(days=2), calendar=CALENDAR) == "due_soon"
    assert rules.standing(lead, now=MONDAY + dt.timedelta(days=4), calendar=CALENDAR) == "overdue"
    doc.update(rules.record_progress(doc, "cc.tuphap", "Đã làm việc với thôn", now=MONDAY))
    assert lead["progress"][0]["note"] == "Đã làm việc với thôn"
    # The cooperating officer finishes late: their part is done, the document is not.
    changes, done = rules.complete(doc, "cc.diachinh", "Đã phối hợp", now=MONDAY + dt.timedelta(days=3))
    assert not done and rules.find_task(changes, "cc.diachinh")["on_time"] is False
    doc.update(changes)
    changes, done = rules.complete(doc, "cc.tuphap", "Đã báo cáo", now=MONDAY + dt.timedelta(days=1))
    assert done and changes["handling"]["state"] == "completed" and changes["handling"]["completed_on_time"]
    doc.update(changes)
    with pytest.raises(HandlingError, match="đã xử lý xong"):
        rules.record_progress(doc, "cc.tuphap", "thêm", now=MONDAY)


def test_reassignment_keeps_history_and_what_officers_already_received():
    doc = assign(registered())
    doc.update(rules.receive(doc, "cc.tuphap", now=MONDAY, calendar=CALENDAR)[0])
    received_at = rules.find_task(doc, "cc.tuphap")["received_at"]
    doc = assign(doc, by="phochutich", cooperating=[TaskRequest("cc.tuphap", 2)], lead=TaskRequest("cc.vanphong", 4))
    assert [h["lead_officer"] for h in doc["assignment"]["history"]] == ["cc.tuphap"]
    assert rules.find_task(doc, "cc.tuphap")["received_at"] == received_at
    assert doc["handling"]["state"] == "assigned"  # the new lead has not received it yet
