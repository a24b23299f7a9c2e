"""Working-day deadlines (R-6.3, R-6.4): weekends and the operator's holiday calendar."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.clock import VN_TZ
from shared.config import Settings
from shared.workdays import CalendarError, WorkCalendar, load_calendar, parse_calendar

SHIPPED = load_calendar(Settings().holiday_calendar_file)


def test_the_shipped_calendar_knows_tet_and_national_days():
    assert not SHIPPED.is_working_day(dt.date(2026, 2, 17))  # mùng 1 Tết Bính Ngọ
    assert not SHIPPED.is_working_day(dt.date(2026, 9, 2))
    assert not SHIPPED.is_working_day(dt.date(2026, 4, 27))  # nghỉ bù Giỗ Tổ
    assert SHIPPED.is_working_day(dt.date(2026, 11, 25))  # an ordinary Wednesday


def test_deadline_skips_the_weekend_and_the_day_of_receipt_is_not_counted():
    calendar = WorkCalendar()
    friday_afternoon = dt.datetime(2026, 11, 27, 15, 0, tzinfo=VN_TZ)
    assert calendar.deadline(friday_afternoon, 1) == dt.datetime(2026, 11, 30, 23, 59, 59, tzinfo=VN_TZ)  # Monday
    assert calendar.deadline(friday_afternoon, 5).date() == dt.date(2026, 12, 4)


def test_deadline_runs_over_tet():
    """Received on Thursday 12/2/2026, 5 working days: 13/2, then Tết (16–20/2) is skipped."""
    received = dt.datetime(2026, 2, 12, 9, 0, tzinfo=VN_TZ)
    assert SHIPPED.deadline(received, 5).date() == dt.date(2026, 2, 26)
    assert WorkCalendar().deadline(received, 5).date() == dt.date(2026, 2, 19)  # without holidays it would be Tết


def test_utc_receipt_counts_in_vietnam_time():
    # 18:30 UTC on Friday is already Saturday 01:30 in Hà Nội: the count starts from Saturday.
    received = dt.datetime(2026, 11, 27, 18, 30, tzinfo=dt.timezone.utc)
    assert WorkCalendar().deadline(received, 1).date() == dt.date(2026, 11, 30)


def test_a_make_up_saturday_is_a_working_day():
    calendar = parse_calendar({"off": {"2026-05-04": "nghỉ bù"}, "working": {"2026-05-09": "làm bù"}})
    assert calendar.is_working_day(dt.date(2026, 5, 9)) and not calendar.is_working_day(dt.date(2026, 5, 4))


@pytest.mark.parametrize("data, words", [
    ({"off": {"2026-13-01": "x"}}, "bad date"),
    ({"working": {"2026-11-25": "x"}}, "not a Saturday or Sunday"),
    ({"off": ["2026-01-01"]}, "must map dates"),
    ({"off": {"2026-05-09": "x"}, "working": {"2026-05-09": "y"}}, "both"),
])
def test_a_broken_calendar_is_refused_with_the_entry_named(data, words):
    with pytest.raises(CalendarError, match=words):
        parse_calendar(data, "vn-holidays.json")


def test_the_operator_edits_the_file_and_it_is_read_again(tmp_path):
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps({"off": {}}))
    assert load_calendar(path).is_working_day(dt.date(2026, 11, 24))
    path.write_text(json.dumps({"off": {"2026-11-24": "Ngày Văn hóa Việt Nam"}}))
    import os
    os.utime(path, ns=(1, 2_000_000_000_000_000_000))
    assert not load_calendar(path).is_working_day(dt.date(2026, 11, 24))


@given(start=st.dates(dt.date(2026, 1, 1), dt.date(2027, 6, 30)), days=st.integers(1, 60))
def test_deadline_lands_on_a_working_day_with_exactly_n_working_days_after_receipt(start, days):
    end = SHIPPED.add_working_days(start, days)
    assert end > start and SHIPPED.is_working_day(end)
    assert SHIPPED.working_days_between(start, end) == days
