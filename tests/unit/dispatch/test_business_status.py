"""A delivery stands at its latest status in business order, whatever order the status packages
were processed in (R-6.1; found in CI: 03 processed 10 ms before 01 left the delivery 'received')."""

from __future__ import annotations

import datetime as dt

from services.dispatch.domain.outgoing import business_state, latest_business_status

UTC = dt.timezone.utc


def status(code: str, at: dt.datetime) -> dict:
    return {"code": code, "state": business_state(code), "at": at}


def test_the_same_second_is_ordered_by_code_so_01_after_03_still_stands_at_accepted():
    second = dt.datetime(2026, 12, 3, 13, 55, 58, tzinfo=UTC)
    assert latest_business_status([status("03", second), status("01", second)])["state"] == "accepted"
    assert latest_business_status([status("01", second), status("03", second)])["state"] == "accepted"


def test_a_later_status_wins_over_a_higher_code_sent_earlier_and_naive_times_count_as_utc():
    earlier = dt.datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    later_naive = dt.datetime(2026, 12, 3, 9, 0)  # a stored time read back without its zone
    assert latest_business_status([status("05", earlier), status("06", later_naive), status("04", earlier)])["code"] == "06"
    assert latest_business_status([status("06", earlier), status("15", later_naive)])["state"] == "change_accepted"
