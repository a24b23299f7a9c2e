"""The reports as files (R-12.4, R-12.6): XLSX (openpyxl) and PDF (fpdf2, Liberation Serif from
shared/assets, Vietnamese text), written by the same renderer as the registers
(`shared/register_files.py`), with the period, the time the figures were taken and the
agency's name."""

from __future__ import annotations

import datetime as dt

from services.portal.domain.reports import SERVICE_LABELS_VI, OfficerTable, Section, officer_export_rows, year_export_rows
from shared.clock import to_vn
from shared.register_files import A4_LANDSCAPE_WIDTH_MM, A4_PORTRAIT_WIDTH_MM, Table, render_tables
from shared.report_period import Period

AGENCY_VI = "ỦY BAN NHÂN DÂN XÃ HOẰNG ĐỨC"


def _taken(as_of: dt.datetime | None) -> str:
    return f"; số liệu tính đến {to_vn(as_of):%H:%M ngày %d/%m/%Y}" if as_of else ""


def officer_widths(columns: int) -> tuple[int, ...]:
    """STT, name, then equal figure columns, filling A4 landscape."""
    fixed = (10, 42)
    rest = columns - len(fixed)
    each = (A4_LANDSCAPE_WIDTH_MM - sum(fixed)) // rest
    return (*fixed, *([each] * rest))


def _deadline(value) -> str:
    try:
        return f"{to_vn(dt.datetime.fromisoformat(str(value))):%d/%m/%Y}"
    except ValueError:
        return str(value or "")


def officer_report_file(fmt: str, table: OfficerTable, period: Period, *, as_of: dt.datetime | None = None,
                        officer_name: str | None = None, overdue: list[dict] | None = None) -> tuple[bytes, str]:
    """The per-officer report of a period (R-12.4): one row per officer, totals last; then the
    documents still open past their deadline at the end of the period, to steer (R-9.4)."""
    columns, rows = officer_export_rows(table)
    if fmt == "pdf":
        rows = [[str(v) for v in row] for row in rows]
    title = f"{AGENCY_VI}\nBÁO CÁO SỐ LIỆU TIẾP NHẬN, XỬ LÝ VĂN BẢN VÀ LẬP HỒ SƠ THEO CÁN BỘ"
    subtitle = f"Kỳ báo cáo {period.label_vi()}{_taken(as_of)}"
    if officer_name:
        subtitle += f" — cán bộ: {officer_name}"
    if table.missing:
        subtitle += f" — chưa có số liệu của hệ thống {', '.join(SERVICE_LABELS_VI[s] for s in table.missing)}"
    charts = [("Đúng hạn", table.totals["on_time"]), ("Quá hạn", table.totals["late"]),
              ("Đang xử lý", table.totals["outstanding"]), ("Tồn quá hạn", table.totals["overdue"])]
    bars = [(name, value) for name, value in charts if isinstance(value, int)]
    tables = [Table(columns, rows, officer_widths(len(columns)), bars=bars,
                    bars_title="Xử lý văn bản đến của các cán bộ trong kỳ (tổng cộng)")]
    if overdue:
        tables.append(Table(("STT", "Cán bộ", "Số, ký hiệu", "Trích yếu", "Vai trò", "Hạn xử lý"),
                            [[str(i) if fmt == "pdf" else i, o.get("officer_name", ""), o.get("code") or "", o.get("subject") or "",
                              "Chủ trì" if o.get("role") == "lead" else "Phối hợp", _deadline(o.get("deadline"))]
                             for i, o in enumerate(overdue, 1)],
                            (10, 42, 35, 140, 20, 30), heading="Văn bản tồn đã quá hạn cuối kỳ"))
    return render_tables(fmt, tables, title=title, subtitle=subtitle, sheet_title="Bao cao can bo")


def year_report_file(fmt: str, year: int, sections: list[Section], *, as_of: dt.datetime | None = None,
                     period: Period | None = None) -> tuple[bytes, str]:
    """The yearly report on applying the regulation (R-12.6): one table per part; `period` for an
    ad-hoc report on a part of the year."""
    widths = (A4_PORTRAIT_WIDTH_MM - 35, 35)
    tables = []
    for (heading, columns, rows), section in zip(year_export_rows(sections), sections):
        rows = [[what, value if fmt == "xlsx" else str(value)] for what, value in rows]
        tables.append(Table(columns, rows, widths, heading=heading,
                            bars=[(n, v) for n, v in section.chart if isinstance(v, int)]))
    if period is None:
        title, subtitle = f"{AGENCY_VI}\nBÁO CÁO TÌNH HÌNH THỰC HIỆN QUY CHẾ VĂN BẢN ĐIỆN TỬ NĂM {year}", f"Năm {year}"
    else:
        title, subtitle = f"{AGENCY_VI}\nBÁO CÁO TÌNH HÌNH THỰC HIỆN QUY CHẾ VĂN BẢN ĐIỆN TỬ", f"Kỳ báo cáo {period.label_vi()}"
    return render_tables(fmt, tables, title=title, subtitle=subtitle + _taken(as_of), sheet_title=f"Bao cao nam {year}",
                         landscape=False)
