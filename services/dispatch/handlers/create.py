"""Receiving a document to issue (R-7.1): handed in by the clerk it waits for the named leader's
own approval (`handlers/approval.py`); approved in the system (a draft) it goes straight to the
leader's signature."""

from __future__ import annotations

import datetime as dt
import io
import uuid

from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import enumerate_sig_fields

from services.dispatch.adapters import repository as repo
from services.dispatch.domain.numbering import UnknownDocumentType, notation
from services.dispatch.domain.outgoing import OutgoingState
from services.dispatch.domain.packages import package_size_problem
from services.dispatch.domain.paper import CATEGORIES
from shared.clock import utcnow
from shared.contracts.messages import SignatureRequested
from shared.directory import load_directory
from shared.edxml import Priority
from shared.file_format import pdf_problems
from shared.logging import bind_correlation_id
from shared.pdfdocs import DATE_FIELD, LEADER_FIELD, NUMBER_FIELD, field_names
from shared.service import ServiceContext


class InvalidDraft(ValueError):
    """Bad input from the API caller: answered with 422 and this text."""


def _check_pdf(pdf: bytes) -> int:
    if not pdf.startswith(b"%PDF-"):
        raise InvalidDraft("the file is not a PDF (it does not start with %PDF-)")
    if refused := pdf_problems(pdf):  # scripts, launch actions, hidden files, encryption
        raise InvalidDraft("; ".join(refused))
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        pages = int(reader.root["/Pages"]["/Count"])
        fields = {name: sig for name, sig, _ in enumerate_sig_fields(reader)}
    except (PdfReadError, KeyError, TypeError, ValueError) as exc:
        raise InvalidDraft(f"the PDF cannot be read: {exc}") from exc
    # The leader signs into the signature block's field (NĐ 30 Phụ lục I II.7(d)); the
    # document template provides it.
    if LEADER_FIELD not in fields:
        raise InvalidDraft(f"the document has no signature field {LEADER_FIELD!r} for the leader's signature")
    if fields[LEADER_FIELD] is not None:
        raise InvalidDraft("the leader's signature field is already signed")
    return pages


def check_particulars(ctx: ServiceContext, *, type_name: str, subject: str, recipients: list[str], urgency: int,
                      category: str, drafting_unit: str):
    """The particulars of a draft or approved document, checked before anything is kept."""
    if not subject.strip():
        raise InvalidDraft("subject (trích yếu) is required")
    try:
        code_notation = notation(type_name, issuer=ctx.settings.agency_notation, drafting_unit=drafting_unit)
    except UnknownDocumentType as exc:
        raise InvalidDraft(str(exc)) from exc
    try:
        priority = Priority(urgency)
    except ValueError:
        raise InvalidDraft("urgency must be 0 (thường), 1 (khẩn), 2 (thượng khẩn) or 3 (hỏa tốc)") from None
    if priority > Priority(3):
        raise InvalidDraft("'hỏa tốc hẹn giờ' is no longer an urgency level (NĐ 30/2020)")
    directory = load_directory(ctx.settings.directory_file)
    if not recipients:
        raise InvalidDraft("at least one recipient organisation is required")
    unknown = [r for r in recipients if not directory.knows(r)]
    if unknown:
        raise InvalidDraft(f"recipients not in the organisation directory: {', '.join(unknown)}")
    if category not in CATEGORIES:
        raise InvalidDraft(f"category must be one of {', '.join(CATEGORIES)} (R-5.2)")
    return code_notation, priority, directory


