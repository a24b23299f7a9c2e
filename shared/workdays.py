"""Working days (ngày làm việc) for deadlines: Monday to Friday, minus the public holidays and
compensatory days off in the operator's calendar file, plus the weekend days it names as
make-up working days. Pure rules; `load_calendar` is the only I/O and re-reads a changed file.

Counting (R-6.3, R-6.4): a deadline of N working days runs from the moment the officer
receives the document; the day of receipt is not counted, and the deadline is the end of the
N-th working day after it (Vietnam time)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from shared.clock import VN_TZ, to_vn

END_OF_DAY = dt.time(23, 59, 59)


class CalendarError(ValueError):
    """The calendar file cannot be used; names the file and the entry."""


@dataclass(frozen=True)
class WorkCalendar:
    off: dict[dt.date, str] = field(default_factory=dict)  # holidays and compensatory days off
    working: dict[dt.date, str] = field(default_factory=dict)  # weekend days worked in compensation

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.working:
            return True
        return day.weekday() < 5 and day not in self.off

    def next_working_day(self, day: dt.date) -> dt.date:
        """The first working day strictly after `day`."""
        day += dt.timedelta(days=1)
        for _ in range(400):  # a year of holidays cannot stop the count; a broken file can
            if self.is_working_day(day):
                return day
            day += dt.timedelta(days=1)
        raise CalendarError(f"no working day within 400 days after {day}")

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The N-th working day after `start` (start itself not counted)."""
        if days < 1:
            raise ValueError("a deadline is at least one working day")
        day = start
        for _ in range(days):
            day = self.next_working_day(day)
        return day

    def deadline(self, received_at: dt.datetime, working_days: int) -> dt.datetime:
        """End of the N-th working day after the moment of receipt, as an aware Vietnam time."""
        last = self.add_working_days(to_vn(received_at).date(), working_days)
        return dt.datetime.combine(last, END_OF_DAY, tzinfo=VN_TZ)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days after `start` up to and including `end` (negative when end is before)."""
        if end < start:
            return -self.working_days_between(end, start)
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_working_day(day)
        return count


def parse_calendar(data: dict, source: str = "calendar") -> WorkCalendar:
    def dates(section: str) -> dict[dt.date, str]:
        entries = data.get(section) or {}
        if not isinstance(entries, dict):
            raise CalendarError(f"{source}: '{section}' must map dates (YYYY-MM-DD) to names")
        parsed = {}
        for text, name in entries.items():
            try:
                parsed[dt.date.fromisoformat(text)] = str(name)
            except ValueError as exc:
                raise CalendarError(f"{source}: '{section}' has a bad date {text!r}") from exc
        return parsed

    off, working = dates("off"), dates("working")
    for day in working:
        if day.weekday() < 5:
            raise CalendarError(f"{source}: make-up working day {day} is not a Saturday or Sunday")
        if day in off:
            raise CalendarError(f"{source}: {day} is both a day off and a working day")
    return WorkCalendar(off, working)


def load_calendar(path: Path) -> WorkCalendar:
    """The calendar in `path`, re-read whenever the operator changes the file."""
    path = Path(path)
    return _load(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=8)
def _load(path: str, _mtime: int) -> WorkCalendar:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CalendarError(f"{path}: not valid JSON ({exc})") from exc
    return parse_calendar(data, path)
