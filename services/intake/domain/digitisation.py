"""Digitising a paper document (R-6.5; regulation Art. 6.5): the scan must be a PDF 1.4 or
later, in colour, at least 200 dpi, at 100 % scale (the page has the size of the paper). The
agency then signs it at the top left of page 1 with the red seal, its name and the ISO 8601
time, and it is registered like an electronic arrival. Pure rules over facts the scan adapter
reads; every failure is said in words the clerk understands."""

from __future__ import annotations

from dataclasses import dataclass

MIN_DPI = 200
DPI_TOLERANCE = 0.99  # scanners round page sizes: 1654 px over 210 mm is 200.05 dpi, 1653 is 199.9
MIN_PDF_VERSION = (1, 4)
MAX_PAGES = 500
# Paper sizes (mm) a commune receives; a scan at 100 % has one of them as its page size.
PAPER_SIZES_MM = {"A3": (297, 420), "A4": (210, 297), "A5": (148, 210), "Letter": (216, 279), "Legal": (216, 356)}
PAPER_TOLERANCE = 0.03
COLOUR_SPACES = {"rgb", "cmyk", "lab"}


@dataclass(frozen=True)
class PageScan:
    """One page as the adapter found it: its size and the largest image on it."""

    width_pt: float
    height_pt: float
    image_px: tuple[int, int] | None  # the largest image's pixels (None: no image: not a scan)
    colour_space: str  # rgb | cmyk | lab | gray | bilevel | unknown


@dataclass(frozen=True)
class ScanFacts:
    pdf_version: tuple[int, int]
    pages: tuple[PageScan, ...]


def dpi(page: PageScan) -> float:
    """The scan's resolution: pixels over the page's size in inches, the poorer direction."""
    if not page.image_px:
        return 0.0
    px_w, px_h = page.image_px
    return min(px_w / (page.width_pt / 72), px_h / (page.height_pt / 72))


def paper_size(page: PageScan) -> str | None:
    width_mm, height_mm = sorted((page.width_pt * 25.4 / 72, page.height_pt * 25.4 / 72))
    for name, (w, h) in PAPER_SIZES_MM.items():
        if abs(width_mm - w) <= w * PAPER_TOLERANCE and abs(height_mm - h) <= h * PAPER_TOLERANCE:
            return name
    return None


def problems(facts: ScanFacts) -> list[str]:
    """Everything wrong with the scan, in Vietnamese, so the clerk can rescan once."""
    found: list[str] = []
    if facts.pdf_version < MIN_PDF_VERSION:
        found.append(f"Tệp PDF phiên bản {facts.pdf_version[0]}.{facts.pdf_version[1]}; yêu cầu PDF 1.4 trở lên.")
    if not facts.pages:
        found.append("Tệp không có trang nào.")
    if len(facts.pages) > MAX_PAGES:
        found.append(f"Tệp có {len(facts.pages)} trang, quá {MAX_PAGES} trang.")
    for number, page in enumerate(facts.pages[:MAX_PAGES], start=1):
        where = f"Trang {number}"
        if not page.image_px:
            found.append(f"{where} không phải ảnh quét (không có hình ảnh).")
            continue
        if page.colour_space not in COLOUR_SPACES:
            kind = {"gray": "thang xám", "bilevel": "đen trắng"}.get(page.colour_space, "không xác định được màu")
            found.append(f"{where} được quét {kind}; yêu cầu quét màu.")
        resolution = dpi(page)
        if resolution < MIN_DPI * DPI_TOLERANCE:
            found.append(f"{where} có độ phân giải {resolution:.0f} dpi; yêu cầu tối thiểu {MIN_DPI} dpi.")
        if paper_size(page) is None:
            found.append(f"{where} có kích thước {page.width_pt * 25.4 / 72:.0f} × {page.height_pt * 25.4 / 72:.0f} mm, "
                         "không đúng khổ giấy thật (tỷ lệ 100 %).")
    return found


def image_problems(name: str, *, mode: str, dpi_xy: tuple[float, float] | None) -> list[str]:
    """A JPEG/PNG page image before it becomes a PDF page: colour and stated resolution."""
    found = []
    if mode in ("1",):
        found.append(f"Ảnh {name} là ảnh đen trắng; yêu cầu quét màu.")
    elif mode in ("L", "LA", "I", "I;16", "F"):
        found.append(f"Ảnh {name} là ảnh thang xám; yêu cầu quét màu.")
    if not dpi_xy or min(dpi_xy) <= 1:
        found.append(f"Ảnh {name} không ghi độ phân giải (dpi); hãy quét lại với máy quét ghi dpi.")
    elif min(dpi_xy) < MIN_DPI * DPI_TOLERANCE:
        found.append(f"Ảnh {name} có độ phân giải {min(dpi_xy):.0f} dpi; yêu cầu tối thiểu {MIN_DPI} dpi.")
    return found
