"""Renders an administrative document (NĐ 30/2020 layout, simplified) as a PDF.

Used by the simulated agencies of the local axis, by the demo, by tests and by benchmarks to
produce realistic Vietnamese documents. The text is drawn with Liberation Serif (metric-compatible
with Times New Roman, covers Vietnamese; SIL OFL, shipped in shared/assets) and embedded.

The signer's block (ô 7) gets an empty signature field named `LEADER_FIELD` between the position
line and the name line, where NĐ 30 Phụ lục I II.7(d) puts the leader's signature image; the
signing service signs into that field, and places the agency seal relative to it.

With `number_fields=True` the number line (ô 3) and the place-and-date line (ô 4) are text form
fields (`NUMBER_FIELD`, `DATE_FIELD`) showing the blanks: the number and date are given after the
leader signs (R-7.2), and filling form fields is a change a signature permits, so writing them
in (`fill_fields`) leaves the leader's signature valid.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

ASSETS = Path(__file__).parent / "assets"
FONT_REGULAR = ASSETS / "LiberationSerif-Regular.ttf"
FONT_BOLD = ASSETS / "LiberationSerif-Bold.ttf"

LEADER_FIELD = "ChuKyLanhDao"
NUMBER_FIELD = "SoKyHieu"
DATE_FIELD = "NgayThang"
MM = 72 / 25.4  # PDF points per millimetre
A4_HEIGHT_PT = 297 * MM


@dataclass
class DocumentText:
    issuer_parent: str = "UBND HUYỆN HOẰNG HÓA"
    issuer_name: str = "ỦY BAN NHÂN DÂN XÃ HOẰNG ĐỨC"
    number_notation: str = "Số:      /QĐ-UBND"
    place_and_date: str = "Hoằng Đức, ngày      tháng      năm 2026"
    type_name: str = "QUYẾT ĐỊNH"
    subject: str = "Về việc ban hành quy chế tiếp nhận văn bản điện tử"
    body: list[str] = field(
        default_factory=lambda: [
            "Căn cứ Luật Tổ chức chính quyền địa phương;",
            "Căn cứ Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn thư;",
            "Xét đề nghị của công chức Văn phòng - Thống kê.",
        ]
    )
    recipients: list[str] = field(default_factory=lambda: ["- Như Điều 3;", "- Lưu: VT."])
    signer_competence: str = "TM. ỦY BAN NHÂN DÂN"
    signer_position: str = "CHỦ TỊCH"
    signer_name: str = "Lê Văn Minh"


@dataclass(frozen=True)
class RenderedDocument:
    pdf: bytes
    leader_field: str
    leader_box: tuple[float, float, float, float]  # PDF points, origin bottom-left, page 0


def render_document(text: DocumentText | None = None, *, extra_pages: int = 0, number_fields: bool = False) -> RenderedDocument:
    text = text or DocumentText()
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_margins(left=30, top=20, right=15)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_font("Serif", "", str(FONT_REGULAR))
    pdf.add_font("Serif", "B", str(FONT_BOLD))
    pdf.set_title(text.subject)
    pdf.set_creator("vanthu")
    pdf.add_page()

    # Header: issuer (left) and national motto (right), ô 1-2.
    pdf.set_font("Serif", "", 12)
    pdf.set_xy(20, 20)
    pdf.cell(80, 6, text.issuer_parent, align="C")
    pdf.set_font("Serif", "B", 12)
    pdf.set_xy(20, 26)
    pdf.cell(80, 6, text.issuer_name, align="C")
    pdf.set_xy(95, 20)
    pdf.cell(105, 6, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", align="C")
    pdf.set_font("Serif", "B", 13)
    pdf.set_xy(95, 26)
    pdf.cell(105, 6, "Độc lập - Tự do - Hạnh phúc", align="C")
    pdf.set_font("Serif", "", 13)
    if not number_fields:  # else drawn by the form fields, filled at numbering
        pdf.set_xy(20, 36)
        pdf.cell(80, 6, text.number_notation, align="C")
        pdf.set_xy(95, 36)
        pdf.cell(105, 6, text.place_and_date, align="C")

    # Type and subject, ô 5a/5b.
    pdf.set_font("Serif", "B", 14)
    pdf.set_xy(30, 52)
    pdf.cell(165, 7, text.type_name, align="C")
    pdf.set_xy(30, 59)
    pdf.multi_cell(165, 7, text.subject, align="C")
    pdf.ln(6)

    pdf.set_font("Serif", "", 13)
    for paragraph in text.body:
        pdf.multi_cell(165, 7, paragraph, align="J")
        pdf.ln(1)

    # Recipients (ô 9) on the left and the signer's block (ô 7) on the right.
    top = max(pdf.get_y() + 10, 150)
    if top > 220:
        pdf.add_page()
        top = 30
    pdf.set_font("Serif", "B", 12)
    pdf.set_xy(30, top)
    pdf.cell(60, 6, "Nơi nhận:")
    pdf.set_font("Serif", "", 11)
    for i, line in enumerate(text.recipients):
        pdf.set_xy(30, top + 6 + 5 * i)
        pdf.cell(60, 5, line)
    pdf.set_font("Serif", "B", 13)
    pdf.set_xy(115, top)
    pdf.cell(80, 6, text.signer_competence, align="C")
    pdf.set_xy(115, top + 6)
    pdf.cell(80, 6, text.signer_position, align="C")
    gap_top, gap_bottom = top + 13, top + 43  # 30 mm for the signature image, ô 7c
    pdf.set_xy(115, gap_bottom + 1)
    pdf.cell(80, 6, text.signer_name, align="C")
    signature_page = pdf.page - 1

    for i in range(extra_pages):
        pdf.add_page()
        pdf.set_font("Serif", "", 13)
        pdf.multi_cell(165, 7, f"Phụ lục trang {i + 2}.")

    raw = bytes(pdf.output())
    box = (125 * MM, A4_HEIGHT_PT - gap_bottom * MM, 185 * MM, A4_HEIGHT_PT - gap_top * MM)
    writer = IncrementalPdfFileWriter(io.BytesIO(raw))
    append_signature_field(writer, SigFieldSpec(LEADER_FIELD, on_page=signature_page, box=box))
    if number_fields:
        for name, (x_mm, width_mm), value in ((NUMBER_FIELD, (20, 80), text.number_notation),
                                             (DATE_FIELD, (95, 105), text.place_and_date)):
            rect = (x_mm * MM, A4_HEIGHT_PT - 42.5 * MM, (x_mm + width_mm) * MM, A4_HEIGHT_PT - 35.5 * MM)
            _add_text_field(writer, name, rect, value)
    out = io.BytesIO()
    writer.write(out)
    return RenderedDocument(out.getvalue(), LEADER_FIELD, box)


def _appearance(writer, text: str, width: float, height: float) -> generic.DictionaryObject:
    """The field's look: the text centred in the document's own font, drawn by fpdf2 on a page
    the size of the field and imported as the appearance (Vietnamese glyphs embedded)."""
    page = FPDF(unit="pt", format=(width, height))
    page.set_margins(0, 0, 0)
    page.set_auto_page_break(False)
    page.add_font("Serif", "", str(FONT_REGULAR))
    page.add_page()
    page.set_font("Serif", "", 13)
    page.set_xy(0, 0)
    page.cell(width, height, text, align="C")
    xobject = writer.import_page_as_xobject(PdfFileReader(io.BytesIO(bytes(page.output()))))
    return generic.DictionaryObject({pdf_name("/N"): xobject})


def _add_text_field(writer: IncrementalPdfFileWriter, name: str, rect: tuple[float, float, float, float], value: str) -> None:
    page_ref = writer.root["/Pages"]["/Kids"][0]
    widget = generic.DictionaryObject({
        pdf_name("/Type"): pdf_name("/Annot"), pdf_name("/Subtype"): pdf_name("/Widget"), pdf_name("/FT"): pdf_name("/Tx"),
        pdf_name("/T"): pdf_string(name), pdf_name("/V"): pdf_string(value), pdf_name("/F"): generic.NumberObject(4),
        # Not read-only: filling a read-only field is not a change a signature permits.
        pdf_name("/Ff"): generic.NumberObject(0),
        pdf_name("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in rect]),
        pdf_name("/DA"): pdf_string("/Helv 0 Tf 0 g"),  # no /P: its back-link makes form filling look suspicious to validators
        pdf_name("/AP"): _appearance(writer, value, rect[2] - rect[0], rect[3] - rect[1]),
    })
    ref = writer.add_object(widget)
    page = page_ref.get_object()
    annots = page.get("/Annots")
    if annots is None:
        page[pdf_name("/Annots")] = generic.ArrayObject([ref])
    else:
        annots.append(ref)
    writer.update_container(page)
    form = writer.root["/AcroForm"]
    form["/Fields"].append(ref)
    writer.update_container(form)


def field_names(pdf: bytes) -> set[str]:
    form = PdfFileReader(io.BytesIO(pdf), strict=False).root.get("/AcroForm")
    if form is None:
        return set()
    form = form.get_object()
    return {str(ref.get_object().get("/T")) for ref in form.get("/Fields", [])}


def fill_fields(pdf: bytes, values: dict[str, str]) -> bytes:
    """Writes `values` into text fields as an incremental update (a change signatures permit:
    form filling). Unknown names raise KeyError."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    fields = {str(ref.get_object().get("/T")): ref.get_object() for ref in writer.root["/AcroForm"]["/Fields"]}
    for name, value in values.items():
        widget = fields[name]
        x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
        widget[pdf_name("/V")] = pdf_string(value)
        widget[pdf_name("/AP")] = _appearance(writer, value, x2 - x1, y2 - y1)
        writer.update_container(widget)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
