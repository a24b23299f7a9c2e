"""Digitising paper (R-6.5): the scan checks on real images and PDFs — colour, at least 200
dpi, PDF 1.4 or later, 100 % scale — and page images made into a PDF 1.7 at their own size."""

from __future__ import annotations

import io

import pikepdf
import pytest
from PIL import Image, ImageDraw

from services.intake.adapters.scans import images_to_pdf, read_scan
from services.intake.domain import digitisation as rules
from services.intake.handlers.digitise import DigitisationRefused, check_scan

A4_200 = (1654, 2339)


def page_image(size=A4_200, mode="RGB", dpi=(200, 200), kind="JPEG") -> bytes:
    image = Image.new("RGB", size, (250, 250, 245))
    draw = ImageDraw.Draw(image)
    draw.text((100, 100), "UBND HUYEN", fill=(0, 0, 0))
    draw.ellipse((1100, 1900, 1400, 2200), outline=(200, 20, 20), width=12)  # the red seal on paper
    if mode != "RGB":
        image = image.convert(mode)
    out = io.BytesIO()
    image.save(out, kind, **({"dpi": dpi} if dpi else {}))
    return out.getvalue()


def test_colour_jpeg_pages_become_one_pdf_17_at_a4_size():
    pdf, facts = check_scan([("trang-1.jpg", page_image()), ("trang-2.png", page_image(kind="PNG"))])
    assert facts.pdf_version >= (1, 7) and len(facts.pages) == 2
    assert all(rules.paper_size(p) == "A4" and rules.dpi(p) >= 199 and p.colour_space == "rgb" for p in facts.pages)
    with pikepdf.open(io.BytesIO(pdf)) as document:
        assert len(document.pages) == 2


@pytest.mark.parametrize("files, words", [
    ([("a.jpg", page_image(mode="L"))], "thang xám"),
    ([("a.png", page_image(mode="1", kind="PNG"))], "đen trắng"),
    ([("a.jpg", page_image(size=(1240, 1754), dpi=(150, 150)))], "150 dpi"),
    ([("a.jpg", page_image(dpi=None))], "không ghi độ phân giải"),
    ([("a.txt", b"not a scan at all")], "không phải PDF, JPEG hay PNG"),
    ([], "Chưa chọn tệp"),
])
def test_bad_scans_are_refused_with_the_reason(files, words):
    with pytest.raises(DigitisationRefused) as refused:
        check_scan(files)
    assert any(words in p for p in refused.value.problems), refused.value.problems


def test_a_pdf_scan_is_checked_page_by_page():
    good = images_to_pdf([page_image()])
    # The same pages written as PDF 1.3, the second scaled to a size no paper has (not 100 %).
    with pikepdf.open(io.BytesIO(images_to_pdf([page_image(), page_image()]))) as document:
        document.pages[1].mediabox = [0, 0, 500, 700]
        old = io.BytesIO()
        document.save(old, force_version="1.3")
    facts = read_scan(old.getvalue())
    problems = rules.problems(facts)
    assert any("PDF 1.4" in p for p in problems)
    assert [p for p in problems if p.startswith("Trang")] == [
        "Trang 2 có kích thước 176 × 247 mm, không đúng khổ giấy thật (tỷ lệ 100 %)."]
    assert not rules.problems(read_scan(good))


def test_a_page_with_no_image_is_not_a_scan():
    from shared.pdfdocs import render_document

    with pytest.raises(DigitisationRefused) as refused:
        check_scan([("van-ban.pdf", render_document().pdf)])
    assert any("không phải ảnh quét" in p for p in refused.value.problems)


def test_rules_on_facts():
    a4 = (595.28, 841.89)
    assert rules.problems(rules.ScanFacts((1, 4), (rules.PageScan(*a4, A4_200, "rgb"),))) == []
    assert "thang xám" in rules.problems(rules.ScanFacts((1, 7), (rules.PageScan(*a4, A4_200, "gray"),)))[0]
    [odd] = rules.problems(rules.ScanFacts((1, 7), (rules.PageScan(300, 300, (834, 834), "rgb"),)))
    assert "khổ giấy" in odd
