"""The outgoing register for a year as the clerk uses it: listed, filtered, exported to XLSX
and PDF (sổ đăng ký văn bản đi, NĐ 30 Phụ lục IV; R-7.2)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.dispatch.adapters import repository as repo
from services.dispatch.domain.register import (
    COLUMNS,
    WIDTHS_MM,
    RegisterFilter,
    register_rows,
)
from shared.register_files import FORMATS, render
from shared.service import ctx_of

router = APIRouter(tags=["outgoing register"])


async def _rows(request: Request, year: int, selection: RegisterFilter) -> list[list[str]]:
    documents = await ctx_of(request).store.db[repo.OUTGOING].find(
        {"register.year": year}, sort=[("register.number", 1)],
        projection={"register": 1, "code": 1, "issued_date": 1, "issued_at": 1, "type_name": 1, "subject": 1, "signer": 1,
                    "recipients": 1, "state": 1, "urgency": 1, "cancellation": 1},
    ).to_list()
    return register_rows(documents, selection)


def _filter(issued_from, issued_to, recipient, q) -> RegisterFilter:
    return RegisterFilter(issued_from=issued_from, issued_to=issued_to, recipient=recipient or None, text=q or None)


@router.get("/register/{year}/rows")
async def register_table(
    year: int, request: Request,
    issued_from: dt.date | None = Query(None, alias="from"), issued_to: dt.date | None = Query(None, alias="to"),
    recipient: str | None = None, q: str | None = None,
) -> dict:
    """The register as the printed book shows it: the decree's columns, one row per number."""
    return {"year": year, "columns": list(COLUMNS), "rows": await _rows(request, year, _filter(issued_from, issued_to, recipient, q))}


@router.get("/register/{year}/export.{fmt}")
async def register_export(
    year: int, fmt: str, request: Request,
    issued_from: dt.date | None = Query(None, alias="from"), issued_to: dt.date | None = Query(None, alias="to"),
    recipient: str | None = None, q: str | None = None,
) -> Response:
    if fmt not in FORMATS:
        return Response(f"unknown format {fmt!r}: use xlsx or pdf", status_code=404)
    rows = await _rows(request, year, _filter(issued_from, issued_to, recipient, q))
    body, media = render(fmt, rows, title=f"SỔ ĐĂNG KÝ VĂN BẢN ĐI NĂM {year}", columns=COLUMNS, widths_mm=WIDTHS_MM,
                         sheet_title="So van ban di")
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="so-van-ban-di-{year}.{fmt}"'})
