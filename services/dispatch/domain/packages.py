"""The edXML envelope of an issued document, one per recipient organisation (R-4.3, R-7.2;
standards.md §1.2): built from the outgoing record, pure."""

from __future__ import annotations

import datetime as dt
import uuid

from services.dispatch.domain.numbering import format_number
from shared.edxml import (
    Attachment,
    Business,
    BusinessDocType,
    Code,
    DocumentType,
    EdocPackage,
    Organization,
    OtherInfo,
    Priority,
    PromulgationInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPackage,
    TraceHeader,
)

# The national code list for DocumentType/Type was not found (standards.md §1.3 [?]): the
# human-readable TypeName is authoritative; ask the axis operator for the codes.
DEFAULT_TYPE_CODE = 1


# What signing and the envelope add to the files (two signatures with certificates and
# timestamp tokens per file, the edXML header): generous, so an estimate under the limit holds.
SIGNATURES_ALLOWANCE = 64 * 1024
ENVELOPE_ALLOWANCE = 16 * 1024


def estimated_package_bytes(file_sizes: list[int]) -> int:
    """The edXML package an issued document becomes: each file base64 inside, signed."""
    return ENVELOPE_ALLOWANCE + sum(4 * -(-(size + SIGNATURES_ALLOWANCE) // 3) for size in file_sizes)


def package_size_problem(file_sizes: list[int], limit: int) -> str | None:
    """Refused at issuing, before any signature: the gateway would not send it (max_package_bytes)."""
    estimate = estimated_package_bytes(file_sizes)
    if estimate <= limit:
        return None
    mib = 1024 * 1024
    return (f"văn bản quá lớn để gửi qua trục: gói tin ước tính {estimate / mib:.1f} MB, "
            f"vượt quá giới hạn {limit / mib:g} MB")


def document_id(own_id: str, issued: dt.date, number: int, notation: str) -> str:
    return EdocPackage.make_document_id(own_id, issued, Code(code_number=format_number(number), code_notation=notation))


def build_envelope(
    record: dict,
    *,
    own: Organization,
    recipient: Organization,
    place: str,
    staff: StaffInfo,
    pdf: bytes,
    at: dt.datetime,
    annexes: list[tuple[str, bytes]] = (),
) -> EdocPackage:
    issued = dt.date.fromisoformat(record["issued_date"])
    code = Code(code_number=format_number(record["register"]["number"]), code_notation=record["code_notation"])
    signer = record["signer"]
    file_name = f"{record['code'].replace('/', '_')}.pdf"
    return EdocPackage(
        sender=own,
        recipients=[recipient],
        document_id=record["document_id"],
        code=code,
        promulgation_info=PromulgationInfo(place=place, promulgation_date=issued),
        document_type=DocumentType(type=DEFAULT_TYPE_CODE, type_detail=0, type_name=record["type_name"]),
        subject=record["subject"],
        content=record["subject"],
        signer_info=SignerInfo(competence=signer["competence"], position=signer["position"], full_name=signer["full_name"]),
        due_date=dt.date.fromisoformat(record["due_date"]) if record.get("due_date") else None,
        other_info=OtherInfo(priority=Priority(record["urgency"]), page_amount=record.get("page_count")),
        steering_type=1,
        to_places=[r["name"] for r in record["recipients"]],
        # The incoming documents this one answers (§1.2 row 14): the recipient matches its reply.
        response_for=[ResponseFor(**a["response_for"]) for a in record.get("answers") or []
                      if a["response_for"]["organ_id"] == recipient.organ_id],
        trace_headers=[TraceHeader(organ_id=own.organ_id, timestamp=at)],
        business=Business(business_doc_type=BusinessDocType.NEW, business_doc_reason="Văn bản điện tử mới", staff_info=staff),
        attachments=[
            Attachment(
                content_id=f"cid:{uuid.uuid4()}",
                attachment_name=file_name,
                description=record["subject"],
                content_type="application/pdf",
                content=pdf,
            ),
            # Annexes in separate files, each signed by the agency (II.8).
            *(Attachment(content_id=f"cid:{uuid.uuid4()}", attachment_name=name, description=f"Phụ lục {i}",
                         content_type="application/pdf", content=data)
              for i, (name, data) in enumerate(annexes, 1)),
        ],
    )


def recall_notice(record: dict, *, own: Organization, staff: StaffInfo, reason: str, at: dt.datetime) -> StatusPackage:
    """R-7.4: the recall is a notice through the system — status 13 about the issued document
    (standards.md §2.5); each recipient answers 15 (withdrawn) or 16 (refused, with the reason)."""
    return StatusPackage(
        sender=own,
        response_for=ResponseFor(organ_id=own.organ_id, code=record["code"],
                                 promulgation_date=dt.date.fromisoformat(record["issued_date"]),
                                 document_id=record["document_id"]),
        staff_info=staff,
        status_code=StatusCode("13"),
        description=reason,
        timestamp=at,
    )