async def create_outgoing(
    ctx: ServiceContext,
    *,
    pdf: bytes,
    type_name: str,
    subject: str,
    recipients: list[str],
    signer_full_name: str,
    signer_position: str,
    signer_competence: str,
    urgency: int,
    due_date: dt.date | None,
    drafting_unit: str,
    requested_by: str,
    approved_by: str = "chutich",
    category: str = "normal",
    leader_key_label: str | None = None,
    answers: list[dict] | None = None,
    draft_id: str | None = None,
    annexes: list[tuple[str, bytes]] = (),
    clerk_check_required: bool = False,
    approved: bool = True,
) -> dict:
    """`approved`: the leader approved it himself (a draft); False when the clerk hands it in
    naming `approved_by`, who then approves it with his own call before his key signs."""
    page_count = _check_pdf(pdf)
    for name, data in annexes:  # separate-file annexes: PDFs the agency signs too (NĐ 30 Phụ lục I II.8)
        try:
            PdfFileReader(io.BytesIO(data), strict=False).root["/Pages"]
        except Exception as exc:  # noqa: BLE001 - anything unreadable is refused by name
            raise InvalidDraft(f"annex {name!r} is not a readable PDF") from exc
        if not data.startswith(b"%PDF-"):
            raise InvalidDraft(f"annex {name!r} is not a PDF")
    if problem := package_size_problem([len(pdf), *(len(data) for _, data in annexes)], ctx.settings.max_package_bytes):
        raise InvalidDraft(problem)
    code_notation, priority, directory = check_particulars(ctx, type_name=type_name, subject=subject, recipients=recipients,
                                                           urgency=urgency, category=category, drafting_unit=drafting_unit)

    key = uuid.uuid4().hex
    bind_correlation_id(key)  # the document key follows it through every service
    approved_pdf = await ctx.blobs.put(pdf, media_type="application/pdf", name=f"{key}-approved.pdf")
    annex_files = [{"name": name, "approved": (await ctx.blobs.put(data, media_type="application/pdf", name=name)).model_dump()}
                   for name, data in annexes]
    now = utcnow()
    request_id = uuid.uuid4().hex
    record = {
        "_id": key,
        "state": (OutgoingState.LEADER_SIGNING if approved else OutgoingState.AWAITING_APPROVAL).value,
        "type_name": type_name,
        "code_notation": code_notation,
        "subject": subject,
        "urgency": int(priority),
        "due_date": due_date.isoformat() if due_date else None,
        "signer": {"full_name": signer_full_name, "position": signer_position, "competence": signer_competence},
        "recipients": [{"organ_id": r, "name": directory.get(r).name, "channel": directory.get(r).channel} for r in recipients],
        "category": category,  # some kinds also go on paper
        # The template's number and date fields: written in at numbering without breaking the
        # leader's signature. A PDF without them keeps its number in the envelope only.
        "writes_number": {NUMBER_FIELD, DATE_FIELD} <= field_names(pdf),
        "drafting_unit": drafting_unit,
        "page_count": page_count,
        "files": {"approved": approved_pdf.model_dump()},
        "signatures": [],
        "signature_requests": [{"request_id": request_id, "role": "leader", "at": now}] if approved else [],
        "leader_key_label": leader_key_label or ctx.settings.chairman_key_label,
        "deliveries": [],
        "created_at": now,
        "created_by": requested_by,
        "approved_by": approved_by if approved else None,  # the leader whose key signs
        # handed in by the clerk: whose approval it waits for, and later the decision
        "approval": None if approved else {"asked_of": approved_by, "asked_by": requested_by, "asked_at": now},
        "answers": answers or [],  # the incoming documents it answers (ResponseFor in the envelope)
        "annexes": annex_files,
        # a document the clerk did not submit waits for the clerk's format check before its number.
        "clerk_check_required": clerk_check_required,
        "draft_id": draft_id,
        "correlation_id": key,
    }

    async def work(uow):
        await repo.insert(uow, record)
        uow.audit("outgoing.created", subject_type="outgoing", subject_id=key, actor=requested_by,
                  details={"type_name": type_name, "recipients": recipients, "urgency": int(priority), "sha256": approved_pdf.sha256,
                           **({} if approved else {"awaiting_approval_of": approved_by})})
        if approved:
            uow.publish(leader_signature_request(record, request_id, by=approved_by))

    await ctx.store.transaction(work)
    return record


def leader_signature_request(record: dict, request_id: str, *, by: str) -> SignatureRequested:
    """The leader's signature with the leader's key, asked in the leader's own name (R-8.2)."""
    return SignatureRequested(
        request_id=request_id,
        document_key=record["_id"],
        role="leader",
        key_label=record["leader_key_label"],
        pdf=record["files"]["approved"],
        requested_by_user=by,
        reason=f"Phê duyệt: {record['subject']}",
        urgent=record["urgency"] > 0,
    )
