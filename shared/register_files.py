"""A register (sổ văn bản đến, sổ văn bản đi) as files a clerk prints or sends: XLSX
(openpyxl) and PDF (fpdf2, A4 landscape, the Vietnamese font the documents use). The columns
and their widths come from the register's own domain module.

The same renderer writes a report (R-12.4, R-12.6) made of several tables, each with its
heading, under one title and a subtitle (the period): `tables_to_xlsx`, `tables_to_pdf`,
`render_tables`. A register is the case of one table without a heading. A table may carry
`bars` (label, value), drawn under it in the PDF as a horizontal bar chart."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from fpdf import FPDF
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from shared.pdfdocs import FONT_BOLD, FONT_REGULAR

A4_LANDSCAPE_WIDTH_MM = 277  # inside 10 mm margins
A4_PORTRAIT_WIDTH_MM = 190


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: list[list]
    widths_mm: tuple[int, ...]
    heading: str = ""
    bars: list[tuple[str, int]] = field(default_factory=list)
    bars_title: str = ""


def tables_to_xlsx(tables: list[Table], *, title: str, sheet_title: str, subtitle: str = "") -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    if subtitle:
        sheet.append([subtitle])
        sheet.cell(sheet.max_row, 1).font = Font(italic=True)
    widths: dict[int, float] = {}
    for number, table in enumerate(tables):
        if number:
            sheet.append([])
        if table.heading:
            sheet.append([table.heading])
            sheet.cell(sheet.max_row, 1).font = Font(bold=True, size=12)
        sheet.append(list(table.columns))
        header_row = sheet.max_row
        for cell in sheet[header_row]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="center", horizontal="center")
        for row in table.rows:
            sheet.append(row)
        for row in sheet.iter_rows(min_row=header_row + 1):
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
        for index, width in enumerate(table.widths_mm, 1):
            widths[index] = max(widths.get(index, 0), width / 2)
    for index, width in widths.items():
        sheet.column_dimensions[get_column_letter(index)].width = width
    if len(tables) == 1 and not tables[0].heading and not subtitle:
        sheet.freeze_panes = "A3"  # a register: the headings stay in view
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _bars(pdf: FPDF, bars: list[tuple[str, int]], width_mm: float) -> None:
    """A horizontal bar chart under a table: label, bar proportional to the largest value, value."""
    top = max((v for _, v in bars), default=0) or 1
    label_w, value_w, bar_h = min(60.0, width_mm * 0.35), 14.0, 5.0
    plot_w = width_mm - label_w - value_w
    pdf.set_font("Serif", "", 9)
    for label, value in bars:
        if pdf.will_page_break(bar_h + 1.5):
            pdf.add_page()
        x, y = pdf.l_margin, pdf.get_y()
        pdf.set_xy(x, y)
        pdf.cell(label_w - 2, bar_h, label[:60], align="R")
        pdf.set_fill_color(9, 105, 218)
        if value:
            pdf.rect(x + label_w, y + 0.6, plot_w * value / top, bar_h - 1.2, style="F")
        pdf.set_xy(x + label_w + plot_w * value / top + 1.5, y)
        pdf.cell(value_w, bar_h, str(value))
        pdf.set_xy(x, y + bar_h + 1.5)
    pdf.set_fill_color(255)  # the next table's cells are not filled


def tables_to_pdf(tables: list[Table], *, title: str, subtitle: str = "", landscape: bool = True) -> bytes:
    pdf = FPDF(orientation="L" if landscape else "P", format="A4", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=10)
    pdf.add_font("Serif", "", str(FONT_REGULAR))
    pdf.add_font("Serif", "B", str(FONT_BOLD))
    pdf.set_margins(10, 10, 10)
    pdf.add_page()
    pdf.set_font("Serif", "B", 14)
    pdf.multi_cell(0, 8, title, align="C", new_x="LMARGIN", new_y="NEXT")
    if subtitle:
        pdf.set_font("Serif", "", 11)
        pdf.cell(0, 6, subtitle, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    for number, table in enumerate(tables):
        if table.heading:
            if number:
                pdf.ln(3)
            if pdf.will_page_break(20):
                pdf.add_page()
            pdf.set_font("Serif", "B", 11)
            pdf.multi_cell(0, 6, table.heading, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Serif", "", 9)
        with pdf.table(col_widths=table.widths_mm, text_align="LEFT", line_height=4.5, repeat_headings=1,
                       headings_style=FontFace(emphasis="BOLD")) as grid:
            heading = grid.row()
            for name in table.columns:
                heading.cell(name)
            for values in table.rows:
                row = grid.row()
                for value in values:
                    row.cell("" if value is None else str(value))
        if table.bars and any(v for _, v in table.bars):
            pdf.ln(2)
            if table.bars_title:
                pdf.set_font("Serif", "B", 10)
                pdf.cell(0, 6, table.bars_title, new_x="LMARGIN", new_y="NEXT")
            _bars(pdf, table.bars, pdf.w - pdf.l_margin - pdf.r_margin)
    return bytes(pdf.output())


def to_xlsx(rows: list[list[str]], *, title: str, columns: tuple[str, ...], widths_mm: tuple[int, ...],
            sheet_title: str) -> bytes:
    return tables_to_xlsx([Table(columns, rows, widths_mm)], title=title, sheet_title=sheet_title)


def to_pdf(rows: list[list[str]], *, title: str, columns: tuple[str, ...], widths_mm: tuple[int, ...]) -> bytes:
    return tables_to_pdf([Table(columns, rows, widths_mm)], title=title)


FORMATS = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "pdf": "application/pdf"}


def render(fmt: str, rows: list[list[str]], *, title: str, columns: tuple[str, ...], widths_mm: tuple[int, ...],
           sheet_title: str) -> tuple[bytes, str]:
    """The register in `fmt` (xlsx or pdf) and its media type; KeyError for another format."""
    return render_tables(fmt, [Table(columns, rows, widths_mm)], title=title, sheet_title=sheet_title)


def render_tables(fmt: str, tables: list[Table], *, title: str, sheet_title: str, subtitle: str = "",
                  landscape: bool = True) -> tuple[bytes, str]:
    """Tables in `fmt` (xlsx or pdf) and the media type; KeyError for another format."""
    media = FORMATS[fmt]
    if fmt == "xlsx":
        return tables_to_xlsx(tables, title=title, sheet_title=sheet_title, subtitle=subtitle), media
    return tables_to_pdf(tables, title=title, subtitle=subtitle, landscape=landscape), media
