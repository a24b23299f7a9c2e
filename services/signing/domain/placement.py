"""Where the visible signatures go on a page (pure geometry, no I/O).

Units are PDF points (1/72 in), origin at the bottom-left corner of the page, boxes are
(x1, y1, x2, y2) with x1 < x2 and y1 < y2 — the convention of pyHanko's `SigFieldSpec.box`.

Rules (standards.md §4, NĐ 30/2020 Phụ lục I):
- leader (người có thẩm quyền): the blue signature image sits in the signer's block (ô 7c);
  documents rendered by `shared.pdfdocs` already carry an empty field there.
- agency, main document (II.8): the red seal, real size, covers about the LEFT THIRD of the
  leader's signature image (the paper rule of Điều 33.1(b)).
- agency, annex in a separate file and official e-copies (SAO Y …): text only, top-right corner
  of page 1.
- agency, digitised incoming paper document (commune regulation Art. 6.5c, R-6.5): seal image
  with name and time at the top-left corner of page 1.
"""

from __future__ import annotations

from dataclasses import dataclass

MM = 72 / 25.4  # points per millimetre

SEAL_DIAMETER_MM = 35.0  # a commune People's Committee seal is about 35 mm across
SEAL_DIAMETER_PT = SEAL_DIAMETER_MM * MM


@dataclass(frozen=True)
class Box:
    x1: float
    y1: float
    x2: float
    y2: float

    def __post_init__(self) -> None:
        if not (self.x1 < self.x2 and self.y1 < self.y2):
            raise ValueError(f"degenerate box {self.as_tuple()}")

    @classmethod
    def of(cls, box: Box | tuple[float, float, float, float]) -> Box:
        if isinstance(box, Box):
            return box
        x1, y1, x2, y2 = box
        return cls(min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))

    @classmethod
    def from_size(cls, x1: float, y1: float, width: float, height: float) -> Box:
        return cls(x1, y1, x1 + width, y1 + height)

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2)

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    def intersection(self, other: Box) -> Box | None:
        x1, y1 = max(self.x1, other.x1), max(self.y1, other.y1)
        x2, y2 = min(self.x2, other.x2), min(self.y2, other.y2)
        return Box(x1, y1, x2, y2) if x1 < x2 and y1 < y2 else None


@dataclass(frozen=True)
class PageSize:
    width: float
    height: float


A4 = PageSize(595.2756, 841.8898)


@dataclass(frozen=True)
class Margins:
    """Distance from the page edges, in points."""

    top: float = 8 * MM
    right: float = 15 * MM
    left: float = 15 * MM


@dataclass(frozen=True)
class AgencyStampLayout:
    """Where the round seal sits inside the agency stamp image: the seal is a circle of
    `seal_diameter` at the top of the stamp, horizontally centred; below it a band of
    `text_band` points holds the agency name and the signing time."""

    seal_diameter: float = SEAL_DIAMETER_PT
    text_band: float = 0.0
    width: float | None = None  # defaults to the seal diameter

    @property
    def stamp_width(self) -> float:
        return max(self.width or self.seal_diameter, self.seal_diameter)

    @property
    def stamp_height(self) -> float:
        return self.seal_diameter + self.text_band


def agency_seal_box(
    leader_box: Box | tuple[float, float, float, float],
    layout: AgencyStampLayout = AgencyStampLayout(),  # noqa: B008 (frozen dataclass)
    *,
    overlap: float = 1 / 3,
    page: PageSize | None = None,
) -> Box:
    """Box of the agency stamp for a main document (NĐ 30 Phụ lục I II.8, standards §4.2).

    The seal circle is centred vertically on the leader's signature box and its right edge lies
    `overlap` of the way into that box, so the seal covers about the left third of the
    signature image. When a page is given the box is shifted (never resized) to stay on it.
    """
    if not 0 < overlap < 1:
        raise ValueError("overlap is a fraction of the leader box width")
    leader = Box.of(leader_box)
    d = layout.seal_diameter
    seal_right = leader.x1 + overlap * leader.width
    seal_cx = seal_right - d / 2
    _, cy = leader.center
    top = cy + d / 2
    x1 = seal_cx - layout.stamp_width / 2
    box = Box(x1, top - layout.stamp_height, x1 + layout.stamp_width, top)
    return _keep_on_page(box, page) if page else box


def seal_circle(stamp_box: Box, layout: AgencyStampLayout = AgencyStampLayout()) -> Box:  # noqa: B008
    """The square around the seal circle inside an agency stamp box (for checks and tests)."""
    cx = (stamp_box.x1 + stamp_box.x2) / 2
    d = layout.seal_diameter
    return Box(cx - d / 2, stamp_box.y2 - d, cx + d / 2, stamp_box.y2)


def annex_text_box(
    page: PageSize, stamp_size: tuple[float, float], margins: Margins = Margins()  # noqa: B008
) -> Box:
    """Top-right corner of page 1: separate-file annexes and official e-copies (§4.2, §4.3).
    Text only; the stamp's natural size in points is given by the renderer."""
    w, h = stamp_size
    x2 = page.width - margins.right
    y2 = page.height - margins.top
    return _keep_on_page(Box(x2 - w, y2 - h, x2, y2), page)


def digitised_seal_box(
    page: PageSize, stamp_size: tuple[float, float], margins: Margins = Margins()  # noqa: B008
) -> Box:
    """Top-left corner of page 1: a digitised incoming paper document (R-6.5, regulation
    Art. 6.5c), seal image with the agency name and signing time."""
    w, h = stamp_size
    x1 = margins.left
    y2 = page.height - margins.top
    return _keep_on_page(Box(x1, y2 - h, x1 + w, y2), page)


def _keep_on_page(box: Box, page: PageSize) -> Box:
    dx = max(0.0, -box.x1) - max(0.0, box.x2 - page.width)
    dy = max(0.0, -box.y1) - max(0.0, box.y2 - page.height)
    return Box(box.x1 + dx, box.y1 + dy, box.x2 + dx, box.y2 + dy)
