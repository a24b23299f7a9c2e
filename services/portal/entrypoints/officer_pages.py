"""The officer's screens (R-6.4, R-7.1, R-10.3, R-15.1): "my work" — assigned, due soon, overdue,
replies owed, with a count of what is new since the last visit — handling a document, drafts."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from services.portal.adapters.services import ServiceError
from services.portal.entrypoints.web import PageError, PortalRoute, act, back, caller, render, try_get
from services.portal.handlers.accounts import new_since_last_visit
from shared.service import ctx_of

router = APIRouter(route_class=PortalRoute, tags=["officers"])
MAX_UPLOAD = 64 * 1024 * 1024
HANDLING_ACTIONS = {"received": "handling_received", "progress": "handling_progress", "completed": "handling_completed"}


@router.get("/viec-cua-toi")
async def my_work(request: Request) -> Response:
    who = caller(request)
    work, error = await try_get(request, "intake", f"/officers/{quote(who.user, safe='')}/work")
    drafts, error_drafts = await try_get(request, "dispatch", "/drafts", params={"author": who.user})
    owed, _ = await try_get(request, "dispatch", "/replies/owed")
    dossiers, _ = await try_get(request, "archive", "/dossiers")
    work = work or {"items": [], "counts": {}, "replies_owed": 0}
    drafts = drafts or []
    owed = [o for o in owed or [] if o.get("officer") == who.user]
    mine = [d for d in dossiers or [] if d.get("creator") == who.user and d.get("state") in ("open", "closed")]
    keys = [f"task:{i['id']}:{i['role']}" for i in work["items"] if i["standing"] not in ("done_on_time", "done_late")]
    keys += [f"draft:{d['id']}:{d['state']}" for d in drafts if d.get("state") in ("returned", "approved")]
    new = await new_since_last_visit(ctx_of(request), who.user, "work", keys) if not (error or error_drafts) else None
    open_items = [i for i in work["items"] if i["standing"] not in ("done_on_time", "done_late")]
    return render(request, "my_work.html", title="Việc của tôi", work=work, open_items=open_items, drafts=drafts,
                  owed=owed, dossiers=mine, new=new, error=error or error_drafts)


@router.post("/van-ban-den/{key}/xu-ly/{action}")
async def handling(key: str, action: str, request: Request, note: str = Form(""), back_to: str = Form("")) -> Response:
    if action not in HANDLING_ACTIONS:
        raise PageError(404, "Không có thao tác này.")
    who = caller(request)
    path = f"/documents/{quote(key, safe='')}/handling/{quote(who.user, safe='')}/{action}"
    await act(request, "intake", "POST", path, **({} if action == "received" else {"json": {"note": note}}))
    safe = back_to if back_to.startswith("/") and not back_to.startswith("//") else "/viec-cua-toi"
    return back(safe, HANDLING_ACTIONS[action])


# ---- drafts (R-7.1) ----------------------------------------------------------------------------


@router.get("/du-thao")
async def drafts(request: Request) -> Response:
    who = caller(request)
    rows, error = await try_get(request, "dispatch", "/drafts", params={"author": who.user})
    return render(request, "drafts.html", title="Dự thảo của tôi", drafts=rows or [], error=error)


@router.get("/du-thao/moi")
async def new_draft_form(request: Request, answers: str = "") -> Response:
    return render(request, "draft_new.html", title="Soạn dự thảo", values={"answers": answers})


@router.post("/du-thao")
async def create_draft(request: Request, file: UploadFile = File(...), type_name: str = Form(""), subject: str = Form(""),
                       recipients: str = Form(""), urgency: int = Form(0), due_date: str = Form(""),
                       answers: str = Form("")) -> Response:
    values = {"type_name": type_name, "subject": subject, "recipients": recipients, "urgency": str(urgency),
              "due_date": due_date, "answers": answers}
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise PageError(413, "Tệp lớn hơn 64 MiB.")
    form = {k: v for k, v in values.items() if v}
    try:
        draft = await act(request, "dispatch", "POST", "/drafts", data=form,
                          files={"file": (file.filename or "du-thao", data, file.content_type or "application/octet-stream")})
    except ServiceError as exc:
        if exc.status not in (409, 422):
            raise
        return render(request, "draft_new.html", status=422, title="Soạn dự thảo", values=values, problems=[exc.message_vi])
    return back(f"/du-thao/{quote(draft['id'], safe='')}", "draft_created")


@router.get("/du-thao/{draft_id}")
async def draft_page(draft_id: str, request: Request) -> Response:
    draft, error = await try_get(request, "dispatch", f"/drafts/{quote(draft_id, safe='')}")
    if draft is None:
        raise PageError(404, error or "Không có dự thảo này.")
    return render(request, "draft.html", title=draft.get("subject") or "Dự thảo", draft=draft)


@router.post("/du-thao/{draft_id}/phien-ban")
async def new_version(draft_id: str, request: Request, file: UploadFile = File(...)) -> Response:
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise PageError(413, "Tệp lớn hơn 64 MiB.")
    await act(request, "dispatch", "POST", f"/drafts/{quote(draft_id, safe='')}/versions",
              files={"file": (file.filename or "du-thao", data, file.content_type or "application/octet-stream")})
    return back(f"/du-thao/{quote(draft_id, safe='')}", "draft_version")


@router.post("/du-thao/{draft_id}/trinh")
async def submit(draft_id: str, request: Request) -> Response:
    await act(request, "dispatch", "POST", f"/drafts/{quote(draft_id, safe='')}/submit", json={})
    return back(f"/du-thao/{quote(draft_id, safe='')}", "draft_submitted")
