"""Visible appearances: the page as Poppler renders it (pdftoppm), checked pixel by pixel."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fontTools.ttLib import TTFont
from PIL import Image

from services.signing.adapters.flows import AGENCY_FIELD, sign_annex, sign_as_agency, sign_as_leader
from services.signing.adapters.pades import find_signature_field, page_size
from services.signing.adapters.synthetic_images import make_seal_png, make_signature_png
from services.signing.adapters.stamps import render_agency_stamp, render_annex_stamp, render_leader_stamp
from services.signing.domain.appearance import agency_stamp_lines, annex_stamp_lines
from services.signing.domain.placement import MM, Box
from shared.pdfdocs import FONT_BOLD, FONT_REGULAR, LEADER_FIELD, render_document

DPI = 100
SCALE = DPI / 72  # pixels per point
AGENCY_NAME = "UBND xã Hoằng Đức"


def render_page(pdf: bytes, tmp_path: Path, page: int = 0) -> np.ndarray:
    src = tmp_path / "page.pdf"
    src.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-f", str(page + 1), "-l", str(page + 1), "-png", "-singlefile",
         str(src), str(tmp_path / "page")],
        check=True,
    )
    return np.asarray(Image.open(tmp_path / "page.png").convert("RGB")).astype(int)


def region(img: np.ndarray, box: Box, page_height: float) -> np.ndarray:
    """Pixels of a box given in PDF points (origin bottom-left)."""
    x1, x2 = int(box.x1 * SCALE), int(box.x2 * SCALE)
    y1, y2 = int((page_height - box.y2) * SCALE), int((page_height - box.y1) * SCALE)
    return img[y1:y2, x1:x2]


def red(px: np.ndarray) -> int:
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    return int(((r > 150) & (g < 100) & (b < 100)).sum())


def blue(px: np.ndarray) -> int:
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    return int(((b > 120) & (r < 100) & (g < 120)).sum())


def dark(px: np.ndarray) -> int:
    return int((px.max(axis=-1) < 100).sum())


@pytest.mark.token
async def test_seal_is_red_over_left_third_of_leader_signature(keyring, trust, images, signing_time, tmp_path):
    doc = render_document()
    leader_signed = await sign_as_leader(doc.pdf, key=keyring.key("chairman"), signature_png=images[0],
                                         signing_time=signing_time)
    both = await sign_as_agency(leader_signed, key=keyring.key("agency"), trust=trust,
                                agency_name=AGENCY_NAME, seal_png=images[1], signing_time=signing_time)
    leader = find_signature_field(both, LEADER_FIELD).box
    seal_field = find_signature_field(both, AGENCY_FIELD).box
    height = page_size(both).height
    third = leader.x1 + leader.width / 3

    before = render_page(leader_signed, tmp_path)
    after = render_page(both, tmp_path)
    Image.fromarray(after.astype("uint8")).save(tmp_path / "signed-page.png")  # for a human look

    # Before the agency signs: a blue signature in the box and no red anywhere on the page.
    assert blue(region(before, leader, height)) > 500
    assert red(before) == 0

    # After: red seal pixels inside the left third of the leader box ...
    left_third = Box(leader.x1, leader.y1, third, leader.y2)
    assert red(region(after, left_third, height)) > 300
    # ... none in the rest of the leader box (the seal stops at about one third) ...
    right_part = Box(third + 2, leader.y1, leader.x2, leader.y2)
    assert red(region(after, right_part, height)) == 0
    # ... the signature still shows to the right of the seal ...
    assert blue(region(after, right_part, height)) > 300
    # ... and the seal is drawn at real size, 35 mm across.
    seal_px = region(after, seal_field, height)
    cols = np.where(((seal_px[..., 0] > 150) & (seal_px[..., 1] < 100)).any(axis=0))[0]
    assert (cols.max() - cols.min()) / SCALE == pytest.approx(35 * MM, rel=0.05)
    # Nothing red outside the agency stamp box.
    outside = after.copy()
    sb = seal_field
    outside[int((height - sb.y2) * SCALE):int((height - sb.y1) * SCALE) + 1,
            int(sb.x1 * SCALE):int(sb.x2 * SCALE) + 1] = 255
    assert red(outside) == 0


@pytest.mark.token
async def test_annex_text_is_black_at_top_right(keyring, signing_time, tmp_path):
    annex = render_document().pdf
    signed = await sign_annex(annex, key=keyring.key("agency"), number_notation="12/QĐ-UBND",
                              signing_time=signing_time)
    box = find_signature_field(signed, AGENCY_FIELD).box
    height = page_size(signed).height
    before = render_page(annex, tmp_path)
    after = render_page(signed, tmp_path)
    assert dark(region(before, box, height)) == 0  # the top margin was empty
    assert dark(region(after, box, height)) > 150
    assert red(after) == 0 and blue(after) == 0  # text only, black, no image


def test_stamp_text_has_every_glyph_in_the_font(signing_time):
    """No missing-glyph boxes: Liberation Serif maps every character we draw."""
    text = "".join(agency_stamp_lines("UBND xã Hoằng Đức", signing_time)
                   + annex_stamp_lines("12/QĐ-UBND", signing_time)
                   + ["ỦY BAN NHÂN DÂN XÃ HOẰNG ĐỨC TỈNH THANH HÓA SAO Y SAO LỤC TRÍCH SAO"])
    for font_path in (FONT_REGULAR, FONT_BOLD):
        cmap = TTFont(font_path).getBestCmap()
        missing = {ch for ch in text if ord(ch) not in cmap}
        assert not missing, (font_path.name, missing)


def test_stamps_have_transparent_background_and_sizes_in_points(signing_time):
    leader = render_leader_stamp(make_signature_png(), (170.0, 85.0))
    agency, layout = render_agency_stamp(make_seal_png(), AGENCY_NAME, signing_time)
    annex = render_annex_stamp("12/QĐ-UBND", signing_time)
    for stamp in (leader, agency, annex):
        img = Image.open(io.BytesIO(stamp.png))
        assert img.mode == "RGBA"
        assert img.getpixel((0, 0))[3] == 0  # corner is transparent
        # 300 dpi: pixels / points = 300 / 72
        assert img.width / stamp.width_pt == pytest.approx(300 / 72, rel=0.01)
        assert img.height / stamp.height_pt == pytest.approx(300 / 72, rel=0.01)
    assert leader.size == (170.0, 85.0)
    assert agency.width_pt == pytest.approx(35 * MM)
    assert agency.height_pt == pytest.approx(layout.stamp_height)
    # 10 pt text: two lines of 1.2 x 10 pt plus padding
    assert annex.height_pt == pytest.approx(2 * 12 + 2)


def test_synthetic_images_are_blue_signature_and_real_size_red_seal():
    sig = np.asarray(Image.open(io.BytesIO(make_signature_png())).convert("RGBA")).astype(int)
    ink = sig[sig[..., 3] > 200]
    assert len(ink) > 1000 and (ink[:, 2] > 120).all() and (ink[:, 0] < 60).all()  # blue ink
    assert sig[0, 0, 3] == 0
    seal_img = Image.open(io.BytesIO(make_seal_png()))
    assert seal_img.info["dpi"][0] == pytest.approx(300, abs=0.1)
    assert seal_img.width == seal_img.height == round(35 / 25.4 * 300)  # 35 mm at 300 dpi
    seal = np.asarray(seal_img.convert("RGBA")).astype(int)
    ink = seal[seal[..., 3] > 200]
    assert (ink[:, 0] > 150).all() and (ink[:, 1] < 60).all()  # red
    assert seal[0, 0, 3] == 0 and seal[seal.shape[0] // 2, 2, 3] > 0  # round: corner empty, rim inked
