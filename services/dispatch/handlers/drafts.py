"""Use cases of drafts (R-6.3, R-7.1): an officer drafts (PDF, or DOCX/ODT made PDF by
LibreOffice), links the incoming documents it answers, submits; a leader returns it with
comments or approves it, which hands the approved version to the outgoing flow signed with the
approver's own key. Every step in one transaction with its audit entry."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import uuid

import httpx
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader

from services.dispatch.adapters import signature_block
from shared import convert
from services.dispatch.domain import drafts as rules
from services.dispatch.handlers.create import (
    InvalidDraft,
    _check_pdf,
    check_particulars,
    create_outgoing,
)
from shared.clock import utcnow
from shared.db import UnitOfWork
from shared.file_format import detect, pdf_problems
from shared.logging import get_logger
from shared.pdfdocs import LEADER_FIELD, field_names
from shared.service import ServiceContext
from shared.staff import LEADERS, Role, load_staff

log = get_logger(__name__)
DRAFTS = "drafts"


class DraftNotFound(LookupError):
    pass


async def _version(ctx: ServiceContext, name: str, data: bytes, by: str, now: dt.datetime) -> dict:
    family = detect(data)[1]
    if family not in rules.ACCEPTED_FORMATS:
        raise rules.DraftError(f"Dự thảo phải là PDF, DOCX hoặc ODT (tệp {name} là {family or 'định dạng khác'}).")
    if family == "pdf" and (refused := pdf_problems(data)):  # before its text is read for the signer's block
        raise rules.DraftError(f"Dự thảo không được chấp nhận: {'; '.join(refused)}.")
    original = await ctx.blobs.put(data, media_type="application/octet-stream", name=name)
    if family == "pdf":
        pdf = data
    else:
        try:
            pdf = await convert.to_pdf(data, suffix=family)
        except convert.ConversionFailed as exc:
            raise rules.DraftError(f"Không chuyển được {name} sang PDF: {exc}") from exc
    try:
        has_field = LEADER_FIELD in field_names(pdf)
    except PdfReadError as exc:  # a damaged PDF is the author's to fix, not a server error
        raise rules.DraftError(f"Tệp PDF bị lỗi, không đọc được: {exc}") from exc
    if not has_field:  # a converted or foreign PDF: find the signer's block
        leaders = [m.name for m in load_staff(ctx.settings.staff_file).with_role(*LEADERS)]
        try:
            pages = int(PdfFileReader(io.BytesIO(pdf), strict=False).root["/Pages"]["/Count"])
            pdf = await asyncio.to_thread(signature_block.add_leader_field, pdf, leaders, pages)
        except signature_block.NoSignatureBlock as exc:
            raise rules.DraftError("Không tìm thấy chỗ ký của lãnh đạo: cuối văn bản phải có chức vụ, "
                                   f"khoảng trống để ký và họ tên người ký ({exc}).") from exc
        except (KeyError, ValueError, TypeError, PdfReadError) as exc:
            raise rules.DraftError(f"Tệp PDF bị lỗi: {exc}") from exc
    try:
        _check_pdf(pdf)
    except InvalidDraft as exc:
        raise rules.DraftError(f"Dự thảo chưa đúng mẫu: {exc}") from exc
    rendered = await ctx.blobs.put(pdf, media_type="application/pdf", name=f"{name.rsplit('.', 1)[0]}.pdf")
    return {"source_format": family, "original": original.model_dump(), "pdf": rendered.model_dump(), "by": by, "at": now}


async def _answers(ctx: ServiceContext, keys: list[str]) -> list[dict]:
    """The incoming documents a draft answers, from intake's API: registered ones only."""
    found = []
    # dispatch's own short-lived token: intake answers nobody without one
    headers = {"Authorization": f"Bearer {ctx.extras['token_issuer'].service_token()}"}
    async with httpx.AsyncClient(base_url=ctx.settings.intake_url, timeout=ctx.settings.http_timeout_seconds,
                                 headers=headers) as client:
        for key in keys:
            response = await client.get(f"/documents/{key}")
            if response.status_code == 404:
                raise rules.DraftError(f"Không có văn bản đến {key}.")
            response.raise_for_status()
            document = response.json()
            if document["state"] != "registered":
                raise rules.DraftError(f"Văn bản đến {key} chưa được vào sổ.")
            found.append({"incoming_key": key, "response_for": document["response_for"],
                          "register": document.get("register"), "subject": document.get("metadata", {}).get("subject")})
    return found


