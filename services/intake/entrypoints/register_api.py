"""The incoming register for a year as the clerk uses it: listed, filtered, exported to XLSX
and PDF (sổ đăng ký văn bản đến, NĐ 30 Phụ lục IV; R-6.3)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.intake.adapters import repository as repo
from services.intake.domain.register import COLUMNS, WIDTHS_MM, RegisterFilter, register_rows
from shared.register_files import FORMATS, render
from shared.service import ctx_of

router = APIRouter(tags=["incoming register"])


async def _rows(request: Request, year: int, selection: RegisterFilter) -> list[list[str]]:
    documents = await ctx_of(request).store.db[repo.DOCUMENTS].find(
        {"register.year": year}, sort=[("register.number", 1)],
        projection={"register": 1, "arrived_at": 1, "metadata": 1, "assignment": 1, "possible_duplicate_of": 1, "state": 1},
    ).to_list()
    return register_rows(documents, selection)


def _filter(arrived_from, arrived_to, sender, q) -> RegisterFilter:
    return RegisterFilter(arrived_from=arrived_from, arrived_to=arrived_to, sender=sender or None, text=q or None)


@router.get("/register/{year}/rows")
async def register_table(
    year: int, request: Request,
    arrived_from: dt.date | None = Query(None, alias="from"), arrived_to: dt.date | None = Query(None, alias="to"),
    sender: str | None = None, q: str | None = None,
) -> dict:
    """The register as the printed book shows it: the decree's columns, one row per document."""
    return {"year": year, "columns": list(COLUMNS), "rows": await _rows(request, year, _filter(arrived_from, arrived_to, sender, q))}


@router.get("/register/{year}/export.{fmt}")
async def register_export(
    year: int, fmt: str, request: Request,
    arrived_from: dt.date | None = Query(None, alias="from"), arrived_to: dt.date | None = Query(None, alias="to"),
    sender: str | None = None, q: str | None = None,
) -> Response:
    if fmt not in FORMATS:
        return Response(f"unknown format {fmt!r}: use xlsx or pdf", status_code=404)
    rows = await _rows(request, year, _filter(arrived_from, arrived_to, sender, q))
    body, media = render(fmt, rows, title=f"SỔ ĐĂNG KÝ VĂN BẢN ĐẾN NĂM {year}", columns=COLUMNS, widths_mm=WIDTHS_MM,
                         sheet_title="So van ban den")
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="so-van-ban-den-{year}.{fmt}"'})
