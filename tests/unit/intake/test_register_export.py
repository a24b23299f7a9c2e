"""The incoming register (R-6.3; NĐ 30 Phụ lục IV): the decree's ten columns, filters a clerk
uses, and XLSX / PDF files that open and carry the rows."""

from __future__ import annotations

import datetime as dt
import io
import subprocess

from openpyxl import load_workbook

from services.intake.domain.register import COLUMNS, WIDTHS_MM, RegisterFilter, register_rows
from shared.register_files import to_pdf, to_xlsx

UTC = dt.timezone.utc


def doc(number, *, arrived, sender=("000.01.00.H56", "Văn phòng UBND tỉnh Thanh Hóa"), subject="Về việc triển khai Đề án 06",
        priority=0, **extra):
    return {"arrived_at": arrived, "register": {"year": 2026, "number": number}, "state": "registered",
            "metadata": {"sender": {"organ_id": sender[0], "organ_name": sender[1]}, "code": f"{number:02d}/VP-TH",
                         "issued_date": "2026-11-20", "type_name": "Công văn", "subject": subject, "priority": priority},
            **extra}


DOCS = [
    doc(2, arrived=dt.datetime(2026, 11, 24, 18, 30, tzinfo=UTC), sender=("000.12.00.H56", "Sở Nội vụ tỉnh Thanh Hóa"),
        subject="Về việc tuyển dụng công chức", priority=1, assignment={"lead_officer": "Lê Thị Hoa",
                                                                          "cooperating_officers": ["Trần Văn Nam"],
                                                                          "assigned_at": dt.datetime(2026, 11, 25, 2, tzinfo=UTC)}),
    doc(1, arrived=dt.datetime(2026, 11, 20, 2, tzinfo=UTC)),
    {"arrived_at": dt.datetime(2026, 11, 21, tzinfo=UTC), "state": "refused", "metadata": {}},  # never in the register
]


def test_rows_follow_the_register_number_with_the_decree_columns():
    rows = register_rows(DOCS)
    assert len(COLUMNS) == 10 and [r[1] for r in rows] == ["1", "2"]
    second = rows[1]
    # 18:30 UTC on the 24th is the 25th in Vietnam: the arrival day is Vietnam time.
    assert second[0] == "25/11/2026" and second[2] == "Sở Nội vụ tỉnh Thanh Hóa"
    assert second[5] == "Công văn: Về việc tuyển dụng công chức"
    assert second[6] == "Lê Thị Hoa, Trần Văn Nam" and second[7] == "25/11/2026"
    assert "Khẩn" in second[9]


def test_filters_by_dates_sender_and_words_without_accents():
    assert [r[1] for r in register_rows(DOCS, RegisterFilter(arrived_from=dt.date(2026, 11, 25)))] == ["2"]
    assert [r[1] for r in register_rows(DOCS, RegisterFilter(arrived_to=dt.date(2026, 11, 24)))] == ["1"]
    assert [r[1] for r in register_rows(DOCS, RegisterFilter(sender="000.12.00.H56"))] == ["2"]
    assert [r[1] for r in register_rows(DOCS, RegisterFilter(sender="so noi vu"))] == ["2"]
    assert [r[1] for r in register_rows(DOCS, RegisterFilter(text="de an 06"))] == ["1"]
    assert register_rows(DOCS, RegisterFilter(text="không có")) == []


def test_xlsx_opens_with_the_heading_and_rows():
    rows = register_rows(DOCS)
    sheet = load_workbook(io.BytesIO(to_xlsx(rows, title="SỔ ĐĂNG KÝ VĂN BẢN ĐẾN NĂM 2026", columns=COLUMNS,
                                                     widths_mm=WIDTHS_MM, sheet_title="So van ban den"))).active
    assert sheet["A1"].value == "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN NĂM 2026"
    assert [c.value for c in sheet[2]] == list(COLUMNS)
    assert [c.value for c in sheet[4]][:6] == rows[1][:6]


def test_pdf_carries_the_vietnamese_text(tmp_path):
    path = tmp_path / "so.pdf"
    path.write_bytes(to_pdf(register_rows(DOCS) * 40, title="SỔ ĐĂNG KÝ VĂN BẢN ĐẾN NĂM 2026", columns=COLUMNS,
                           widths_mm=WIDTHS_MM))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN NĂM 2026" in text and "Sở Nội vụ tỉnh Thanh" in text
    pages = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Pages:" in pages and int(pages.split("Pages:")[1].split()[0]) > 1  # headings repeat on every page
