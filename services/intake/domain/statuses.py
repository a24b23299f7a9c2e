"""The business status packages intake sends back to the sender (standards.md §1.8):
01 arrived (at once, the same day: NĐ 30 Điều 21.2(c)), 02 refused with the reason (R-3.4,
R-6.1), 03 registered, 04 assigned, 05 being handled, 06 done (R-3.4, R-6.4)."""

from __future__ import annotations

import datetime as dt

from shared.edxml import Organization, ResponseFor, StaffInfo, StatusCode, StatusPackage

ARRIVED = StatusCode("01")
REFUSED = StatusCode("02")
REGISTERED = StatusCode("03")
ASSIGNED = StatusCode("04")
IN_PROGRESS = StatusCode("05")
DONE = StatusCode("06")

DESCRIPTIONS = {
    ARRIVED: "Văn bản đã đến hệ thống quản lý văn bản của {agency}.",
    REGISTERED: "Văn bản đã được văn thư {agency} tiếp nhận, vào sổ văn bản đến số {number}/{year}.",
    ASSIGNED: "{leader} đã giao {lead} ({position}) chủ trì xử lý văn bản{deadline}.",
    IN_PROGRESS: "Văn bản đang được {lead} ({position}) xử lý{deadline}.",
    DONE: "Văn bản đã được {agency} xử lý xong.",
}


def status_package(
    *,
    code: StatusCode,
    own: Organization,
    response_for: ResponseFor,
    staff: StaffInfo,
    description: str,
    at: dt.datetime,
) -> StatusPackage:
    return StatusPackage(
        sender=own,
        response_for=response_for,
        staff_info=staff,
        status_code=code,
        description=description,
        timestamp=at,
    )
