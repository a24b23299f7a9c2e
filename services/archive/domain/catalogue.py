"""The dossier catalogue (Danh mục hồ sơ, NĐ 30 Điều 28, Phụ lục V.I; R-10.1), pure rules.

The chairman approves the year's catalogue; each entry has a number-and-symbol (`01.VP`: an
ordinal and the heading's abbreviation), a title, a retention period and the officer who keeps
the dossier. A dossier outside the catalogue is proposed by an officer and becomes an entry only
when a leader approves it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

NOTATION = re.compile(r"^\d{1,3}\.[A-Z0-9Đ][A-Z0-9Đ\-]{0,15}$")  # 01.VP, 12.TP-HT (FileNotation ≤ 20)
MIN_YEARS_FOR_SUBMISSION = 5  # NĐ 30 Điều 30: dossiers kept 5 years or more are submitted to the archive


class EntryState(StrEnum):
    APPROVED = "approved"
    PROPOSED = "proposed"
    REFUSED = "refused"


class CatalogueError(Exception):
    def __init__(self, message_vi: str, *, conflict: bool = False) -> None:
        super().__init__(message_vi)
        self.message_vi = message_vi
        self.conflict = conflict


@dataclass(frozen=True)
class Retention:
    """Thời hạn bảo quản: permanent or a number of years (TT 10/2022 item where known)."""

    permanent: bool
    years: int | None = None

    @property
    def label_vi(self) -> str:
        return "Vĩnh viễn" if self.permanent else f"{self.years} năm"

    def to_dict(self) -> dict:
        return {"permanent": self.permanent, "years": self.years}

    @property
    def submitted_to_archive(self) -> bool:
        return self.permanent or (self.years or 0) >= MIN_YEARS_FOR_SUBMISSION


def parse_retention(text: str) -> Retention:
    """'Vĩnh viễn' / 'vinh vien' / 'permanent' or 'N năm' / 'N' (1 to 100 years)."""
    folded = unicodedata.normalize("NFC", text).strip().lower()
    if folded in ("vĩnh viễn", "vinh vien", "permanent"):
        return Retention(permanent=True)
    match = re.fullmatch(r"(\d{1,3})\s*(năm|nam|years?)?", folded)
    if not match or not 1 <= int(match.group(1)) <= 100:
        raise CatalogueError(f"Thời hạn bảo quản không hợp lệ: «{text}» (ghi «Vĩnh viễn» hoặc số năm, ví dụ «10 năm»).")
    return Retention(permanent=False, years=int(match.group(1)))


def retention_of(doc: dict) -> Retention:
    raw = doc["retention"]
    return Retention(permanent=bool(raw["permanent"]), years=raw.get("years"))


def check_notation(notation: str) -> str:
    notation = unicodedata.normalize("NFC", notation).strip()
    if not NOTATION.match(notation):
        raise CatalogueError(f"Số và ký hiệu hồ sơ «{notation}» không đúng dạng (số thứ tự, dấu chấm, chữ viết tắt đề mục; ví dụ «01.VP»), tối đa 20 ký tự.")
    return notation


def entry_id(year: int, notation: str) -> str:
    return f"{year}:{notation}"


def check_year(year: int) -> int:
    if not 2000 <= year <= 2100:
        raise CatalogueError(f"Năm {year} không hợp lệ.")
    return year
