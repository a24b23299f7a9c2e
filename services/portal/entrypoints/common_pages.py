"""What everyone who reads documents has: search (archive GET /search) and a document's page
(metadata, files, signatures and the verification report, history)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.portal.entrypoints.web import PageError, PortalRoute, account, render, services, caller, try_get
from services.portal.adapters.services import ServiceError

router = APIRouter(route_class=PortalRoute, tags=["documents"])


def record_link(rid: str) -> str:
    source, _, key = rid.partition(":")
    if source == "incoming":
        return f"/van-ban-den/{quote(key, safe='')}"
    if source == "outgoing":
        return f"/van-ban-di/{quote(key, safe='')}"
    return f"/ban-luu/{quote(rid, safe='')}"


@router.get("/tra-cuu")
async def search(request: Request, q: str = "", year: str = "", type: str = "", source: str = "", offset: int = 0) -> Response:
    params = {k: v for k, v in (("q", q.strip()), ("year", year.strip()), ("type", type.strip()), ("source", source)) if v}
    found, error = (None, None)
    if params:
        found, error = await try_get(request, "archive", "/search", params={**params, "offset": max(offset, 0), "limit": 20})
    return render(request, "search.html", title="Tra cứu", q=q, year=year, type=type, source=source, found=found,
                  error=error, link=record_link, offset=offset, searched=bool(params))


@router.get("/van-ban-den/{key}")
async def incoming_page(key: str, request: Request) -> Response:
    document, error = await try_get(request, "intake", f"/documents/{quote(key, safe='')}")
    if document is None:
        raise PageError(404, error or "Không có văn bản đến này.")
    record, _ = await try_get(request, "archive", f"/records/{quote('incoming:' + key, safe='')}")
    audit, audit_error = await try_get(request, "intake", f"/documents/{quote(key, safe='')}/audit")
    who = account(request)
    tasks = [t for t in ((document.get("assignment") or {}).get("tasks") or []) if t.get("officer") == who.get("_id")]
    return render(request, "incoming.html", title=(document.get("metadata") or {}).get("subject") or "Văn bản đến",
                  doc=document, record=record, my_tasks=tasks, audit=audit or [], audit_error=audit_error)


@router.get("/van-ban-di/{key}")
async def outgoing_page(key: str, request: Request) -> Response:
    document, error = await try_get(request, "dispatch", f"/outgoing/{quote(key, safe='')}")
    if document is None:
        raise PageError(404, error or "Không có văn bản đi này.")
    record, _ = await try_get(request, "archive", f"/records/{quote('outgoing:' + key, safe='')}")
    audit, audit_error = await try_get(request, "dispatch", f"/outgoing/{quote(key, safe='')}/audit")
    return render(request, "outgoing.html", title=document.get("subject") or "Văn bản đi", doc=document, record=record,
                  audit=audit or [], audit_error=audit_error)


@router.get("/ban-luu/{rid}")
async def record_page(rid: str, request: Request) -> Response:
    record, error = await try_get(request, "archive", f"/records/{quote(rid, safe='')}")
    if record is None:
        raise PageError(404, error or "Không có bản lưu này.")
    return render(request, "record.html", title=record.get("subject") or "Bản lưu", record=record)


@router.get("/tep/{rid}/{sha256}")
async def download(rid: str, sha256: str, request: Request) -> Response:
    """A kept file, fetched from the archive as the signed-in user (the browser has no token)."""
    try:
        response = await services(request).request(caller(request), "archive", "GET",
                                                   f"/records/{quote(rid, safe='')}/files/{quote(sha256, safe='')}")
    except ServiceError as exc:
        raise PageError(exc.status if exc.status in (404, 410, 403) else 502, exc.message_vi) from exc
    # always a download, never shown in the portal's origin
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
               "Content-Disposition": response.headers.get("content-disposition") or "attachment",
               "Content-Security-Policy": "sandbox"}
    if not headers["Content-Disposition"].lower().startswith("attachment"):
        headers["Content-Disposition"] = "attachment"
    return Response(response.content, media_type=response.headers.get("content-type", "application/octet-stream"),
                    headers=headers)
