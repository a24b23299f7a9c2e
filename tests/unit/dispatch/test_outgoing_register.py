"""The outgoing register (sổ đăng ký văn bản đi, NĐ 30 Phụ lục IV; R-7.2): the decree's columns,
number order, filters a clerk types without accents, XLSX and PDF that open."""

from __future__ import annotations

import datetime as dt
import io
import subprocess

from openpyxl import load_workbook

from services.dispatch.domain.register import COLUMNS, WIDTHS_MM, RegisterFilter, register_rows
from shared.register_files import to_pdf, to_xlsx

UTC = dt.timezone.utc
DOCS = [
    {"register": {"year": 2026, "number": 2}, "code": "02/QĐ-UBND", "issued_date": "2026-11-24", "type_name": "Quyết định",
     "subject": "Về việc thành lập tổ công tác chuyển đổi số", "signer": {"full_name": "Lê Văn Minh", "position": "CHỦ TỊCH"},
     "recipients": [{"organ_id": "000.12.00.H56", "name": "Sở Nội vụ tỉnh Thanh Hóa"}], "state": "issued", "urgency": 1,
     "issued_at": dt.datetime(2026, 11, 24, 17, 30, tzinfo=UTC)},
    {"register": {"year": 2026, "number": 1}, "code": "01/UBND-VP", "issued_date": "2026-11-20", "type_name": "Công văn",
     "subject": "Về việc báo cáo số liệu", "signer": {"full_name": "Lê Văn Minh", "position": "CHỦ TỊCH"},
     "recipients": [{"organ_id": "000.01.00.H56", "name": "Văn phòng UBND tỉnh Thanh Hóa"}], "state": "issued", "urgency": 0,
     "issued_at": dt.datetime(2026, 11, 20, 2, 0, tzinfo=UTC)},
    {"code": "nháp, chưa có số", "state": "leader_signing"},
]


def test_rows_follow_the_decree_in_number_order():
    rows = register_rows(DOCS)
    assert len(COLUMNS) == 10 and sum(WIDTHS_MM) == 277
    assert [r[0] for r in rows] == ["01/UBND-VP", "02/QĐ-UBND"]  # unnumbered drafts are not in the book
    assert rows[1][1] == "24/11/2026" and rows[1][2] == "Quyết định: Về việc thành lập tổ công tác chuyển đổi số"
    assert rows[1][3] == "Chủ Tịch Lê Văn Minh" and rows[1][4] == "Sở Nội vụ tỉnh Thanh Hóa"
    assert rows[1][7] == "25/11/2026"  # issued at 00:30 Vietnam time on the 25th
    assert rows[1][9] == "Khẩn"


def test_filters_by_date_recipient_and_accent_free_words():
    assert [r[0] for r in register_rows(DOCS, RegisterFilter(text="chuyen doi so"))] == ["02/QĐ-UBND"]
    assert [r[0] for r in register_rows(DOCS, RegisterFilter(recipient="van phong"))] == ["01/UBND-VP"]
    assert [r[0] for r in register_rows(DOCS, RegisterFilter(issued_from=dt.date(2026, 11, 21)))] == ["02/QĐ-UBND"]


def test_xlsx_and_pdf_open(tmp_path):
    rows = register_rows(DOCS)
    sheet = load_workbook(io.BytesIO(to_xlsx(rows, title="SỔ ĐĂNG KÝ VĂN BẢN ĐI NĂM 2026", columns=COLUMNS,
                                             widths_mm=WIDTHS_MM, sheet_title="So van ban di"))).active
    assert [c.value for c in sheet[2]] == list(COLUMNS) and sheet["A4"].value == "02/QĐ-UBND"
    path = tmp_path / "so.pdf"
    path.write_bytes(to_pdf(rows, title="SỔ ĐĂNG KÝ VĂN BẢN ĐI NĂM 2026", columns=COLUMNS, widths_mm=WIDTHS_MM))
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "SỔ ĐĂNG KÝ VĂN BẢN ĐI NĂM 2026" in text and "02/QĐ-UBND" in text
