"""The clerk's screens (R-5.3, R-6.3, R-6.5, R-7.2, R-7.4): arrivals with their verification
report, the incoming register with its exports, digitising a paper document, documents to check,
number, agency-sign and issue, delivery per recipient, recalls."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from services.portal.adapters.services import ServiceError
from services.portal.entrypoints.web import PageError, PortalRoute, act, back, caller, render, services, try_get
from shared.clock import utcnow, vn_date

router = APIRouter(route_class=PortalRoute, tags=["clerk"])
MAX_SCAN_BYTES = 64 * 1024 * 1024


@router.get("/van-thu")
async def arrivals(request: Request, state: str = "") -> Response:
    """Arrivals to check: the newest incoming documents (urgent first) with their verdict."""
    params = {"limit": 100, **({"state": state} if state else {})}
    documents, error = await try_get(request, "intake", "/documents", params=params)
    awaiting, _ = await try_get(request, "intake", "/handling/awaiting-assignment")
    counts = {}
    for d in documents or []:
        counts[d.get("state")] = counts.get(d.get("state"), 0) + 1
    return render(request, "clerk_arrivals.html", title="Văn bản đến", documents=documents or [], error=error,
                  state=state, counts=counts, awaiting=len(awaiting or []))


@router.get("/van-thu/so-den")
async def register(request: Request, year: int | None = None, q: str = "", sender: str = "") -> Response:
    year = year or vn_date(utcnow()).year
    params = {k: v for k, v in (("q", q.strip()), ("sender", sender.strip())) if v}
    table, error = await try_get(request, "intake", f"/register/{year}/rows", params=params)
    query = "&".join(f"{k}={quote(v)}" for k, v in params.items())
    return render(request, "register.html", title=f"Sổ văn bản đến {year}", year=year, q=q, sender=sender,
                  table=table, error=error, query=query)


@router.get("/van-thu/so-den/{year}/xuat.{fmt}")
async def register_export(year: int, fmt: str, request: Request, q: str = "", sender: str = "") -> Response:
    """The register as XLSX or PDF, fetched from intake for the signed-in user."""
    if fmt not in ("xlsx", "pdf"):
        raise PageError(404, "Chỉ xuất được XLSX hoặc PDF.")
    params = {k: v for k, v in (("q", q.strip()), ("sender", sender.strip())) if v}
    response = await services(request).request(caller(request), "intake", "GET", f"/register/{year}/export.{fmt}",
                                               params=params)
    return Response(response.content, media_type=response.headers.get("content-type"),
                    headers={"Content-Disposition": response.headers.get("content-disposition",
                                                                         f'attachment; filename="so-van-ban-den-{year}.{fmt}"'),
                             "Cache-Control": "no-store"})


@router.get("/van-thu/so-hoa")
async def digitise_form(request: Request) -> Response:
    return render(request, "digitise.html", title="Số hóa văn bản giấy", today=vn_date(utcnow()).isoformat(), values={})


@router.post("/van-thu/so-hoa")
async def digitise(
    request: Request,
    files: list[UploadFile] = File(...),
    sender_organ_id: str = Form(""), sender_name: str = Form(""), code_number: str = Form(""),
    code_notation: str = Form(""), issued_date: str = Form(""), place: str = Form(""), type_name: str = Form(""),
    subject: str = Form(""), signer_name: str = Form(""), signer_position: str = Form(""), priority: int = Form(0),
    due_date: str = Form(""),
) -> Response:
    who = caller(request)
    values = {"sender_organ_id": sender_organ_id, "sender_name": sender_name, "code_number": code_number,
              "code_notation": code_notation, "issued_date": issued_date, "place": place, "type_name": type_name,
              "subject": subject, "signer_name": signer_name, "signer_position": signer_position,
              "priority": str(priority), **({"due_date": due_date} if due_date else {})}
    uploads = []
    for upload in files:
        data = await upload.read(MAX_SCAN_BYTES + 1)
        if len(data) > MAX_SCAN_BYTES:
            raise PageError(413, "Tệp quét lớn hơn 64 MiB.")
        if data:
            uploads.append(("files", (upload.filename or "trang", data, upload.content_type or "application/octet-stream")))
    if not uploads:
        return render(request, "digitise.html", status=422, title="Số hóa văn bản giấy", values=values,
                      problems=["Chọn tệp PDF hoặc các trang ảnh quét."], today=vn_date(utcnow()).isoformat())
    try:
        result = await act(request, "intake", "POST", "/digitisations", data={**values, "clerk": who.user}, files=uploads)
    except ServiceError as exc:
        if exc.status == 422:
            return render(request, "digitise.html", status=422, title="Số hóa văn bản giấy", values=values,
                          problems=[exc.message_vi], today=vn_date(utcnow()).isoformat())
        raise
    return back(f"/van-ban-den/{quote(result['id'], safe='')}", "digitised")


@router.get("/van-thu/van-ban-di")
async def outgoing(request: Request) -> Response:
    """Documents to check, number, agency-sign and issue; late issuing; deliveries not acknowledged."""
    documents, error = await try_get(request, "dispatch", "/outgoing", params={"limit": 200})
    late, _ = await try_get(request, "dispatch", "/issuing/late")
    unacknowledged, _ = await try_get(request, "dispatch", "/deliveries/unacknowledged")
    paper, _ = await try_get(request, "dispatch", "/paper/pending")
    documents = documents or []
    to_check = [d for d in documents if d.get("state") == "awaiting_clerk_check"]
    in_progress = [d for d in documents if d.get("state") in ("awaiting_approval", "leader_signing", "agency_signing", "annex_signing")]
    return render(request, "clerk_outgoing.html", title="Văn bản đi", to_check=to_check, in_progress=in_progress,
                  documents=documents, late=late or {"overdue": [], "late": []}, unacknowledged=unacknowledged or [],
                  paper=paper or [], error=error)


@router.post("/van-ban-di/{key}/kiem-tra-the-thuc")
async def format_check(key: str, request: Request, passed: str = Form(...), remarks: str = Form("")) -> Response:
    ok = passed == "true"
    await act(request, "dispatch", "POST", f"/outgoing/{quote(key, safe='')}/format-check",
              json={"passed": ok, "remarks": remarks})
    return back(f"/van-ban-di/{quote(key, safe='')}", "format_passed" if ok else "format_returned")


@router.get("/van-thu/thu-hoi")
async def recalls(request: Request) -> Response:
    """Incoming documents the sender recalled; our documents recalled and each recipient's answer."""
    incoming, error = await try_get(request, "intake", "/documents", params={"state": "recalled", "limit": 200})
    documents, error_out = await try_get(request, "dispatch", "/outgoing", params={"state": "issued", "limit": 500})
    recalled = [d for d in documents or [] if d.get("recall")]
    return render(request, "recalls.html", title="Thu hồi", incoming=incoming or [], outgoing=recalled,
                  error=error or error_out)


@router.post("/van-ban-den/{key}/chuyen-chu-tich")
async def forward_to_chairman(key: str, request: Request, note: str = Form("")) -> Response:
    """R-6.3, R-5.3: the clerk has checked the arrival and its report and sends it to the chairman."""
    await act(request, "intake", "POST", f"/documents/{quote(key, safe='')}/forward", json={"note": note})
    return back(f"/van-ban-den/{quote(key, safe='')}", "forwarded")
