"""R-6.3, R-5.3: the clerk checks an arrival and sends it to the chairman; pure rules."""

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
NOW = dt.datetime(2026, 11, 23, 8, 0, tzinfo=VN_TZ)


def registered() -> dict:
    return {"_id": "d1", "state": "registered", "metadata": {"code": "15/QĐ-UBND"}, "handling": rules.awaiting_assignment()}


def test_the_clerk_forwards_once_and_the_record_survives_the_assignment():
    doc = registered()
    doc.update(rules.plan_forwarding(doc, by="vanthu", note="  Đề nghị Chủ tịch cho ý kiến ", staff=STAFF, now=NOW))
    forwarded = doc["handling"]["forwarded"]
    assert (forwarded["by"], forwarded["note"], forwarded["at"]) == ("vanthu", "Đề nghị Chủ tịch cho ý kiến", NOW)
    assert doc["handling"]["state"] == "awaiting_assignment"  # still in the chairman's queue
    assert rules.plan_forwarding(doc, by="vanthu", note="lần nữa", staff=STAFF, now=NOW) == {}
    doc.update(rules.plan_assignment(doc, by="chutich", lead=TaskRequest("cc.tuphap", 3), cooperating=[], note="",
                                     reply_due=None, staff=STAFF, calendar=CALENDAR, now=NOW))
    assert doc["handling"]["state"] == "assigned" and doc["handling"]["forwarded"]["by"] == "vanthu"


@pytest.mark.parametrize("user", ["chutich", "cc.tuphap", "luutru", "nobody"])
def test_only_the_clerk_forwards(user):
    with pytest.raises(HandlingError, match="Chỉ văn thư"):
        rules.plan_forwarding(registered(), by=user, note="", staff=STAFF, now=NOW)


def test_a_refused_or_finished_document_is_not_forwarded():
    with pytest.raises(HandlingError):
        rules.plan_forwarding({**registered(), "state": "refused"}, by="vanthu", note="", staff=STAFF, now=NOW)
    done = {**registered(), "handling": {"state": "completed"}}
    with pytest.raises(HandlingError, match="xử lý xong"):
        rules.plan_forwarding(done, by="vanthu", note="", staff=STAFF, now=NOW)