async def create_draft(ctx: ServiceContext, *, name: str, data: bytes, author: str, fields: dict, answers: list[str]) -> dict:
    try:
        check_particulars(ctx, type_name=fields["type_name"], subject=fields["subject"], recipients=fields["recipients"],
                          urgency=fields["urgency"], category=fields["category"], drafting_unit=fields["drafting_unit"])
    except InvalidDraft as exc:
        raise rules.DraftError(str(exc)) from exc
    now = utcnow()
    member = load_staff(ctx.settings.staff_file).get(author)
    draft = rules.new_draft(author=member, version=await _version(ctx, name, data, author, now), fields=fields,
                            answers=await _answers(ctx, answers), now=now)
    draft["_id"] = uuid.uuid4().hex

    async def work(uow: UnitOfWork) -> None:
        await uow.db[DRAFTS].insert_one(draft, session=uow.session)
        uow.audit("draft.created", subject_type="draft", subject_id=draft["_id"], actor=f"user:{author}",
                  details={"subject": fields["subject"], "answers": answers, "format": draft["versions"][0]["source_format"]})

    await ctx.store.transaction(work)
    return draft


async def _change(ctx: ServiceContext, draft_id: str, decide, *, action: str, actor: str) -> dict:
    async def work(uow: UnitOfWork) -> dict:
        draft = await uow.db[DRAFTS].find_one({"_id": draft_id}, session=uow.session)
        if draft is None:
            raise DraftNotFound(draft_id)
        changes, details, after = decide(draft)
        result = await uow.db[DRAFTS].update_one({"_id": draft_id, "state": draft["state"],
                                                  "history": {"$size": len(draft["history"])}},
                                                 {"$set": changes}, session=uow.session)
        if result.matched_count != 1:
            raise rules.DraftError("Dự thảo vừa được người khác cập nhật; hãy tải lại.", conflict=True)
        uow.audit(action, subject_type="draft", subject_id=draft_id, actor=actor, details=details)
        return {**draft, **changes, **(after or {})}

    return await ctx.store.transaction(work)


async def add_version(ctx: ServiceContext, draft_id: str, *, name: str, data: bytes, by: str) -> dict:
    version = await _version(ctx, name, data, by, utcnow())
    return await _change(ctx, draft_id, lambda d: (rules.add_version(d, by=by, version=version, now=utcnow()),
                                                   {"format": version["source_format"]}, None),
                         action="draft.new_version", actor=f"user:{by}")


async def submit(ctx: ServiceContext, draft_id: str, *, by: str) -> dict:
    return await _change(ctx, draft_id, lambda d: (rules.submit(d, by=by, now=utcnow()), {}, None),
                         action="draft.submitted", actor=f"user:{by}")


async def return_with_comments(ctx: ServiceContext, draft_id: str, *, by: str, comment: str) -> dict:
    leader = load_staff(ctx.settings.staff_file).get(by)
    return await _change(ctx, draft_id, lambda d: (rules.return_with_comments(d, leader=leader, comment=comment, now=utcnow()),
                                                   {"comment": comment}, None),
                         action="draft.returned", actor=f"user:{by}")


async def approve(ctx: ServiceContext, draft_id: str, *, by: str) -> dict:
    """The approved version becomes an outgoing document signed with the approver's key; the
    clerk applies the agency signature (R-8.3a). The draft is marked approved first, in one
    conditional write, so two leaders approving at once make one outgoing document, not two."""
    staff = load_staff(ctx.settings.staff_file)
    leader = staff.get(by)
    key_label: dict[str, str] = {}

    def decide(draft: dict):
        changes, key_label["label"] = rules.approve(draft, leader=leader, key_of={"chairman": ctx.settings.chairman_key_label},
                                                    now=utcnow())
        return changes, {"version": changes["approved_version"]}, None

    draft = await _change(ctx, draft_id, decide, action="draft.approved", actor=f"user:{by}")
    clerk = next((m.user for m in staff.with_role(Role.CLERK)), "vanthu")
    pdf = await ctx.blobs.get(draft["versions"][-1]["pdf"]["sha256"])
    try:
        outgoing = await create_outgoing(
            ctx, pdf=pdf, type_name=draft["type_name"], subject=draft["subject"], recipients=draft["recipients"],
            signer_full_name=leader.name, signer_position=leader.position.upper().replace(" UBND XÃ", ""),
            signer_competence="TM. ỦY BAN NHÂN DÂN" if leader.role == Role.CHAIRMAN else "KT. CHỦ TỊCH",
            urgency=draft["urgency"], due_date=dt.date.fromisoformat(draft["due_date"]) if draft.get("due_date") else None,
            drafting_unit=draft["drafting_unit"], requested_by=clerk, approved_by=leader.user, category=draft["category"],
            leader_key_label=key_label["label"], answers=draft["answers"], draft_id=draft_id, clerk_check_required=True)
    except InvalidDraft as exc:  # e.g. a recipient left the directory meanwhile: back to the leader
        await ctx.store.db[DRAFTS].update_one({"_id": draft_id}, {"$set": {"state": rules.DraftState.SUBMITTED.value},
                                                                  "$push": {"history": {"at": utcnow(), "by": by,
                                                                                        "action": "approval_failed",
                                                                                        "reason": str(exc)}}})
        raise rules.DraftError(f"Không phát hành được dự thảo: {exc}") from exc
    await ctx.store.db[DRAFTS].update_one({"_id": draft_id}, {"$set": {"outgoing_key": outgoing["_id"]}})
    return {**draft, "outgoing_key": outgoing["_id"]}
