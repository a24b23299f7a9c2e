"""A converted DOCX/ODT draft has no signature field: find the signer's block on the last page
(the signer's name, as Vietnamese signing tools do) with poppler's `pdftotext -bbox-layout`, and
add the empty leader field in the space above the name (NĐ 30 Phụ lục I II.7: the signature
sits between the position line and the name)."""

from __future__ import annotations

import io
import subprocess
import tempfile
import unicodedata
from pathlib import Path

from lxml import etree
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from shared.pdfdocs import LEADER_FIELD
from shared.text import fold

FIELD_WIDTH = 170.0  # points, about 60 mm
MIN_GAP = 28.0  # points: less than a centimetre is no room for a signature


class NoSignatureBlock(ValueError):
    pass


def _lines(pdf: bytes, page: int) -> tuple[float, list[list[tuple[str, float, float, float, float]]]]:
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "d.pdf"
        path.write_bytes(pdf)
        try:
            html = subprocess.run(["pdftotext", "-bbox-layout", "-f", str(page), "-l", str(page), str(path), "-"],
                                  capture_output=True, check=True, timeout=60).stdout
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as exc:  # a hostile or broken PDF
            raise NoSignatureBlock(f"the last page could not be read ({type(exc).__name__})") from exc
    root = etree.fromstring(html, etree.HTMLParser(encoding="utf-8"))
    height = float(root.find(".//page").get("height"))
    lines = [[(unicodedata.normalize("NFC", w.text or ""), float(w.get("xmin")), float(w.get("ymin")), float(w.get("xmax")), float(w.get("ymax")))
              for w in line.iter("word")] for line in root.iter("line")]
    return height, [line for line in lines if line]


def add_leader_field(pdf: bytes, signer_names: list[str], pages: int) -> bytes:
    """The PDF with an empty LEADER_FIELD above the first of `signer_names` found on the last page."""
    height, lines = _lines(pdf, pages)
    wanted = {fold(name): name for name in signer_names}
    for index, line in enumerate(lines):
        if fold(" ".join(w[0] for w in line)) not in wanted or index == 0:
            continue
        x_min, top = min(w[1] for w in line), min(w[2] for w in line)
        x_max = max(w[3] for w in line)
        above = max(w[4] for w in lines[index - 1])
        gap = top - above
        if gap < MIN_GAP:
            raise NoSignatureBlock(f"only {gap:.0f} pt between the position line and the signer's name")
        centre = (x_min + x_max) / 2
        box = (centre - FIELD_WIDTH / 2, height - top + 2, centre + FIELD_WIDTH / 2, height - above - 2)
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
        append_signature_field(writer, SigFieldSpec(LEADER_FIELD, on_page=pages - 1, box=box))
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()
    raise NoSignatureBlock(f"none of {', '.join(signer_names)} is written on the last page")
