"""Reading scans and turning page images into a PDF (R-6.5): pikepdf reads the PDF's version,
page sizes and images; Pillow reads a JPEG/PNG's mode and stated dpi; img2pdf places each image
losslessly at its own dpi (so at 100 % scale), and pikepdf writes the result as PDF 1.7."""

from __future__ import annotations

import io

import img2pdf
import pikepdf
from PIL import Image, UnidentifiedImageError

from services.intake.domain.digitisation import PageScan, ScanFacts

_COLOUR_OF_MODE = {"RGB": "rgb", "RGBA": "rgb", "CMYK": "cmyk", "LAB": "lab", "L": "gray", "LA": "gray", "1": "bilevel",
                   "I": "gray", "I;16": "gray", "F": "gray"}
OUTPUT_PDF_VERSION = "1.7"


class ScanUnreadable(ValueError):
    """The file is not a readable PDF or image; the message is for the clerk."""


def _parse_version(text: str) -> tuple[int, int]:
    try:
        major, minor = str(text).lstrip("/").split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return 0, 0


def _colour_space(image: pikepdf.PdfImage) -> str:
    try:
        mode = image.mode
    except Exception:  # noqa: BLE001 - pikepdf raises for colour spaces it cannot name
        return "unknown"
    if mode == "P":  # indexed: colour when its palette is
        try:
            base = image.palette[0] if image.palette else ""
        except Exception:  # noqa: BLE001
            return "unknown"
        return "gray" if str(base) in ("L", "/DeviceGray") else "rgb"
    return _COLOUR_OF_MODE.get(mode, "unknown")


def read_scan(pdf: bytes) -> ScanFacts:
    try:
        document = pikepdf.open(io.BytesIO(pdf))
    except pikepdf.PdfError as exc:
        raise ScanUnreadable(f"Tệp PDF bị lỗi, không đọc được ({exc}).") from exc
    with document:
        version = _parse_version(document.pdf_version)
        catalog_version = document.Root.get("/Version")  # a later update may raise the header's version
        if catalog_version is not None:
            version = max(version, _parse_version(str(catalog_version)))
        pages = []
        for page in document.pages:
            box = page.mediabox
            unit = float(page.obj.get("/UserUnit", 1))
            width, height = (float(box[2]) - float(box[0])) * unit, (float(box[3]) - float(box[1])) * unit
            largest: tuple[tuple[int, int], str] | None = None
            for raw in page.get_images().values():
                try:
                    image = pikepdf.PdfImage(raw)
                    size = (int(image.width), int(image.height))
                except Exception:  # noqa: BLE001 - a broken image is no scan of the page
                    continue
                if largest is None or size[0] * size[1] > largest[0][0] * largest[0][1]:
                    largest = (size, _colour_space(image))
            pages.append(PageScan(width, height, largest[0] if largest else None, largest[1] if largest else "unknown"))
    return ScanFacts(version, tuple(pages))


def read_image(name: str, data: bytes) -> tuple[str, tuple[float, float] | None]:
    """(Pillow mode, dpi) of a page image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.mode, image.info.get("dpi")
    except (UnidentifiedImageError, OSError) as exc:
        raise ScanUnreadable(f"Ảnh {name} bị lỗi, không đọc được.") from exc


def images_to_pdf(images: list[bytes]) -> bytes:
    """One page per image at the image's own dpi (100 % scale), lossless, as PDF 1.7."""
    try:
        converted = img2pdf.convert(images, rotation=img2pdf.Rotation.ifvalid)
    except (img2pdf.ImageOpenError, img2pdf.AlphaChannelError, ValueError) as exc:
        raise ScanUnreadable(f"Không ghép được ảnh thành PDF: {exc}") from exc
    out = io.BytesIO()
    with pikepdf.open(io.BytesIO(converted)) as document:
        document.save(out, min_version=OUTPUT_PDF_VERSION)
    return out.getvalue()
