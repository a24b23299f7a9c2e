"""The outgoing register (sổ đăng ký văn bản đi, NĐ 30 Phụ lục IV; R-7.2) as rows a clerk
reads: the decree's ten columns, filtered by date, recipient or words of the subject."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.clock import to_vn
from shared.text import fold

COLUMNS = (
    "Số, ký hiệu văn bản",
    "Ngày tháng văn bản",
    "Tên loại và trích yếu nội dung văn bản",
    "Người ký",
    "Nơi nhận văn bản",
    "Đơn vị, người nhận bản lưu",
    "Số lượng bản",
    "Ngày chuyển",
    "Ký nhận",
    "Ghi chú",
)
WIDTHS_MM = (26, 20, 70, 30, 45, 25, 14, 20, 12, 15)  # sums to 277: A4 landscape minus margins
URGENCY = {1: "Khẩn", 2: "Thượng khẩn", 3: "Hỏa tốc"}


@dataclass(frozen=True)
class RegisterFilter:
    issued_from: dt.date | None = None
    issued_to: dt.date | None = None
    recipient: str | None = None  # organ id, or words of its name
    text: str | None = None  # words of the subject, number or type

    def matches(self, document: dict) -> bool:
        issued = dt.date.fromisoformat(document["issued_date"]) if document.get("issued_date") else None
        if self.issued_from and (issued is None or issued < self.issued_from):
            return False
        if self.issued_to and (issued is None or issued > self.issued_to):
            return False
        recipients = document.get("recipients") or []
        if self.recipient and not any(self.recipient == r["organ_id"] or fold(self.recipient) in fold(r.get("name", ""))
                                      for r in recipients):
            return False
        if self.text:
            haystack = fold(" ".join(str(document.get(k, "")) for k in ("subject", "code", "type_name")))
            return all(word in haystack for word in fold(self.text).split())
        return True


def _date(value) -> str:
    if not value:
        return ""
    if isinstance(value, dt.datetime):
        return to_vn(value).strftime("%d/%m/%Y")
    return dt.date.fromisoformat(str(value)[:10]).strftime("%d/%m/%Y")


def register_row(document: dict) -> list[str]:
    signer = document.get("signer") or {}
    recipients = [r.get("name") or r["organ_id"] for r in document.get("recipients") or []]
    notes = []
    if URGENCY.get(document.get("urgency", 0)):
        notes.append(URGENCY[document["urgency"]])
    if document.get("state") not in ("issued", None):
        notes.append({"agency_signing": "Chờ ký số cơ quan", "signature_refused": "Bị từ chối ký số",
                      "cancelled": f"Hủy số: {(document.get('cancellation') or {}).get('reason', '')}"}.get(
            document["state"], document["state"]))
    return [
        document.get("code", ""),
        _date(document.get("issued_date")),
        f"{document.get('type_name', '')}: {document.get('subject', '')}".strip(": "),
        " ".join(filter(None, [signer.get("position", "").title() if signer.get("position") else "", signer.get("full_name", "")])),
        "; ".join(recipients),
        "Lưu: VT",  # the file copy stays with the clerk (NĐ 30 Điều 19)
        "1",  # electronic: one signed original per recipient; paper copies come with
        _date(document.get("issued_at")),
        "",  # signed on paper when the register is printed and bound
        "; ".join(notes),
    ]


def register_rows(documents: list[dict], selection: RegisterFilter = RegisterFilter()) -> list[list[str]]:
    ordered = sorted((d for d in documents if d.get("register")), key=lambda d: d["register"]["number"])
    return [register_row(d) for d in ordered if selection.matches(d)]
