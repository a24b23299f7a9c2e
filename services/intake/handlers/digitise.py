"""Digitising a paper document (R-6.5): the clerk uploads the scan (a PDF, or JPEG/PNG page
images made into a PDF), intake checks it, the signing service applies the agency signature at
the top left of page 1 (seal, agency name, ISO 8601 Vietnam time), and the signed PDF is
registered like an electronic arrival: a number in the incoming register, to the chairman.

submit ──checks fail──▶ 422 with every problem, nothing kept
   └──▶ digitising ──signature applied and verified──▶ registered
                   └──signature refused──────────────▶ digitisation_failed (the clerk sees why)
"""

from __future__ import annotations

import datetime as dt
import uuid

from services.intake.adapters import repository as repo
from shared.file_format import detect, pdf_problems
from shared.pdf_signatures import CrlCache, load_trust_roots, validate_pdf_signatures
from services.intake.adapters.scans import ScanUnreadable, images_to_pdf, read_image, read_scan
from services.intake.domain import digitisation as rules
from services.intake.domain import handling
from services.intake.domain.documents import DocumentState, register_counter, register_year, same_document_key
from services.intake.domain.verification import POLICY_VERSION, Check, Outcome, VerificationReport, signature_checks
from services.intake.handlers.health import REGISTERED
from services.intake.handlers.receive import _register_lock
from shared.blobs import BlobNotFound, BlobUnavailable
from shared.bus.consumer import Delivery, Retry
from shared.clock import utcnow
from shared.contracts.messages import (
    IncomingDocumentRegistered,
    OrganRef,
    SignatureApplied,
    SignatureRefused,
    SignatureRequested,
)
from shared.db import AlreadyProcessed, UnitOfWork
from shared.directory import cached_directory
from shared.logging import get_logger
from shared.service import ServiceContext
from shared.staff import Role, load_staff

log = get_logger(__name__)
MAX_SCAN_BYTES = 100 * 1024 * 1024
IMAGE_FAMILIES = {"jpeg": "image/jpeg", "png": "image/png"}


