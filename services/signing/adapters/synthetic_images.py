"""Development stand-ins for the scanned images NĐ 30 Phụ lục I asks for (standards §4):
the chairman's blue handwritten signature and the commune's red round seal, both PNG with a
transparent background at 300 dpi. In production these are configured paths to real scans;
nothing here is used on that path.

Drawn at 4x and downsampled so strokes and letters are anti-aliased. Ring text is laid out
glyph by glyph from precomposed (NFC) Vietnamese letters of Liberation Serif Bold.
"""

from __future__ import annotations

import io
import math
import unicodedata
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from services.signing.domain.placement import SEAL_DIAMETER_MM
from shared.pdfdocs import FONT_BOLD

DPI = 300
SUPERSAMPLE = 4
SEAL_RED = (200, 16, 30)
INK_BLUE = (18, 48, 168)


def mm_to_px(mm: float, dpi: int = DPI) -> int:
    return round(mm / 25.4 * dpi)


def _png(img: Image.Image, dpi: int = DPI) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", dpi=(dpi, dpi), optimize=True)
    return buf.getvalue()


# --- seal ---------------------------------------------------------------------------------


def _arc_text(
    canvas: Image.Image,
    text: str,
    *,
    center: tuple[float, float],
    radius: float,
    font: ImageFont.FreeTypeFont,
    color: tuple[int, int, int],
    top: bool,
    max_span_deg: float,
    tracking: float = 0.0,
) -> None:
    """Lay `text` along a circle within `max_span_deg`, condensing the letters (as seal
    engravers do) when it would not fit. top=True: centred on the top, read clockwise, letters
    pointing outwards. top=False: centred on the bottom, read left to right, letters pointing
    inwards. The baseline lies on `radius` in both cases."""
    text = unicodedata.normalize("NFC", text)
    natural = [font.getlength(ch) for ch in text]
    available = math.radians(max_span_deg) * radius - tracking * len(text)
    squeeze = min(1.0, available / sum(natural))
    widths = [n * squeeze + tracking for n in natural]
    span = sum(widths) / radius
    cx, cy = center
    tile = int(font.size * 3)
    offset = -span / 2
    for ch, w in zip(text, widths, strict=True):
        angle = offset + (w / 2) / radius
        offset += w / radius
        if ch == " ":
            continue
        glyph = Image.new("RGBA", (tile, tile), (0, 0, 0, 0))
        ImageDraw.Draw(glyph).text((tile / 2, tile / 2), ch, font=font, fill=color + (255,), anchor="ms")
        if squeeze < 1.0:
            narrow = glyph.resize((max(1, round(tile * squeeze)), tile), Image.LANCZOS)
            glyph = Image.new("RGBA", (tile, tile), (0, 0, 0, 0))
            glyph.alpha_composite(narrow, ((tile - narrow.width) // 2, 0))
        if top:
            x, y = cx + radius * math.sin(angle), cy - radius * math.cos(angle)
            rotated = glyph.rotate(-math.degrees(angle), resample=Image.BICUBIC)
        else:
            x, y = cx + radius * math.sin(angle), cy + radius * math.cos(angle)
            rotated = glyph.rotate(math.degrees(angle), resample=Image.BICUBIC)
        canvas.alpha_composite(rotated, (round(x - tile / 2), round(y - tile / 2)))


def _star(draw: ImageDraw.ImageDraw, center: tuple[float, float], r_outer: float, fill) -> None:
    cx, cy = center
    r_inner = r_outer * 0.382
    points = []
    for i in range(10):
        r = r_outer if i % 2 == 0 else r_inner
        a = -math.pi / 2 + i * math.pi / 5
        points.append((cx + r * math.cos(a), cy + r * math.sin(a)))
    draw.polygon(points, fill=fill)


def make_seal_png(
    top_text: str = "ỦY BAN NHÂN DÂN XÃ HOẰNG ĐỨC",
    bottom_text: str = "TỈNH THANH HÓA",
    *,
    diameter_mm: float = SEAL_DIAMETER_MM,
    color: tuple[int, int, int] = SEAL_RED,
    separator_deg: float = 118.0,
) -> bytes:
    """A red round seal, real size (diameter_mm at 300 dpi), transparent background: double
    outer ring, the agency name around the top, the place around the bottom, a star in the
    middle (a stand-in for the national emblem of a real People's Committee seal)."""
    size = mm_to_px(diameter_mm) * SUPERSAMPLE
    px_per_mm = size / diameter_mm
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    ink = color + (255,)
    c = size / 2

    def ring(r_mm: float, width_mm: float) -> None:
        r = r_mm * px_per_mm
        draw.ellipse((c - r, c - r, c + r, c + r), outline=ink, width=max(1, round(width_mm * px_per_mm)))

    half = diameter_mm / 2
    ring(half - 0.05, 0.9)
    ring(half - 1.35, 0.25)
    ring(half - 6.9, 0.35)

    font = ImageFont.truetype(str(FONT_BOLD), size=round(3.6 * px_per_mm))
    band_outer = (half - 1.9) * px_per_mm  # just inside the thin ring
    band_inner = (half - 6.4) * px_per_mm  # just outside the inner ring
    # Top text: glyphs point outwards, so the baseline is on the inner side of the band.
    _arc_text(img, top_text, center=(c, c), radius=band_inner + 0.9 * px_per_mm, font=font,
              color=color, top=True, max_span_deg=205, tracking=0.15 * px_per_mm)
    # Bottom text: glyphs point inwards, baseline on the outer side of the band.
    _arc_text(img, bottom_text, center=(c, c), radius=band_outer - 0.5 * px_per_mm, font=font,
              color=color, top=False, max_span_deg=95, tracking=0.25 * px_per_mm)
    # Small stars separating the top and bottom texts, a little below the horizontal.
    rr = (band_inner + band_outer) / 2 + 0.2 * px_per_mm
    for side in (-1, 1):
        a = math.radians(side * separator_deg)
        _star(draw, (c + rr * math.sin(a), c - rr * math.cos(a)), 1.2 * px_per_mm, ink)
    _star(draw, (c, c + 0.3 * px_per_mm), 5.2 * px_per_mm, ink)

    final = img.resize((size // SUPERSAMPLE, size // SUPERSAMPLE), Image.LANCZOS)
    return _png(final)


# --- handwritten signature ----------------------------------------------------------------


def _signature_path(width: float, height: float) -> list[list[tuple[float, float]]]:
    """Strokes of a fluent, slanted cursive scribble with loops and an underline flourish."""
    strokes: list[list[tuple[float, float]]] = []
    slant = 0.35

    def pt(x: float, y: float) -> tuple[float, float]:
        # y upwards in "pen" space, measured from the baseline at 62 % of the height
        base = height * 0.62
        return (x + slant * y, base - y)

    # Capital L-like entry loop
    s = []
    for i in range(120):
        t = i / 119
        a = 2 * math.pi * t
        x = width * 0.08 + width * 0.05 * math.sin(a) * (1 - t * 0.3) + width * 0.02 * t
        y = height * 0.42 * math.cos(a * 0.5) * (1 - 0.2 * t) - height * 0.02
        s.append(pt(x, y))
    strokes.append(s)

    # Running hand: prolate-cycloid loops with varying heights (looks like "ăn Minh")
    s = []
    n = 900
    heights = [0.18, 0.34, 0.16, 0.40, 0.15, 0.22, 0.36, 0.14]
    for i in range(n):
        t = i / (n - 1)
        k = len(heights) * 2 * math.pi
        h = heights[min(int(t * len(heights)), len(heights) - 1)]
        x = width * (0.12 + 0.74 * t) - width * 0.028 * math.sin(k * t)
        y = height * h * (1 - math.cos(k * t)) / 2
        s.append(pt(x, y))
    strokes.append(s)

    # Underline flourish back to the left, rising at the end
    s = []
    for i in range(200):
        t = i / 199
        x = width * (0.93 - 0.82 * t)
        y = -height * 0.12 - height * 0.10 * math.sin(math.pi * t) + height * 0.05 * t * t
        s.append(pt(x, y))
    strokes.append(s)
    return strokes


def make_signature_png(width_mm: float = 60.0, height_mm: float = 30.0, *, color=INK_BLUE) -> bytes:
    """A blue handwritten-looking signature on a transparent background (300 dpi)."""
    w, h = mm_to_px(width_mm) * SUPERSAMPLE, mm_to_px(height_mm) * SUPERSAMPLE
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    ink = color + (255,)
    pen = 0.45 / 25.4 * DPI * SUPERSAMPLE  # nib width ≈ 0.55 mm
    for stroke in _signature_path(w * 0.92, h):
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
            speed = math.hypot(x1 - x0, y1 - y0)
            # slower pen -> more ink; fast hairlines are thinner
            width = pen * (1.25 - min(0.6, speed / (pen * 4)))
            draw.line((x0 + w * 0.04, y0, x1 + w * 0.04, y1), fill=ink, width=max(2, round(width)))
            r = width / 2
            draw.ellipse((x1 + w * 0.04 - r, y1 - r, x1 + w * 0.04 + r, y1 + r), fill=ink)
    final = img.resize((w // SUPERSAMPLE, h // SUPERSAMPLE), Image.LANCZOS)
    return _png(final)


def write_images(directory: Path, *, overwrite: bool = False) -> tuple[Path, Path]:
    """Writes chairman-signature.png and agency-seal.png (kept if present)."""
    directory.mkdir(parents=True, exist_ok=True)
    signature = directory / "chairman-signature.png"
    seal = directory / "agency-seal.png"
    if overwrite or not signature.exists():
        signature.write_bytes(make_signature_png())
    if overwrite or not seal.exists():
        seal.write_bytes(make_seal_png())
    return signature, seal
