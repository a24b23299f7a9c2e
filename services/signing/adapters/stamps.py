"""Visible signature appearances, drawn into transparent PNGs with Pillow.

pyHanko's own text stamps garble Vietnamese (Courier) or space it badly (OpenType), so all text
is rendered here, at 300 dpi, with Liberation Serif (metric-compatible with Times New Roman,
which NĐ 30 asks for) and the PNG is placed with a static stamp style (adapters.pades). Each
stamp knows its size in PDF points, so `N pt` text in here shows as `N pt` on the page.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont

from services.signing.domain.appearance import (
    agency_stamp_lines,
    annex_stamp_lines,
    copy_stamp_lines,
    nfc,
)
from services.signing.domain.placement import SEAL_DIAMETER_PT, AgencyStampLayout
from shared.pdfdocs import FONT_REGULAR

DPI = 300
BLACK = (0, 0, 0)


@dataclass(frozen=True)
class Stamp:
    png: bytes
    width_pt: float
    height_pt: float

    @property
    def size(self) -> tuple[float, float]:
        return (self.width_pt, self.height_pt)


def _px(points: float, dpi: int = DPI) -> int:
    return max(1, round(points * dpi / 72))


@lru_cache(maxsize=32)
def _font(size_px: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_REGULAR), size=size_px)


def _encode(img: Image.Image, dpi: int = DPI) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(dpi, dpi))
    return buf.getvalue()


def _load_rgba(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    img.load()
    return img.convert("RGBA")


def render_leader_stamp(signature_png: bytes, box_size: tuple[float, float], *, dpi: int = DPI) -> Stamp:
    """The leader's signature image (blue, transparent) fitted and centred in a canvas with the
    exact proportions of the signature box, so the image covers the box as the placement
    geometry assumes."""
    w_pt, h_pt = box_size
    canvas = Image.new("RGBA", (_px(w_pt, dpi), _px(h_pt, dpi)), (0, 0, 0, 0))
    sig = _load_rgba(signature_png)
    bbox = sig.getbbox()  # drop transparent margins so the ink fills the box
    if bbox:
        sig = sig.crop(bbox)
    scale = min(canvas.width / sig.width, canvas.height / sig.height)
    sig = sig.resize((max(1, round(sig.width * scale)), max(1, round(sig.height * scale))), Image.LANCZOS)
    canvas.alpha_composite(sig, ((canvas.width - sig.width) // 2, (canvas.height - sig.height) // 2))
    return Stamp(_encode(canvas, dpi), w_pt, h_pt)


def _draw_lines(
    img: Image.Image,
    lines: list[str],
    *,
    top_px: int,
    font_px: int,
    line_px: int,
    color: tuple[int, int, int],
    align: str,
    pad_px: int,
) -> None:
    draw = ImageDraw.Draw(img)
    font = _font(font_px)
    ascent, _ = font.getmetrics()
    for i, line in enumerate(lines):
        y = top_px + i * line_px + ascent
        if align == "center":
            draw.text((img.width / 2, y), line, font=font, fill=color + (255,), anchor="ms")
        elif align == "right":
            draw.text((img.width - pad_px, y), line, font=font, fill=color + (255,), anchor="rs")
        else:
            draw.text((pad_px, y), line, font=font, fill=color + (255,), anchor="ls")


def render_agency_stamp(
    seal_png: bytes,
    agency_name: str,
    signing_time: dt.datetime,
    *,
    seal_diameter_pt: float = SEAL_DIAMETER_PT,
    text_pt: float = 6.5,
    min_text_pt: float = 5.0,
    color: tuple[int, int, int] = BLACK,
    dpi: int = DPI,
) -> tuple[Stamp, AgencyStampLayout]:
    """The agency signature: the red seal at real size with, below it, the agency name and the
    signing time (ISO 8601, +07:00). The text shrinks (down to `min_text_pt`) to stay within
    the seal's width. Returns the stamp and the layout `placement.agency_seal_box` needs."""
    lines = agency_stamp_lines(agency_name, signing_time)
    width_px = _px(seal_diameter_pt, dpi)
    size = text_pt
    while size > min_text_pt and max(_font(_px(size, dpi)).getlength(s) for s in lines) > width_px:
        size -= 0.25
    font_px = _px(size, dpi)
    line_pt = size * 1.2
    band_pt = 0.15 * size + line_pt * len(lines)
    layout = AgencyStampLayout(seal_diameter=seal_diameter_pt, text_band=band_pt)
    canvas = Image.new("RGBA", (width_px, _px(layout.stamp_height, dpi)), (0, 0, 0, 0))
    seal = _load_rgba(seal_png).resize((width_px, width_px), Image.LANCZOS)
    canvas.alpha_composite(seal, (0, 0))
    _draw_lines(
        canvas,
        lines,
        top_px=width_px + _px(0.15 * size, dpi),
        font_px=font_px,
        line_px=_px(line_pt, dpi),
        color=color,
        align="center",
        pad_px=0,
    )
    return Stamp(_encode(canvas, dpi), layout.stamp_width, layout.stamp_height), layout


def render_text_stamp(
    lines: list[str],
    *,
    font_pt: float = 10.0,
    color: tuple[int, int, int] = BLACK,
    align: str = "left",
    padding_pt: float = 1.0,
    dpi: int = DPI,
) -> Stamp:
    """Text only (annexes in separate files, official e-copies): Times-like regular upright,
    `font_pt` on the page, black (NĐ 30 Phụ lục I II.8). Sized to the text."""
    lines = [nfc(s) for s in lines]
    font_px = _px(font_pt, dpi)
    font = _font(font_px)
    line_pt = font_pt * 1.2
    text_w_pt = max(font.getlength(s) for s in lines) * 72 / dpi
    w_pt = text_w_pt + 2 * padding_pt
    h_pt = line_pt * len(lines) + 2 * padding_pt
    canvas = Image.new("RGBA", (_px(w_pt, dpi), _px(h_pt, dpi)), (0, 0, 0, 0))
    _draw_lines(
        canvas,
        lines,
        top_px=_px(padding_pt, dpi),
        font_px=font_px,
        line_px=_px(line_pt, dpi),
        color=color,
        align=align,
        pad_px=_px(padding_pt, dpi),
    )
    return Stamp(_encode(canvas, dpi), w_pt, h_pt)


def render_annex_stamp(number_notation: str, signing_time: dt.datetime, **kwargs) -> Stamp:
    """Top-right text of a separate-file annex: số/ký hiệu and signing time, 10 pt."""
    return render_text_stamp(annex_stamp_lines(number_notation, signing_time), **kwargs)


def render_copy_stamp(copy_form: str, agency_name: str, signing_time: dt.datetime, **kwargs) -> Stamp:
    """Top-right text of an official electronic copy: SAO Y/SAO LỤC/TRÍCH SAO, agency, time."""
    return render_text_stamp(copy_stamp_lines(copy_form, agency_name, signing_time), **kwargs)
