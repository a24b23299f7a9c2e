"""HTTP API for digitising paper documents (R-6.5): the clerk uploads the scan with the
document's particulars; a bad scan is refused at once with every problem named."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile

from services.intake.domain.metadata import paper_metadata
from services.intake.handlers import digitise
from shared.auth import acting_user
from shared.directory import cached_directory
from shared.service import ctx_of

router = APIRouter(tags=["digitisation"])


@router.post("/digitisations", status_code=202)
async def digitise_paper_document(
    request: Request,
    files: list[UploadFile] = File(..., description="một tệp PDF, hoặc các trang ảnh JPEG/PNG theo thứ tự"),
    clerk: str | None = Form(None, min_length=1, description="the clerk who digitises (the caller; R-15.5)"),
    sender_organ_id: str = Form("", description="mã định danh nơi gửi, nếu có trong danh mục"),
    sender_name: str = Form("", max_length=500),
    code_number: str = Form("", max_length=20),
    code_notation: str = Form(..., min_length=1, max_length=100),
    issued_date: dt.date = Form(...),
    place: str = Form("", max_length=200),
    type_name: str = Form(..., min_length=1, max_length=100),
    subject: str = Form(..., min_length=1, max_length=2000),
    signer_name: str = Form("", max_length=200),
    signer_position: str = Form("", max_length=200),
    priority: int = Form(0, ge=0, le=3),
    due_date: dt.date | None = Form(None),
) -> dict:
    ctx = ctx_of(request)
    clerk = acting_user(request, clerk)  # recorded as the token's user, nobody else
    if not sender_name and not sender_organ_id:
        raise HTTPException(422, {"problems": ["Ghi tên cơ quan, tổ chức hoặc cá nhân gửi văn bản."]})
    if sender_organ_id and not sender_name:
        known = cached_directory(ctx.settings.directory_file).get(sender_organ_id)
        sender_name = known.name if known else ""
    if issued_date > dt.date.today() + dt.timedelta(days=1):
        raise HTTPException(422, {"problems": [f"Ngày ban hành {issued_date:%d/%m/%Y} ở tương lai."]})
    uploads = [(f.filename or f"trang-{i + 1}", await f.read(digitise.MAX_SCAN_BYTES + 1)) for i, f in enumerate(files)]
    metadata = paper_metadata(sender_organ_id=sender_organ_id, sender_name=sender_name, code_number=code_number,
                              code_notation=code_notation, issued_date=issued_date, place=place, type_name=type_name,
                              subject=subject, signer_name=signer_name, signer_position=signer_position, priority=priority,
                              due_date=due_date)
    try:
        record = await digitise.submit(ctx, files=uploads, metadata=metadata, clerk=clerk)
    except digitise.DigitisationRefused as exc:
        raise HTTPException(422, {"problems": exc.problems}) from exc
    return {"id": record["_id"], "state": record["state"], "scan": record["scan"]}
