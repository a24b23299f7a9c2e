"""The period a report covers (R-9.4, R-12.4, R-12.6), the same in every service: whole days in
Vietnam time, both ends included. A service counts an event in the period when its moment falls
between the first second of the first day and the last moment of the last day (VN time); figures
"at the end of the period" (outstanding, overdue) are taken at that end, or now when the period
has not ended yet. Pure rules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fastapi import HTTPException

from shared.clock import UTC, VN_TZ, to_vn

MAX_DAYS = 366 * 5  # a report over more than five years is a mistake in the dates


class PeriodError(ValueError):
    """Dates that do not make a period; the message is Vietnamese, shown as it is."""


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # included

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError(f"Ngày cuối kỳ ({self.end:%d/%m/%Y}) trước ngày đầu kỳ ({self.start:%d/%m/%Y}).")
        if (self.end - self.start).days >= MAX_DAYS:
            raise PeriodError("Kỳ báo cáo dài quá 5 năm.")

    @classmethod
    def year(cls, year: int) -> Period:
        if not 2000 <= year <= 2100:
            raise PeriodError(f"Năm báo cáo {year} không hợp lệ.")
        return cls(dt.date(year, 1, 1), dt.date(year, 12, 31))

    @property
    def starts_at(self) -> dt.datetime:
        """First moment of the first day, Vietnam time (aware)."""
        return dt.datetime.combine(self.start, dt.time(0), tzinfo=VN_TZ)

    @property
    def ends_before(self) -> dt.datetime:
        """First moment after the last day (exclusive bound), Vietnam time (aware)."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(0), tzinfo=VN_TZ)

    def utc_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) in UTC, for queries on the store."""
        return self.starts_at.astimezone(UTC), self.ends_before.astimezone(UTC)

    def contains(self, moment: dt.datetime | None) -> bool:
        return moment is not None and self.starts_at <= to_vn(moment) < self.ends_before

    def contains_date(self, day: dt.date | str | None) -> bool:
        if not day:
            return False
        day = dt.date.fromisoformat(day[:10]) if isinstance(day, str) else day
        return self.start <= day <= self.end

    def as_of(self, now: dt.datetime) -> dt.datetime:
        """The moment standing figures are taken: the end of the period, or now if sooner."""
        return min(to_vn(now), self.ends_before)

    def label_vi(self) -> str:
        return f"từ ngày {self.start:%d/%m/%Y} đến ngày {self.end:%d/%m/%Y}"

    def to_dict(self) -> dict:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def period_of(start: dt.date | None, end: dt.date | None, *, today: dt.date) -> Period:
    """The period a request names; without dates, from 1 January to today (Vietnam time)."""
    end = end or (today if start is None or start <= today else start)
    start = start or dt.date(end.year, 1, 1)
    return Period(start, end)


def request_period(start: dt.date | None, end: dt.date | None, *, now: dt.datetime) -> Period:
    """`period_of` for a route: a bad period is a 422 with the Vietnamese reason."""
    try:
        return period_of(start, end, today=to_vn(now).date())
    except PeriodError as exc:
        raise HTTPException(422, str(exc)) from exc


def request_year(year: int) -> Period:
    try:
        return Period.year(year)
    except PeriodError as exc:
        raise HTTPException(422, str(exc)) from exc


def rate(part: int, whole: int) -> float | None:
    """A share in per cent with one decimal; None when there is nothing to share."""
    return round(100.0 * part / whole, 1) if whole else None


def visible_officers(principal, officer: str | None, staff) -> list[str] | None:
    """Whose per-officer rows the caller sees (R-9.4, R-12.4, R-15.5): a leader everyone's (or the
    one asked for, which must exist), an officer only their own — asking for another's is refused.
    None means everyone. The rule table of the route decides who may ask at all."""
    if principal.role == "officer":
        if officer and officer != principal.user:
            raise HTTPException(403, "Cán bộ chỉ xem được số liệu của chính mình.")
        return [principal.user]
    if officer:
        if staff.get(officer) is None:
            raise HTTPException(404, f"Không có cán bộ '{officer}'.")
        return [officer]
    return None


def year_part(year: int, start: dt.date | None, end: dt.date | None) -> Period:
    """The yearly report's period (R-12.6): the whole year, or an ad-hoc part of it (both dates
    within that year; one alone runs to the year's end or from its start)."""
    whole = Period.year(year)
    if start is None and end is None:
        return whole
    part = Period(start or whole.start, end or whole.end)
    if part.start.year != year or part.end.year != year:
        raise PeriodError(f"Kỳ báo cáo phải nằm trong năm {year}.")
    return part


def request_year_part(year: int, start: dt.date | None, end: dt.date | None) -> Period:
    """`year_part` for a service route: a bad period is a 422."""
    try:
        return year_part(year, start, end)
    except PeriodError as exc:
        raise HTTPException(422, str(exc)) from exc


def moment(value) -> dt.datetime | None:
    """A stored time (datetime or ISO text) in Vietnam time, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return to_vn(value)


def officer_report_body(period: Period, now: dt.datetime, rows: dict[str, dict], staff, figures, labels) -> dict:
    """The per-officer answer every service gives (R-12.4): the period, the figures' names and
    Vietnamese labels, one row per officer with their name, in user order."""
    return {"period": period.to_dict(), "as_of": period.as_of(now), "figures": list(figures), "labels": labels,
            "officers": [{"officer": user, "name": staff.get(user).name if staff.get(user) else user, **row}
                         for user, row in sorted(rows.items())]}
