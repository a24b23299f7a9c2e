"""Time in one place: stored as aware UTC, shown and counted (register years, same-day rules)
in Vietnam time (R-6.5 and NĐ 30 use the Vietnam time zone)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
UTC = dt.timezone.utc


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def vn_now() -> dt.datetime:
    return dt.datetime.now(VN_TZ)


def to_vn(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:  # the store hands back naive UTC unless tz_aware is set
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VN_TZ)


def vn_date(moment: dt.datetime) -> dt.date:
    return to_vn(moment).date()


def iso_vn(moment: dt.datetime) -> str:
    """ISO 8601 with the +07:00 offset, seconds precision (signature stamps, R-6.5)."""
    return to_vn(moment).replace(microsecond=0).isoformat()