class DigitisationRefused(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _family(data: bytes) -> str | None:
    mime, family = detect(data)
    return "png" if mime == "image/png" else family  # PNG pages are accepted for scans only, then made a PDF


def _scan_pdf(files: list[tuple[str, bytes]]) -> tuple[bytes, list[str]]:
    """The scan as one PDF, and what is wrong with the upload before the PDF is even read."""
    if not files:
        raise DigitisationRefused(["Chưa chọn tệp quét."])
    if sum(len(data) for _, data in files) > MAX_SCAN_BYTES:
        raise DigitisationRefused([f"Tệp quét quá {MAX_SCAN_BYTES // (1024 * 1024)} MB."])
    families = [(name, data, _family(data)) for name, data in files]
    if len(files) == 1 and families[0][2] == "pdf":
        if refused := pdf_problems(files[0][1]):  # scripts, launch actions, hidden files, encryption
            raise DigitisationRefused(refused)
        return files[0][1], []
    wrong = [f"Tệp {name} không phải PDF, JPEG hay PNG (nội dung thực: {family or 'không xác định'})."
             for name, _, family in families if family not in IMAGE_FAMILIES and family != "pdf"]
    if any(family == "pdf" for *_, family in families):
        wrong.append("Bản quét PDF phải gửi một tệp duy nhất; nhiều trang ảnh thì gửi các tệp JPEG/PNG.")
    if wrong:
        raise DigitisationRefused(wrong)
    problems: list[str] = []
    for name, data, _ in families:
        mode, dpi = read_image(name, data)
        problems += rules.image_problems(name, mode=mode, dpi_xy=dpi)
    if problems:
        raise DigitisationRefused(problems)
    return images_to_pdf([data for _, data, _ in families]), []


def check_scan(files: list[tuple[str, bytes]]) -> tuple[bytes, rules.ScanFacts]:
    """The scan as a PDF that meets R-6.5, or DigitisationRefused with every problem."""
    try:
        pdf, _ = _scan_pdf(files)
        facts = read_scan(pdf)
    except ScanUnreadable as exc:
        raise DigitisationRefused([str(exc)]) from exc
    problems = rules.problems(facts)
    if problems:
        raise DigitisationRefused(problems)
    return pdf, facts


def _scan_checks(facts: rules.ScanFacts) -> list[Check]:
    version = f"{facts.pdf_version[0]}.{facts.pdf_version[1]}"
    worst = min(rules.dpi(p) for p in facts.pages)
    sizes = sorted({rules.paper_size(p) or "?" for p in facts.pages})
    return [
        Check("scan_pdf_version", Outcome.PASSED, f"PDF {version}", f"PDF {version}"),
        Check("scan_colour", Outcome.PASSED, "every page in colour", "Quét màu"),
        Check("scan_resolution", Outcome.PASSED, f"at least {worst:.0f} dpi", f"Độ phân giải thấp nhất {worst:.0f} dpi"),
        Check("scan_scale", Outcome.PASSED, f"paper size {', '.join(sizes)}", f"Khổ giấy {', '.join(sizes)} (tỷ lệ 100 %)"),
    ]


async def submit(ctx: ServiceContext, *, files: list[tuple[str, bytes]], metadata: dict, clerk: str) -> dict:
    """R-6.5 and R-5.3: the clerk digitises; the scan is checked, kept and sent for the agency signature."""
    settings = ctx.settings
    member = load_staff(settings.staff_file).get(clerk)
    if member is None or member.role != Role.CLERK:
        raise DigitisationRefused(["Chỉ văn thư được số hóa và vào sổ văn bản đến (đầu mối tiếp nhận)."])
    sender_id = metadata.get("sender_organ_id") or ""
    if sender_id and not cached_directory(settings.directory_file).knows(sender_id):
        raise DigitisationRefused([f"Mã định danh {sender_id} không có trong danh mục đơn vị; bỏ trống và ghi tên nơi gửi."])
    pdf, facts = check_scan(files)
    blob = await ctx.blobs.put(pdf, media_type="application/pdf", name=f"{metadata['code'] or 'van-ban'}-ban-quet.pdf")
    now = utcnow()
    key = uuid.uuid4().hex
    priority = int(metadata.get("priority") or 0)
    record = {
        "_id": key,
        "package_id": f"paper:{key}",  # no axis package: the register's unique index still holds
        "source": "paper",
        "state": DocumentState.DIGITISING.value,
        "arrived_at": now,
        "intake_started_at": now,
        "digitised_by": clerk,
        "reply_to": None,
        "response_for": {"organ_id": sender_id, "code": metadata["code"], "promulgation_date": metadata["issued_date"],
                         "document_id": ""},
        "urgent": priority > 0,
        "priority": priority,
        "statuses": [],
        "metadata": metadata,
        "scan": {"sha256": blob.sha256, "pages": len(facts.pages), "pdf_version": list(facts.pdf_version),
                 "min_dpi": round(min(rules.dpi(p) for p in facts.pages), 1)},
        "files": [blob.model_dump()],
        "scan_checks": [c.to_dict() for c in _scan_checks(facts)],
    }
    request = SignatureRequested(
        request_id=uuid.uuid4().hex, document_key=key, role="digitised", key_label=settings.agency_key_label, pdf=blob,
        requested_by_user=clerk, reason="Số hóa văn bản giấy", requested_by="intake", urgent=priority > 0,
    )

    async def work(uow: UnitOfWork) -> None:
        await repo.insert(uow, record)
        uow.publish(request)
        uow.audit("incoming.digitised", subject_type="incoming", subject_id=key, actor=f"user:{clerk}",
                  details={"pages": len(facts.pages), "sha256": blob.sha256, "code": metadata["code"],
                           "signature_request": request.request_id})

    await ctx.store.transaction(work)
    log.info("paper document digitised", document_key=key, pages=len(facts.pages))
    return record


async def on_signature_applied(message: SignatureApplied, delivery: Delivery, ctx: ServiceContext) -> None:
    if message.requested_by != "intake" or message.role != "digitised":
        raise AlreadyProcessed(message.message_id)
    record = await repo.get(ctx.store.db, message.document_key)
    if record is None or record["state"] != DocumentState.DIGITISING:
        raise AlreadyProcessed(message.message_id)
    try:
        signed_pdf = await ctx.blob_client.fetch(message.signed_pdf)
    except (BlobUnavailable, BlobNotFound) as exc:
        raise Retry(f"signed scan not fetched from signing: {exc}") from exc
    name = record["files"][0]["name"].replace("-ban-quet.pdf", "-so-hoa.pdf")
    signed = await ctx.blobs.put(signed_pdf, media_type="application/pdf", name=name)
    # Our own signature, checked like any other before the document enters the register.
    roots = load_trust_roots(ctx.settings.trust_roots)
    crl_cache = ctx.extras.setdefault("crl_cache", CrlCache(ctx.settings.crl_cache_seconds))
    facts = await validate_pdf_signatures(signed_pdf, roots, crl_cache=crl_cache, final_attempt=True)
    checks = [Check(c["name"], Outcome(c["outcome"]), c["detail_en"], c["detail_vi"], c["subject"]) for c in record["scan_checks"]]
    report = VerificationReport(tuple(checks + signature_checks(name, facts)), signatures=tuple(f.to_dict() for f in facts))
    if report.verdict != Outcome.PASSED:
        await _fail(ctx, record, f"agency signature does not verify: {report.summary_en()}",
                    "Chữ ký số của cơ quan trên bản số hóa không hợp lệ; báo kỹ thuật viên kiểm tra thiết bị ký số.")
        return
    await _register(ctx, record, signed, report, message)


async def _register(ctx: ServiceContext, record: dict, signed, report: VerificationReport, message: SignatureApplied) -> None:
    key = record["_id"]
    metadata = record["metadata"]
    issued = dt.date.fromisoformat(metadata["issued_date"])
    sender = metadata["sender"]
    same_key = same_document_key(sender["organ_id"] or sender["organ_name"], metadata["code"], issued)
    async with _register_lock(ctx):

        async def work(uow: UnitOfWork):
            now = utcnow()
            year = register_year(record["arrived_at"])
            number = await uow.next_number(register_counter(year))
            same = await repo.find_same_document(uow, same_key, key)
            changes = {
                "state": DocumentState.REGISTERED.value, "register": {"year": year, "number": number}, "registered_at": now,
                "same_document_key": same_key, "possible_duplicate_of": same["_id"] if same else None,
                "files": [signed.model_dump()], "original_scan": record["files"][0],
                "agency_signature": {"request_id": message.request_id, "signer_subject": message.signer_subject,
                                     "signed_at": message.signed_at, "level": message.level},
                "verification": report.to_dict(), "handling": handling.awaiting_assignment(),
            }
            if not await repo.update_if_state(uow, key, DocumentState.DIGITISING, changes):
                raise AlreadyProcessed(key)
            uow.publish(IncomingDocumentRegistered(
                document_key=key, register_year=year, register_number=number, arrived_at=record["arrived_at"],
                registered_at=now, sender=OrganRef(organ_id=sender["organ_id"], name=sender["organ_name"]),
                document_id="", code=metadata["code"], type_name_vi=metadata["type_name"], subject=metadata["subject"],
                issued_date=issued, signer=metadata["signer"]["full_name"], priority=record["priority"],
                due_date=dt.date.fromisoformat(metadata["due_date"]) if metadata.get("due_date") else None,
                files=[signed], verification_verdict=report.verdict.value, validation_policy=POLICY_VERSION,
                urgent=record["urgent"], source="paper",
            ))
            uow.audit("incoming.registered", subject_type="incoming", subject_id=key, actor=f"user:{record['digitised_by']}",
                      details={"year": year, "number": number, "code": metadata["code"], "source": "paper",
                               "possible_duplicate_of": same["_id"] if same else None, "sha256": signed.sha256})
            return number

        number = await ctx.store.transaction(work)
    REGISTERED.labels(source="paper").inc()
    log.info("digitised document registered", document_key=key, number=number)


async def on_signature_refused(message: SignatureRefused, delivery: Delivery, ctx: ServiceContext) -> None:
    if message.requested_by != "intake":
        raise AlreadyProcessed(message.message_id)
    record = await repo.get(ctx.store.db, message.document_key)
    if record is None or record["state"] != DocumentState.DIGITISING:
        raise AlreadyProcessed(message.message_id)
    await _fail(ctx, record, message.reason, message.reason_vi)


async def _fail(ctx: ServiceContext, record: dict, reason: str, reason_vi: str) -> None:
    async def work(uow: UnitOfWork) -> None:
        changes = {"state": DocumentState.DIGITISATION_FAILED.value, "failure": {"reason": reason, "reason_vi": reason_vi,
                                                                                  "at": utcnow()}}
        if not await repo.update_if_state(uow, record["_id"], DocumentState.DIGITISING, changes):
            raise AlreadyProcessed(record["_id"])
        uow.audit("incoming.digitisation_failed", subject_type="incoming", subject_id=record["_id"], actor="system:intake",
                  details={"reason": reason})

    await ctx.store.transaction(work)
    log.warning("digitisation failed", document_key=record["_id"], reason=reason)
