"""The words shown in visible signatures (pure; the pixels are drawn by adapters.stamps).

NĐ 30/2020 Phụ lục I (standards.md §4): the signing time is shown as date, hh:mm:ss and the
Vietnam time zone per ISO 8601, e.g. ``2026-03-05T09:15:30+07:00``.
"""

from __future__ import annotations

import datetime as dt
import unicodedata

# Vietnam has had no daylight saving time since 1975: a fixed offset is exact.
VN_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")


def iso_vn(moment: dt.datetime) -> str:
    """ISO 8601 in Vietnam time, to the second: 2026-03-05T09:15:30+07:00."""
    if moment.tzinfo is None:
        raise ValueError("signing time must be timezone-aware")
    return moment.astimezone(VN_TZ).replace(microsecond=0).isoformat()


def nfc(text: str) -> str:
    """Vietnamese text in composed form (fonts carry the precomposed glyphs)."""
    return unicodedata.normalize("NFC", text)


def agency_stamp_lines(agency_name: str, signing_time: dt.datetime) -> list[str]:
    """Agency signature on a main document or a digitised document: agency name and time."""
    return [nfc(agency_name), iso_vn(signing_time)]


def annex_stamp_lines(number_notation: str, signing_time: dt.datetime) -> list[str]:
    """Annex in a separate file (II.8): số và ký hiệu of the document and the signing time."""
    return [nfc(number_notation), iso_vn(signing_time)]


def copy_stamp_lines(copy_form: str, agency_name: str, signing_time: dt.datetime) -> list[str]:
    """Official electronic copy (Phần II, I): form of copy (SAO Y, SAO LỤC, TRÍCH SAO),
    the copying agency and the signing time."""
    return [nfc(copy_form).upper(), nfc(agency_name), iso_vn(signing_time)]
