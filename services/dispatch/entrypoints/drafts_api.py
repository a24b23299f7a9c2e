"""HTTP API of drafts and approval (R-6.3, R-7.1): create, new version, submit, return with
comments, approve; the leaders' queue (urgent first). Who is acting comes in the request until
signed-in accounts arrive with the web application (issue 6)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from pydantic import BaseModel, Field

from services.dispatch.domain.drafts import DraftError
from services.dispatch.handlers import drafts
from shared.service import ctx_of
from shared.auth import acting_user

router = APIRouter(tags=["drafts"])
MAX_UPLOAD = 64 * 1024 * 1024


class Actor(BaseModel):
    by: str | None = Field(None, min_length=1)


class Comment(Actor):
    comment: str = Field("", max_length=4000)


def _public(draft: dict) -> dict:
    return {("id" if k == "_id" else k): v for k, v in draft.items()}


async def _run(coroutine) -> dict:
    try:
        return _public(await coroutine)
    except drafts.DraftNotFound as exc:
        raise HTTPException(404, "Không có dự thảo này.") from exc
    except DraftError as exc:
        raise HTTPException(409 if exc.conflict else 422, exc.message_vi) from exc


async def _read(file: UploadFile) -> bytes:
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise HTTPException(413, "Tệp lớn hơn 64 MiB.")
    return data


@router.post("/drafts", status_code=201)
async def create(
    request: Request,
    file: UploadFile = File(..., description="dự thảo: PDF, DOCX hoặc ODT theo mẫu của xã"),
    author: str | None = Form(None),
    type_name: str = Form(...),
    subject: str = Form(...),
    recipients: str = Form(..., description="mã định danh nơi nhận, cách nhau bởi dấu phẩy"),
    urgency: int = Form(0),
    due_date: dt.date | None = Form(None),
    drafting_unit: str = Form("VP"),
    category: str = Form("normal"),
    answers: str = Form("", description="văn bản đến mà dự thảo trả lời (mã trong hệ thống), cách nhau bởi dấu phẩy"),
) -> dict:
    fields = {"type_name": type_name, "subject": subject.strip(), "recipients": [r.strip() for r in recipients.split(",") if r.strip()],
              "urgency": urgency, "due_date": due_date.isoformat() if due_date else None, "drafting_unit": drafting_unit,
              "category": category}
    return await _run(drafts.create_draft(ctx_of(request), name=file.filename or "du-thao", data=await _read(file),
                                          author=acting_user(request, author), fields=fields,
                                          answers=[a.strip() for a in answers.split(",") if a.strip()]))


@router.post("/drafts/{draft_id}/versions")
async def new_version(draft_id: str, request: Request, file: UploadFile = File(...), by: str | None = Form(None)) -> dict:
    return await _run(drafts.add_version(ctx_of(request), draft_id, name=file.filename or "du-thao", data=await _read(file), by=acting_user(request, by)))


@router.post("/drafts/{draft_id}/submit")
async def submit(draft_id: str, body: Actor, request: Request) -> dict:
    return await _run(drafts.submit(ctx_of(request), draft_id, by=acting_user(request, body.by)))


@router.post("/drafts/{draft_id}/return")
async def return_with_comments(draft_id: str, body: Comment, request: Request) -> dict:
    return await _run(drafts.return_with_comments(ctx_of(request), draft_id, by=acting_user(request, body.by), comment=body.comment))


@router.post("/drafts/{draft_id}/approve")
async def approve(draft_id: str, body: Actor, request: Request) -> dict:
    return await _run(drafts.approve(ctx_of(request), draft_id, by=acting_user(request, body.by)))


@router.get("/drafts/{draft_id}")
async def get_draft(draft_id: str, request: Request) -> dict:
    draft = await ctx_of(request).store.db[drafts.DRAFTS].find_one({"_id": draft_id})
    if draft is None:
        raise HTTPException(404, "Không có dự thảo này.")
    return _public(draft)


@router.get("/drafts")
async def list_drafts(request: Request, state: str | None = None, author: str | None = None) -> list[dict]:
    """The leaders' queue is `state=submitted` (urgent first); an officer's own is `author=`."""
    query = {k: v for k, v in (("state", state), ("author", author)) if v}
    rows = await ctx_of(request).store.db[drafts.DRAFTS].find(query, sort=[("urgency", -1), ("created_at", 1)],
                                                              limit=500).to_list()
    return [_public(r) for r in rows]
