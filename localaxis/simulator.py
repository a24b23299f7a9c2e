"""The simulated agencies: they issue signed documents to the commune (optionally with a fault,
to exercise every refusal path), and answer what they receive with status packages, as a real
agency's document system would (standards.md §1.8, §2.3)."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import os
import re
import threading
import uuid
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from localaxis.agencies import Agency
from localaxis.pki import ROGUE, AxisPki
from shared.clock import utcnow, vn_date
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
    build_edoc,
    build_status,
)
from shared.pdfdocs import LEADER_FIELD, DocumentText, render_document

AGENCY_FIELD = "ChuKyCoQuan"
FAULTS = ("tamper_after_signing", "unsigned", "untrusted_signer", "broken_xml", "missing_field",
          "bad_attachment_base64", "exe_as_pdf", "secret")
STATUS_TEXT = {
    "01": "Văn bản đã đến {agency}.",
    "03": "Văn thư {agency} đã tiếp nhận, vào sổ văn bản đến.",
}


def _sign(pdf: bytes, signer, field: str) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(field_name=field, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES)
    return signers.sign_pdf(writer, meta, signer=signer).getvalue()


def _tamper(pdf: bytes) -> bytes:
    """Flip one byte in the largest stream of the first revision (a font: readers still open
    the file, but no signature's digest matches any more)."""
    first_eof = pdf.find(b"%%EOF")
    spans = []
    for match in re.finditer(rb"stream\r?\n", pdf[:first_eof]):
        end = pdf.find(b"endstream", match.end())
        if end > 0:
            spans.append((end - match.end(), match.end()))
    length, start = max(spans)
    position = start + length // 2
    data = bytearray(pdf)
    data[position] ^= 0xFF
    return bytes(data)


class Simulator:
    def __init__(self, pki: AxisPki, store, agencies) -> None:
        self.pki = pki
        self.store = store
        self.agencies = agencies
        # One document issued at a time: concurrent sends (tests send six at once) share the
        # cached signers and the font; a 500 was once seen under that load, cause not caught.
        self._issuing = threading.Lock()

    # --- documents an agency issues ------------------------------------------------------

    def issue(self, agency: Agency, *, to: str, subject: str, type_name: str, code_notation: str | None,
              urgency: int, due_date: dt.date | None, fault: str | None,
              code_number: int | None = None) -> tuple[EdocPackage, bytes]:
        with self._issuing:
            return self._issue(agency, to=to, subject=subject, type_name=type_name, code_notation=code_notation,
                               urgency=urgency, due_date=due_date, fault=fault, code_number=code_number)

    def _issue(self, agency: Agency, *, to: str, subject: str, type_name: str, code_notation: str | None,
               urgency: int, due_date: dt.date | None, fault: str | None,
               code_number: int | None = None) -> tuple[EdocPackage, bytes]:
        today = vn_date(utcnow())
        # A forced number reproduces a sender reusing a number (a second document, same number).
        number = code_number or self.store.next_value(f"{agency.code}:{today.year}")
        notation = code_notation or agency.notation
        code = Code(code_number=f"{number:02d}", code_notation=notation)
        text = DocumentText(issuer_parent="", issuer_name=agency.name.upper(), number_notation=f"Số: {code.full}",
                            place_and_date=f"{agency.place or 'Thanh Hóa'}, ngày {today.day:02d} tháng {today.month:02d} năm {today.year}",
                            type_name=type_name.upper(), subject=subject, signer_competence=f"TM. {agency.name.upper()}",
                            signer_position=agency.leader_position.upper(), signer_name=agency.leader)
        pdf = render_document(text).pdf
        if fault != "unsigned":
            who = ROGUE if fault == "untrusted_signer" else agency.code
            pdf = _sign(pdf, self.pki.signer(who, "leader"), LEADER_FIELD)
            pdf = _sign(pdf, self.pki.signer(who, "agency"), AGENCY_FIELD)
        if fault == "tamper_after_signing":
            pdf = _tamper(pdf)
        if fault == "exe_as_pdf":
            pdf = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"This program cannot be run in DOS mode." + bytes(512)
        recipient = self.agencies.by_code(to)
        now = utcnow()
        package = EdocPackage(
            sender=Organization(organ_id=agency.code, organ_name=agency.name),
            recipients=[Organization(organ_id=to, organ_name=recipient.name if recipient else "")],
            document_id=EdocPackage.make_document_id(agency.code, today, code),
            code=code,
            promulgation_info=PromulgationInfo(place=agency.place, promulgation_date=today),
            document_type=DocumentType(type=1, type_name=type_name),
            subject=("[MẬT] " + subject) if fault == "secret" else subject,
            content=subject,
            signer_info=SignerInfo(competence=f"TM. {agency.name.upper()}", position=agency.leader_position, full_name=agency.leader),
            due_date=due_date,
            other_info=OtherInfo(priority=Priority(urgency), sphere_of_promulgation="Mật" if fault == "secret" else "", page_amount=1),
            to_places=[recipient.name if recipient else to, "Lưu: VT"],
            trace_headers=[TraceHeader(organ_id=agency.code, timestamp=now)],
            business=Business(business_doc_type=BusinessDocType.NEW, business_doc_reason="Văn bản điện tử mới",
                              staff_info=StaffInfo(department="Văn thư", staff=f"Văn thư {agency.name}")),
            attachments=[Attachment(content_id=f"cid:{uuid.uuid4()}", attachment_name=f"{code.full.replace('/', '_')}.pdf",
                                    description=subject, content_type="application/pdf", content=pdf)],
        )
        data = build_edoc(package)
        if fault == "broken_xml":
            data = data[: len(data) // 2]
        elif fault == "missing_field":
            data = re.sub(rb"<edXML:CodeNumber>[^<]*</edXML:CodeNumber>", b"", data, count=1)
        elif fault == "bad_attachment_base64":
            data = re.sub(rb"(<edXML:ContentTransferEncoded[^>]*>)[^<]{0,40}", rb"\1@@@ not base64 @@@", data, count=1)
        return package, data

    # --- what an agency receives -----------------------------------------------------------

    def trust_roots(self) -> list[asn1_x509.Certificate]:
        roots = [asn1_x509.Certificate.load(pem.unarmor(self.pki.ca_pem(a.code))[2]) for a in self.agencies.simulated()]
        for path in filter(None, os.environ.get("LOCALAXIS_PEER_TRUST_ROOTS", "").split(os.pathsep)):
            if Path(path).exists():
                for kind, _, der in pem.unarmor(Path(path).read_bytes(), multiple=True):
                    if kind == "CERTIFICATE":
                        roots.append(asn1_x509.Certificate.load(der))
        return roots

    def inspect_pdf(self, pdf: bytes) -> list[dict]:
        """Every signature in document order, validated against the agencies' own roots and
        the peers' (soft revocation: the receiving agency only reports what it sees)."""
        facts = []
        try:
            reader = PdfFileReader(io.BytesIO(pdf), strict=False)
            embedded = sorted(reader.embedded_regular_signatures, key=lambda e: e.signed_revision)
        except Exception as exc:  # noqa: BLE001 - garbage is reported, not raised
            return [{"field": None, "signer_cn": None, "intact": False, "valid": False, "trusted": False, "error": str(exc)}]
        context = ValidationContext(trust_roots=self.trust_roots(), allow_fetching=False, revocation_mode="soft-fail")
        for emb in embedded:
            try:
                status = validate_pdf_signature(emb, context)
                facts.append({"field": emb.field_name, "signer_cn": emb.signer_cert.subject.native.get("common_name"),
                              "intact": bool(status.intact), "valid": bool(status.valid), "trusted": bool(status.trusted)})
            except Exception as exc:  # noqa: BLE001
                facts.append({"field": emb.field_name, "signer_cn": None, "intact": False, "valid": False, "trusted": False,
                              "error": str(exc)})
        return facts

    def status_package(self, agency: Agency, package: EdocPackage, code: str) -> bytes:
        return build_status(StatusPackage(
            sender=Organization(organ_id=agency.code, organ_name=agency.name),
            response_for=ResponseFor(organ_id=package.sender.organ_id, code=package.code.full,
                                     promulgation_date=package.promulgation_info.promulgation_date,
                                     document_id=package.document_id),
            staff_info=StaffInfo(department="Văn thư", staff=f"Văn thư {agency.name}"),
            status_code=StatusCode(code),
            description=STATUS_TEXT.get(code, "Trạng thái {code}").format(agency=agency.name, code=code),
            timestamp=utcnow(),
        ))


    def recall_answer(self, agency: Agency, recall: StatusPackage, known: bool) -> bytes:
        """A receiver's answer to a recall (status 13, R-6.2): 15 when it holds the document and
        withdraws it, 16 with the reason when it never received it."""
        code = "15" if known else "16"
        text = (f"{agency.name} đã thu hồi, hủy văn bản {recall.response_for.code}." if known
                else f"{agency.name} từ chối thu hồi: không nhận được văn bản {recall.response_for.code}.")
        return build_status(StatusPackage(
            sender=Organization(organ_id=agency.code, organ_name=agency.name), response_for=recall.response_for,
            staff_info=StaffInfo(department="Văn thư", staff=f"Văn thư {agency.name}"), status_code=StatusCode(code),
            description=text, timestamp=utcnow()))


async def pause_between_statuses() -> None:
    # 01 at arrival, 03 when the agency's clerk registers it: a moment later, as in life
    # (longer in a test that stops the axis between the two).
    await asyncio.sleep(float(os.environ.get("LOCALAXIS_STATUS_PAUSE_SECONDS", "0.5")))
