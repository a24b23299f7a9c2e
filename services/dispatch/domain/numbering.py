"""Numbers and symbols of outgoing documents (NĐ 30/2020 Điều 15, Phụ lục I II.3, Phụ lục III;
standards.md §5.2–5.3; R-7.2b).

- One register per calendar year, starting at 01 on 1 January (Vietnam time); numbers below
  10 get a leading zero. The counter lives in the store and is incremented in the transaction
  that records the number, so numbers never repeat or skip.
- Ký hiệu: `<type abbreviation>-<issuer abbreviation>` for typed documents (15/QĐ-UBND);
  `<issuer abbreviation>-<drafting unit or field>` for a công văn, which has no type
  abbreviation (27/UBND-VP).
"""

from __future__ import annotations

import datetime as dt
import unicodedata

from shared.clock import to_vn

# NĐ 30/2020 Phụ lục III, I (standards.md §5.2). Công văn deliberately absent.
TYPE_ABBREVIATIONS: dict[str, str] = {
    "nghị quyết": "NQ", "quyết định": "QĐ", "chỉ thị": "CT", "quy chế": "QC", "quy định": "QyĐ",
    "thông cáo": "TC", "thông báo": "TB", "hướng dẫn": "HD", "chương trình": "CTr", "kế hoạch": "KH",
    "phương án": "PA", "đề án": "ĐA", "dự án": "DA", "báo cáo": "BC", "biên bản": "BB", "tờ trình": "TTr",
    "hợp đồng": "HĐ", "công điện": "CĐ", "bản ghi nhớ": "BGN", "bản thỏa thuận": "BTT",
    "giấy ủy quyền": "GUQ", "giấy mời": "GM", "giấy giới thiệu": "GGT", "giấy nghỉ phép": "GNP",
    "phiếu gửi": "PG", "phiếu chuyển": "PC", "phiếu báo": "PB",
}
OFFICIAL_LETTER = "công văn"


class UnknownDocumentType(ValueError):
    pass


def _key(type_name: str) -> str:
    return unicodedata.normalize("NFC", type_name).strip().lower()


def notation(type_name: str, *, issuer: str, drafting_unit: str = "VP") -> str:
    key = _key(type_name)
    if key == OFFICIAL_LETTER:
        return f"{issuer}-{drafting_unit}"
    try:
        return f"{TYPE_ABBREVIATIONS[key]}-{issuer}"
    except KeyError:
        raise UnknownDocumentType(f"unknown document type {type_name!r} (NĐ 30 Điều 7)") from None


def format_number(number: int) -> str:
    if number < 1:
        raise ValueError("register numbers start at 1")
    return f"{number:02d}"


def full_code(number: int, notation_text: str) -> str:
    return f"{format_number(number)}/{notation_text}"


def register_year(at: dt.datetime) -> int:
    return to_vn(at).year


def register_counter(year: int) -> str:
    return f"outgoing-register:{year}"


def number_line(code: str) -> str:
    """Ô 3 of the document (NĐ 30 Phụ lục I II.3): "Số: 15/QĐ-UBND"."""
    return f"Số: {code}"


def date_line(place: str, issued: dt.date) -> str:
    """Ô 4 (NĐ 30 Phụ lục I II.4): days below 10 and months 1 and 2 get a leading zero
    ("ngày 05 tháng 02 năm 2026", but "tháng 3")."""
    month = f"{issued.month:02d}" if issued.month < 3 else str(issued.month)
    return f"{place}, ngày {issued.day:02d} tháng {month} năm {issued.year}"
