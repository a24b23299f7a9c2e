"""The incoming register (sổ đăng ký văn bản đến, NĐ 30 Phụ lục IV; R-6.3) as rows a clerk
reads: the ten columns of the decree, filtered by date, sender or words of the subject."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.clock import to_vn
from shared.text import fold

COLUMNS = (
    "Ngày đến",
    "Số đến",
    "Tác giả",
    "Số, ký hiệu",
    "Ngày tháng",
    "Tên loại và trích yếu nội dung",
    "Đơn vị hoặc người nhận",
    "Ngày chuyển",
    "Ký nhận",
    "Ghi chú",
)
WIDTHS_MM = (20, 14, 38, 28, 20, 70, 30, 20, 16, 21)  # sums to 277: A4 landscape minus margins
URGENCY = {1: "Khẩn", 2: "Thượng khẩn", 3: "Hỏa tốc", 4: "Hỏa tốc hẹn giờ"}


@dataclass(frozen=True)
class RegisterFilter:
    arrived_from: dt.date | None = None
    arrived_to: dt.date | None = None
    sender: str | None = None  # organ id, or words of its name
    text: str | None = None  # words of the subject, number or type

    def matches(self, document: dict) -> bool:
        arrived = to_vn(document["arrived_at"]).date()
        if self.arrived_from and arrived < self.arrived_from:
            return False
        if self.arrived_to and arrived > self.arrived_to:
            return False
        metadata = document.get("metadata", {})
        sender = metadata.get("sender", {})
        if self.sender and not (self.sender == sender.get("organ_id") or fold(self.sender) in fold(sender.get("organ_name", ""))):
            return False
        if self.text:
            haystack = fold(" ".join(str(metadata.get(k, "")) for k in ("subject", "code", "type_name")))
            return all(word in haystack for word in fold(self.text).split())
        return True




def _date(value) -> str:
    if not value:
        return ""
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        value = to_vn(value)
    return value.strftime("%d/%m/%Y")


def register_row(document: dict) -> list[str]:
    metadata = document.get("metadata", {})
    assignment = document.get("assignment") or {}
    recipients = [assignment.get("lead_officer")] + list(assignment.get("cooperating_officers") or [])
    notes = []
    if URGENCY.get(metadata.get("priority", 0)):
        notes.append(URGENCY[metadata["priority"]])
    if metadata.get("due_date"):
        notes.append(f"Hạn trả lời {_date(metadata['due_date'])}")
    if document.get("possible_duplicate_of"):
        notes.append("Có thể trùng văn bản đã vào sổ")
    if document.get("state") == "recalled":
        notes.append("Đã thu hồi")
    return [
        _date(document.get("arrived_at")),
        str(document["register"]["number"]),
        metadata.get("sender", {}).get("organ_name") or metadata.get("sender", {}).get("organ_id", ""),
        metadata.get("code", ""),
        _date(metadata.get("issued_date")),
        f"{metadata.get('type_name', '')}: {metadata.get('subject', '')}".strip(": "),
        ", ".join(r for r in recipients if r),
        _date(assignment.get("assigned_at")),
        "",  # signed on paper when the register is printed and bound (NĐ 30 Điều 22.3(b))
        "; ".join(notes),
    ]


def register_rows(documents: list[dict], selection: RegisterFilter = RegisterFilter()) -> list[list[str]]:
    ordered = sorted((d for d in documents if d.get("register")), key=lambda d: d["register"]["number"])
    return [register_row(d) for d in ordered if selection.matches(d)]
