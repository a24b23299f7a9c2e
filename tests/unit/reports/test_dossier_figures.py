"""Per-keeper and yearly figures of dossiers (R-12.4 "archiving", R-12.6, R-10.5, R-11.1, R-11.3),
pure: dossiers with the history the archive's use cases write, counted per period, and the
period itself (whole days, Vietnam time, both ends included)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import HTTPException

from services.archive.domain import reports
from shared.auth import Principal
from shared.clock import VN_TZ
from shared.config import Settings
from shared.report_period import Period, PeriodError, period_of, request_year_part, visible_officers
from shared.staff import load_staff

STAFF = load_staff(Settings().staff_file)
JUNE = Period(dt.date(2026, 6, 1), dt.date(2026, 6, 30))
LATER = dt.datetime(2026, 12, 1, 9, 0, tzinfo=VN_TZ)


def vn(day: str, hour: int = 9) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), tzinfo=VN_TZ)


def dossier(code: str, keeper: str, *events: tuple[str, str], state: str = "open", **extra) -> dict:
    return {"_id": code, "creator": keeper, "state": state, "year": 2026,
            "history": [{"at": vn(day), "by": keeper, "action": action} for action, day in events], **extra}


def test_dossiers_per_keeper_opened_filed_closed_submitted_accepted_in_the_period():
    rows = reports.officer_report([
        dossier("A", "cc.tuphap", ("opened", "2026-05-20"), ("item_added", "2026-05-21"), ("item_added", "2026-06-02"),
                ("item_added", "2026-06-03"), ("closed", "2026-06-10"), ("submitted", "2026-06-11"),
                ("returned", "2026-06-12"), ("closed", "2026-06-15"), ("submitted", "2026-06-16"), ("accepted", "2026-07-01"),
                state="archival"),
        dossier("B", "cc.tuphap", ("opened", "2026-06-05")),
        dossier("C", "cc.diachinh", ("opened", "2026-06-05"), ("closed", "2026-06-06"), ("reopened", "2026-06-07")),
    ], JUNE, now=LATER)
    assert rows["cc.tuphap"] == {"opened": 1, "filed": 2, "closed": 1, "submitted": 1, "accepted": 0, "returned": 1,
                                 "open_at_end": 1}  # A closed and submitted twice: once each; B still open
    assert rows["cc.diachinh"]["open_at_end"] == 1 and rows["cc.diachinh"]["closed"] == 1


def test_open_at_the_end_of_a_period_replays_the_history():
    d = dossier("A", "cc.tuphap", ("opened", "2026-06-01"), ("closed", "2026-06-10"), ("returned", "2026-06-20"))
    assert reports.open_at(d, vn("2026-06-05")) and not reports.open_at(d, vn("2026-06-15"))
    assert reports.open_at(d, vn("2026-06-25")) and not reports.open_at(d, vn("2026-05-31"))


def test_the_yearly_report_of_the_archive():
    dossiers = [
        dossier("A", "cc.tuphap", ("opened", "2026-02-01"), ("closed", "2026-06-10"), ("submitted", "2026-06-11"),
                ("accepted", "2026-06-20"), ("disposal_proposed", "2026-09-01"), ("disposal_rejected", "2026-09-02"),
                state="archival", archived_at=vn("2026-06-20")),
        dossier("B", "cc.diachinh", ("opened", "2025-11-01"), ("hold_placed", "2026-03-01")),
    ]
    catalogue = [{"year": 2026, "state": "approved", "history": [{"action": "approved"}]},
                 {"year": 2026, "state": "approved", "history": [{"action": "proposed"}, {"action": "approved"}]},
                 {"year": 2026, "state": "refused", "history": [{"action": "proposed"}, {"action": "refused"}]},
                 {"year": 2025, "state": "approved", "history": [{"action": "approved"}]}]
    records = [{"source": "incoming", "stored_at": vn("2026-02-01")}, {"source": "outgoing", "stored_at": vn("2026-02-01")},
               {"source": "incoming", "stored_at": vn("2025-02-01")}]
    tombstones = [{"destroyed_at": vn("2026-10-01")}]
    report = reports.yearly_report(dossiers, catalogue, records, tombstones, Period.year(2026), year=2026, now=LATER)
    assert report["catalogue"] == {"planned": 3, "approved": 2, "proposed_pending": 0, "refused": 1, "proposed_outside": 2}
    assert report["dossiers"] == {"opened": 1, "closed": 1, "reopened": 0, "submitted": 1, "accepted": 1, "returned": 0,
                                  "open_at_end": 1, "archival_at_end": 1}
    assert report["disposal"] == {"proposed": 1, "approved": 0, "rejected": 1, "restored": 0, "destroyed": 1, "holds_placed": 1}
    assert report["records"] == {"kept": 2, "incoming": 1, "outgoing": 1, "material": 0}


def test_a_period_is_whole_days_in_vietnam_time_and_defaults_to_the_year_so_far():
    day = Period(dt.date(2026, 6, 1), dt.date(2026, 6, 1))
    assert day.contains(dt.datetime(2026, 5, 31, 17, 0, tzinfo=dt.UTC))  # 00:00 on 01/06 in Vietnam
    assert not day.contains(dt.datetime(2026, 5, 31, 16, 59, 59, tzinfo=dt.UTC))
    assert day.contains(dt.datetime(2026, 6, 1, 16, 59, 59, tzinfo=dt.UTC))  # 23:59:59 on 01/06
    assert not day.contains(dt.datetime(2026, 6, 1, 17, 0, tzinfo=dt.UTC))
    assert day.contains(dt.datetime(2026, 5, 31, 17, 0))  # a naive moment from the store is UTC
    assert day.utc_bounds() == (dt.datetime(2026, 5, 31, 17, 0, tzinfo=dt.UTC), dt.datetime(2026, 6, 1, 17, 0, tzinfo=dt.UTC))
    assert day.as_of(LATER) == day.ends_before and day.as_of(vn("2026-06-01", 8)) == vn("2026-06-01", 8)
    assert period_of(None, None, today=dt.date(2026, 6, 15)) == Period(dt.date(2026, 1, 1), dt.date(2026, 6, 15))
    assert period_of(dt.date(2026, 3, 1), None, today=dt.date(2026, 6, 15)).end == dt.date(2026, 6, 15)
    assert period_of(None, dt.date(2025, 3, 1), today=dt.date(2026, 6, 15)).start == dt.date(2025, 1, 1)
    with pytest.raises(PeriodError, match="trước ngày đầu kỳ"):
        Period(dt.date(2026, 6, 2), dt.date(2026, 6, 1))
    with pytest.raises(PeriodError):
        Period.year(1999)


def test_leaders_see_every_officer_and_an_officer_only_themself():
    officer = Principal(user="cc.tuphap", role="officer", name="", issuer="portal")
    chairman = Principal(user="chutich", role="chairman", name="", issuer="portal")
    assert visible_officers(officer, None, STAFF) == ["cc.tuphap"]
    assert visible_officers(officer, "cc.tuphap", STAFF) == ["cc.tuphap"]
    with pytest.raises(HTTPException) as refused:
        visible_officers(officer, "cc.diachinh", STAFF)
    assert refused.value.status_code == 403
    assert visible_officers(chairman, None, STAFF) is None
    assert visible_officers(chairman, "cc.diachinh", STAFF) == ["cc.diachinh"]
    with pytest.raises(HTTPException) as unknown:
        visible_officers(chairman, "ai.do", STAFF)
    assert unknown.value.status_code == 404


def test_the_yearly_report_covers_the_year_or_an_ad_hoc_part_of_it():
    assert request_year_part(2026, None, None) == Period.year(2026)
    assert request_year_part(2026, dt.date(2026, 3, 1), None) == Period(dt.date(2026, 3, 1), dt.date(2026, 12, 31))
    assert request_year_part(2026, None, dt.date(2026, 6, 30)) == Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    for start, end in ((dt.date(2025, 12, 1), dt.date(2026, 1, 31)), (dt.date(2026, 5, 1), dt.date(2026, 4, 1))):
        with pytest.raises(HTTPException) as refused:
            request_year_part(2026, start, end)
        assert refused.value.status_code == 422
