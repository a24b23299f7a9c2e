"""Verifying one incoming package (R-1.2, R-3.4, R-4.1, R-4.5, R-6.1): every check is run and
reported, so a refusal tells the sender everything to fix at once."""

from __future__ import annotations

import asyncio
from pathlib import PurePath

from shared.file_format import detect, pdf_problems
from shared.pdf_signatures import CrlCache, load_trust_roots, validate_pdf_signatures
from services.intake.domain.verification import (
    Check,
    Outcome,
    VerificationReport,
    content_check,
    format_check,
    integrity_check,
    main_document_index,
    no_main_document_check,
    recipient_check,
    secrecy_check,
    sender_check,
    signature_checks,
    structure_checks,
    transport_sender_check,
)
from shared.contracts.messages import BlobRef, PackageReceived
from shared.directory import cached_directory
from shared.edxml import EdocPackage, EdxmlError
from shared.logging import get_logger
from shared.service import ServiceContext

log = get_logger(__name__)


async def verify_package(
    ctx: ServiceContext,
    message: PackageReceived,
    raw: bytes,
    package: EdocPackage | None,
    parse_error: EdxmlError | None,
    *,
    final_attempt: bool,
) -> tuple[VerificationReport, list[BlobRef]]:
    settings = ctx.settings
    if package is None:
        errors = parse_error.errors if parse_error else []
        checks = structure_checks(errors) or [Check("structure", Outcome.FAILED, "unreadable package", "Gói tin không đọc được")]
        return VerificationReport(tuple(checks)), []

    checks: list[Check] = [Check("structure", Outcome.PASSED), Check("required_fields", Outcome.PASSED)]
    directory = cached_directory(settings.directory_file)
    checks.append(sender_check(package.sender.organ_id, directory.knows(package.sender.organ_id)))
    if message is not None:
        checks.append(transport_sender_check(package.sender.organ_id, message.axis_sender))
    checks.append(recipient_check(settings.agency_id, [r.organ_id for r in package.recipients]))
    secrecy = secrecy_check(package.other_info.sphere_of_promulgation, package.subject)
    checks.append(secrecy)
    if secrecy.outcome == Outcome.FAILED:
        # a state secret is refused unread and its content is never stored.
        return VerificationReport(tuple(checks)), []

    files: list[BlobRef] = []
    detected = [detect(attachment.content) for attachment in package.attachments]
    main = main_document_index([family for _, family in detected])
    for index, (attachment, (mime, family)) in enumerate(zip(package.attachments, detected)):
        name = attachment.attachment_name
        blob = await ctx.blobs.put(attachment.content, media_type=mime, name=name)
        if blob.sha256 != attachment.sha256:  # stored copy must be the bytes received
            checks.append(Check("attachment_integrity", Outcome.FAILED, "stored copy differs from the received bytes",
                                "Lỗi toàn vẹn khi lưu tệp", subject=name))
        else:
            checks.append(integrity_check(name, blob.sha256, blob.size))
        checks.append(format_check(name, family, PurePath(name).suffix, main_document=index == main))
        if family == "pdf":
            checks.append(content_check(name, await asyncio.to_thread(pdf_problems, attachment.content)))
        files.append(blob)

    if main is None:
        checks.append(no_main_document_check())
        return VerificationReport(tuple(checks)), files
    main_pdf = (package.attachments[main].attachment_name, package.attachments[main].content)

    name, pdf = main_pdf
    roots = load_trust_roots(settings.trust_roots)
    if not roots:
        # Without configured roots nothing can be trusted: an operator problem, not the sender's.
        checks.append(Check("signature", Outcome.INDETERMINATE, "no trust roots configured (TRUST_ROOTS)",
                            "Chưa cấu hình chứng thư gốc tin cậy", subject=name))
        return VerificationReport(tuple(checks)), files
    try:
        crl_cache = ctx.extras.setdefault("crl_cache", CrlCache(settings.crl_cache_seconds))
        facts = await validate_pdf_signatures(pdf, roots, crl_cache=crl_cache, final_attempt=final_attempt)
    except Exception as exc:  # noqa: BLE001 - a garbage PDF is the sender's fault, named as such
        log.warning("PDF could not be read for signature validation", attachment=name, error=repr(exc))
        checks.extend(signature_checks(name, [], parse_error=f"{type(exc).__name__}: {exc}"))
    else:
        checks.extend(signature_checks(name, facts))
        signatures = tuple(f.to_dict() for f in facts)
        return VerificationReport(tuple(checks), signatures=signatures), files
    return VerificationReport(tuple(checks)), files
