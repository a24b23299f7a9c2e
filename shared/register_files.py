"""A register (sổ văn bản đến, sổ văn bản đi) as files a clerk prints or sends: XLSX
(openpyxl) and PDF (fpdf2, A4 landscape, the Vietnamese font the documents use). The columns
and their widths come from the register's own domain module."""

from __future__ import annotations

import io

from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from shared.pdfdocs import FONT_BOLD, FONT_REGULAR

A4_LANDSCAPE_WIDTH_MM = 277  # inside 10 mm margins


def to_xlsx(rows: list[list[str]], *, title: str, columns: tuple[str, ...], widths_mm: tuple[int, ...],
            sheet_title: str) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(list(columns))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
    for row in rows:
        sheet.append(row)
    for index, width in enumerate(widths_mm, 1):
        sheet.column_dimensions[get_column_letter(index)].width = width / 2
    for row in sheet.iter_rows(min_row=3):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def to_pdf(rows: list[list[str]], *, title: str, columns: tuple[str, ...], widths_mm: tuple[int, ...]) -> bytes:
    pdf = FPDF(orientation="L", format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=10)
    pdf.add_font("Serif", "", str(FONT_REGULAR))
    pdf.add_font("Serif", "B", str(FONT_BOLD))
    pdf.set_margins(10, 10, 10)
    pdf.add_page()
    pdf.set_font("Serif", "B", 14)
    pdf.cell(0, 8, title, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Serif", "", 9)
    with pdf.table(col_widths=widths_mm, text_align="LEFT", line_height=4.5, repeat_headings=1,
                   headings_style=FontFace(emphasis="BOLD")) as table:
        heading = table.row()
        for name in columns:
            heading.cell(name)
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(value)
    return bytes(pdf.output())


FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}


def render(fmt: str, rows: list[list[str]], *, title: str, columns: tuple[str, ...], widths_mm: tuple[int, ...],
           sheet_title: str) -> tuple[bytes, str]:
    """The register in `fmt` (xlsx or pdf) and its media type; KeyError for another format."""
    media = FORMATS[fmt]
    if fmt == "xlsx":
        return to_xlsx(rows, title=title, columns=columns, widths_mm=widths_mm, sheet_title=sheet_title), media
    return to_pdf(rows, title=title, columns=columns, widths_mm=widths_mm), media
