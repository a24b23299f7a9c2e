"""Dossiers (R-10.1 … R-11.3): the keeper opens, fills, closes and submits them; the archivist
checks submitted ones, accepts or returns them, proposes disposal of expired ones."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from services.portal.entrypoints.web import PageError, PortalRoute, act, back, render, try_get
from shared.clock import utcnow, vn_date

router = APIRouter(route_class=PortalRoute, tags=["dossiers"])


def _code(code: str) -> str:
    return quote(code, safe="")


@router.get("/ho-so")
async def dossiers(request: Request, year: int | None = None, state: str = "") -> Response:
    year = year or vn_date(utcnow()).year
    params = {"year": year, **({"state": state} if state else {})}
    rows, error = await try_get(request, "archive", "/dossiers", params=params)
    catalogue, _ = await try_get(request, "archive", f"/catalogue/{year}")
    return render(request, "dossiers.html", title="Hồ sơ", dossiers=rows or [], catalogue=catalogue or [], year=year,
                  state=state, error=error)


@router.post("/ho-so")
async def open_dossier(request: Request, year: int = Form(...), notation: str = Form(...), description: str = Form(""),
                       rights: str = Form("Công khai")) -> Response:
    dossier = await act(request, "archive", "POST", "/dossiers",
                        json={"year": year, "notation": notation, "description": description, "rights": rights})
    return back(f"/ho-so/{_code(dossier['code'])}", "dossier_opened")


@router.get("/ho-so/{code}")
async def dossier_page(code: str, request: Request) -> Response:
    dossier, error = await try_get(request, "archive", f"/dossiers/{_code(code)}")
    if dossier is None:
        raise PageError(404, error or "Không có hồ sơ này.")
    return render(request, "dossier.html", title=dossier.get("title") or code, dossier=dossier)


@router.post("/ho-so/{code}/van-ban")
async def add_item(code: str, request: Request, record_id: str = Form(...)) -> Response:
    await act(request, "archive", "POST", f"/dossiers/{_code(code)}/items", json={"record_id": record_id.strip()})
    return back(f"/ho-so/{_code(code)}", "dossier_item")


@router.post("/ho-so/{code}/dong")
async def close(code: str, request: Request) -> Response:
    await act(request, "archive", "POST", f"/dossiers/{_code(code)}/close", json={})
    return back(f"/ho-so/{_code(code)}", "dossier_closed")


@router.post("/ho-so/{code}/nop")
async def submit(code: str, request: Request) -> Response:
    await act(request, "archive", "POST", f"/dossiers/{_code(code)}/submit", json={})
    return back(f"/ho-so/{_code(code)}", "dossier_submitted")


# ---- the archivist -------------------------------------------------------------------------------


@router.get("/luu-tru")
async def archivist_home(request: Request) -> Response:
    submitted, error = await try_get(request, "archive", "/dossiers", params={"state": "submitted"})
    expired, _ = await try_get(request, "archive", "/dossiers/expired")
    due, _ = await try_get(request, "archive", "/dossiers/due-for-submission")
    proposed, _ = await try_get(request, "archive", "/dossiers", params={"state": "disposal_proposed"})
    return render(request, "archivist_home.html", title="Lưu trữ", submitted=submitted or [], expired=expired or [],
                  due=due or [], proposed=proposed or [], error=error)


@router.post("/ho-so/{code}/tiep-nhan")
async def accept(code: str, request: Request) -> Response:
    await act(request, "archive", "POST", f"/dossiers/{_code(code)}/accept", json={})
    return back(f"/ho-so/{_code(code)}", "dossier_accepted")


@router.post("/ho-so/{code}/tra-lai")
async def return_dossier(code: str, request: Request, reasons: str = Form("")) -> Response:
    if not reasons.strip():
        raise PageError(422, "Ghi lý do trả lại hồ sơ.")
    await act(request, "archive", "POST", f"/dossiers/{_code(code)}/return", json={"reasons": reasons})
    return back("/luu-tru", "dossier_returned")


@router.post("/ho-so/{code}/de-nghi-huy")
async def propose_disposal(code: str, request: Request, reason: str = Form("")) -> Response:
    if not reason.strip():
        raise PageError(422, "Ghi lý do đề nghị hủy.")
    await act(request, "archive", "POST", f"/dossiers/{_code(code)}/disposal/propose", json={"reason": reason})
    return back("/luu-tru", "disposal_proposed")
