"""The chairman's and vice-chairmen's screens (R-6.3, R-6.4, R-7.1, R-7.4): documents to assign
(lead, cooperating officers, deadlines, direction), drafts to approve and sign or return with
comments — urgent items on top."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from services.portal.adapters.services import ServiceError
from services.portal.entrypoints.web import PageError, PortalRoute, act, back, render, try_get

router = APIRouter(route_class=PortalRoute, tags=["leaders"])


@router.get("/lanh-dao")
async def leader_home(request: Request) -> Response:
    awaiting, error = await try_get(request, "intake", "/handling/awaiting-assignment")
    drafts, error_drafts = await try_get(request, "dispatch", "/drafts", params={"state": "submitted"})
    late, _ = await try_get(request, "dispatch", "/issuing/late")
    # what the clerk handed in waits for the named leader's own approval
    handed_in, error_handed_in = await try_get(request, "dispatch", "/outgoing", params={"state": "awaiting_approval"})
    me = request.state.caller.user
    handed_in = sorted((d for d in handed_in or [] if (d.get("approval") or {}).get("asked_of") == me),
                       key=lambda d: -int(d.get("urgency") or 0))
    awaiting = sorted(awaiting or [], key=lambda d: -int(d.get("priority") or 0))  # urgent first (R-4.2c)
    drafts = sorted(drafts or [], key=lambda d: -int(d.get("urgency") or 0))
    return render(request, "leader_home.html", title="Giao việc và duyệt văn bản", awaiting=awaiting, drafts=drafts,
                  handed_in=handed_in, late=(late or {}).get("overdue", []), error=error or error_drafts or error_handed_in)


async def _officers(request: Request) -> list[dict]:
    staff, _ = await try_get(request, "intake", "/staff")
    return [m for m in staff or [] if m.get("role") == "officer"]


@router.get("/van-ban-den/{key}/giao-viec")
async def assignment_form(key: str, request: Request) -> Response:
    document, error = await try_get(request, "intake", f"/documents/{quote(key, safe='')}")
    if document is None:
        raise PageError(404, error or "Không có văn bản đến này.")
    return render(request, "assign.html", title="Giao việc", doc=document, officers=await _officers(request), values={})


def _task(officer: str, days: str, date: str) -> dict:
    task: dict = {"officer": officer}
    if date.strip():
        task["due_date"] = date.strip()
    elif days.strip():
        task["working_days"] = int(days)
    return task


@router.post("/van-ban-den/{key}/giao-viec")
async def assign(key: str, request: Request, lead: str = Form(""), lead_days: str = Form(""), lead_date: str = Form(""),
                 note: str = Form(""), reply_due: str = Form("")) -> Response:
    form = await request.form()
    values = {"lead": lead, "lead_days": lead_days, "lead_date": lead_date, "note": note, "reply_due": reply_due,
              "cooperating": list(form.getlist("cooperating"))}
    problems = [] if lead else ["Chọn cán bộ chủ trì."]
    if not problems:
        try:  # a day count that is not a number is the form's problem (found by schemathesis: 'Infinity')
            cooperating = [_task(str(officer), str(form.get(f"days_{officer}", "") or lead_days),
                                 str(form.get(f"date_{officer}", "") or lead_date))
                           for officer in form.getlist("cooperating") if officer and officer != lead]
            body = {"lead": _task(lead, lead_days, lead_date), "cooperating": cooperating, "note": note}
            if reply_due.strip():
                body["reply_due"] = reply_due.strip()
            await act(request, "intake", "POST", f"/documents/{quote(key, safe='')}/assignment", json=body)
        except ServiceError as exc:
            if exc.status not in (409, 422):
                raise
            problems = [exc.message_vi]
        except ValueError:
            problems = ["Số ngày xử lý phải là số."]
    if problems:
        document, _ = await try_get(request, "intake", f"/documents/{quote(key, safe='')}")
        return render(request, "assign.html", status=422, title="Giao việc", doc=document or {"id": key},
                      officers=await _officers(request), values=values, problems=problems)
    return back("/lanh-dao", "assigned")


@router.post("/du-thao/{draft_id}/duyet")
async def approve(draft_id: str, request: Request) -> Response:
    await act(request, "dispatch", "POST", f"/drafts/{quote(draft_id, safe='')}/approve", json={})
    return back(f"/du-thao/{quote(draft_id, safe='')}", "draft_approved")


@router.post("/du-thao/{draft_id}/tra-lai")
async def return_draft(draft_id: str, request: Request, comment: str = Form("")) -> Response:
    if not comment.strip():
        raise PageError(422, "Ghi ý kiến khi trả lại dự thảo.")
    await act(request, "dispatch", "POST", f"/drafts/{quote(draft_id, safe='')}/return", json={"comment": comment})
    return back(f"/du-thao/{quote(draft_id, safe='')}", "draft_returned")


@router.post("/van-ban-di/{key}/duyet")
async def approve_handed_in(key: str, request: Request) -> Response:
    """The leader approves, himself, a document the clerk handed in; his key then signs it."""
    await act(request, "dispatch", "POST", f"/outgoing/{quote(key, safe='')}/approve", json={})
    return back(f"/van-ban-di/{quote(key, safe='')}", "outgoing_approved")


@router.post("/van-ban-di/{key}/tra-lai")
async def return_handed_in(key: str, request: Request, reason: str = Form("")) -> Response:
    if not reason.strip():
        raise PageError(422, "Ghi lý do trả lại để văn thư biết.")
    await act(request, "dispatch", "POST", f"/outgoing/{quote(key, safe='')}/return", json={"reason": reason})
    return back(f"/van-ban-di/{quote(key, safe='')}", "outgoing_returned")


@router.post("/van-ban-di/{key}/thu-hoi")
async def recall(key: str, request: Request, reason: str = Form("")) -> Response:
    await act(request, "dispatch", "POST", f"/outgoing/{quote(key, safe='')}/recall", json={"reason": reason})
    return back(f"/van-ban-di/{quote(key, safe='')}", "recall_sent")
