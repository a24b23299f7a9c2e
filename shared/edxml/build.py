"""Writing edXML bytes (standards.md §1.1): explicit templating, the `edXML:` prefix on every
envelope element, the VPCP sample's element order, `Bussiness` spelling, yyyy/MM/dd dates and
Vietnam-time timestamps. lxml would pick prefixes by itself when two map to one URI, and the
national axis rejected prefix-less envelopes (LangSon's note), so the bytes are spelled out.
"""

from __future__ import annotations

import base64
import datetime as dt
from xml.sax.saxutils import escape

from shared.clock import to_vn
from shared.edxml.models import (
    Attachment,
    Business,
    EdocPackage,
    Organization,
    ResponseFor,
    StaffInfo,
    StatusPackage,
    TraceHeader,
)

NAMESPACE = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def format_date(value: dt.date | None) -> str:
    return value.strftime("%Y/%m/%d") if value else ""


def format_timestamp(value: dt.datetime) -> str:
    return to_vn(value).strftime("%Y/%m/%d %H:%M:%S")


class _Writer:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def leaf(self, name: str, value: object | None, *, prefix: str = "edXML:") -> None:
        text = "" if value is None else str(value)
        self.parts.append(f"<{prefix}{name}>{escape(text)}</{prefix}{name}>")

    def open(self, name: str, attrs: str = "", *, prefix: str = "edXML:") -> None:
        self.parts.append(f"<{prefix}{name}{attrs}>")

    def close(self, name: str, *, prefix: str = "edXML:") -> None:
        self.parts.append(f"</{prefix}{name}>")

    def bytes(self) -> bytes:
        return (XML_DECLARATION + "".join(self.parts)).encode("utf-8")


def _organization(w: _Writer, tag: str, org: Organization) -> None:
    w.open(tag)
    w.leaf("OrganId", org.organ_id)
    w.leaf("OrganizationInCharge", org.organization_in_charge)
    w.leaf("OrganName", org.organ_name)
    w.leaf("OrganAdd", org.organ_add)
    w.leaf("Email", org.email)
    w.leaf("Telephone", org.telephone)
    w.leaf("Fax", org.fax)
    w.leaf("Website", org.website)
    w.close(tag)


def _response_for(w: _Writer, ref: ResponseFor) -> None:
    w.open("ResponseFor")
    w.leaf("OrganId", ref.organ_id)
    w.leaf("Code", ref.code)
    w.leaf("PromulgationDate", format_date(ref.promulgation_date))
    w.leaf("DocumentId", ref.document_id)
    w.close("ResponseFor")


def _staff(w: _Writer, staff: StaffInfo) -> None:
    w.open("StaffInfo")
    w.leaf("Department", staff.department)
    w.leaf("Staff", staff.staff)
    w.leaf("Mobile", staff.mobile)
    w.leaf("Email", staff.email)
    w.close("StaffInfo")


def _trace(w: _Writer, traces: list[TraceHeader], business: Business) -> None:
    w.open("TraceHeaderList")
    for trace in traces:
        w.open("TraceHeader")
        w.leaf("OrganId", trace.organ_id)
        w.leaf("Timestamp", format_timestamp(trace.timestamp))
        w.close("TraceHeader")
    w.open("Bussiness")
    w.leaf("DocumentId", business.document_id)
    w.leaf("BussinessDocType", int(business.business_doc_type))
    w.leaf("BussinessDocReason", business.business_doc_reason)
    w.leaf("Paper", business.paper)
    if business.staff_info is not None:
        _staff(w, business.staff_info)
    if business.document_info_changed is not None or business.receiver_changes:
        w.open("BussinessDocumentInfo")
        w.leaf("DocumentInfo", int(bool(business.document_info_changed)))
        w.leaf("DocumentReceiver", int(bool(business.receivers_changed)))
        w.open("ReceiverList")
        for change in business.receiver_changes:
            w.open("Receiver")
            w.leaf("OrganId", change.organ_id)
            w.leaf("ReceiverType", change.receiver_type)
            w.close("Receiver")
        w.close("ReceiverList")
        w.close("BussinessDocumentInfo")
    if business.replacements:
        w.open("ReplacementInfoList")
        for replacement in business.replacements:
            w.open("ReplacementInfo")
            w.leaf("DocumentId", replacement.document_id)
            w.open("OrganIdList")
            for organ_id in replacement.organ_ids:
                w.leaf("OrganId", organ_id)
            w.close("OrganIdList")
            w.close("ReplacementInfo")
        w.close("ReplacementInfoList")
    w.close("Bussiness")
    w.close("TraceHeaderList")


def _envelope_open(w: _Writer) -> None:
    w.parts.append(f'<edXML xmlns="{NAMESPACE}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                   f'xmlns:xsd="http://www.w3.org/2001/XMLSchema">')
    w.open("edXMLEnvelope", f' xmlns:edXML="{NAMESPACE}"')
    w.open("edXMLHeader")


def build_edoc(package: EdocPackage) -> bytes:
    w = _Writer()
    _envelope_open(w)
    w.open("MessageHeader")
    _organization(w, "From", package.sender)
    for recipient in package.recipients:
        _organization(w, "To", recipient)
    w.leaf("DocumentId", package.document_id)
    w.open("Code")
    w.leaf("CodeNumber", package.code.code_number)
    w.leaf("CodeNotation", package.code.code_notation)
    w.close("Code")
    w.open("PromulgationInfo")
    w.leaf("Place", package.promulgation_info.place)
    w.leaf("PromulgationDate", format_date(package.promulgation_info.promulgation_date))
    w.close("PromulgationInfo")
    w.open("DocumentType")
    w.leaf("Type", package.document_type.type)
    w.leaf("TypeDetail", package.document_type.type_detail)
    w.leaf("TypeName", package.document_type.type_name)
    w.close("DocumentType")
    w.leaf("Subject", package.subject)
    w.leaf("Content", package.content)
    w.open("SignerInfo")
    w.leaf("Competence", package.signer_info.competence)
    w.leaf("Position", package.signer_info.position)
    w.leaf("FullName", package.signer_info.full_name)
    w.close("SignerInfo")
    w.leaf("DueDate", format_date(package.due_date))
    other = package.other_info
    w.open("OtherInfo")
    w.leaf("Priority", int(other.priority))
    w.leaf("SphereOfPromulgation", other.sphere_of_promulgation)
    w.leaf("TyperNotation", other.typer_notation)
    w.leaf("PromulgationAmount", other.promulgation_amount if other.promulgation_amount is not None else "")
    w.leaf("PageAmount", other.page_amount if other.page_amount is not None else "")
    w.leaf("Direction", "true" if other.direction else "false")
    if other.appendixes:
        w.open("Appendixes")
        for appendix in other.appendixes:
            w.leaf("Appendix", appendix)
        w.close("Appendixes")
    w.close("OtherInfo")
    w.leaf("SteeringType", package.steering_type)
    w.open("ToPlaces")
    for place in package.to_places:
        w.leaf("Place", place)
    w.close("ToPlaces")
    for ref in package.response_for:
        _response_for(w, ref)
    w.close("MessageHeader")
    _trace(w, package.trace_headers, package.business)
    w.close("edXMLHeader")
    w.open("edXMLBody")
    w.open("edXMLManifest", ' version="1.0"')
    for attachment in package.attachments:
        w.open("Reference")
        w.leaf("ContentId", attachment.content_id)
        w.leaf("ContentType", attachment.content_type)
        w.leaf("Description", attachment.description)
        w.leaf("AttachmentName", attachment.attachment_name)
        w.close("Reference")
    w.close("edXMLManifest")
    w.close("edXMLBody")
    w.close("edXMLEnvelope")
    _attachments(w, package.attachments)
    w.parts.append("</edXML>")
    return w.bytes()


def _attachments(w: _Writer, attachments: list[Attachment]) -> None:
    w.open("AttachmentEncoded", prefix="")
    for attachment in attachments:
        w.open("Attachment", prefix="")
        w.leaf("ContentId", attachment.content_id, prefix="")
        w.leaf("AttachmentName", attachment.attachment_name, prefix="")
        w.leaf("Description", attachment.description, prefix="")
        w.leaf("ContentType", attachment.content_type, prefix="")
        # As in the VPCP sample: prefixed, with its own declaration.
        w.parts.append(f'<edXML:ContentTransferEncoded xmlns:edXML="{NAMESPACE}">')
        w.parts.append(base64.b64encode(attachment.content).decode("ascii"))
        w.parts.append("</edXML:ContentTransferEncoded>")
        w.close("Attachment", prefix="")
    w.close("AttachmentEncoded", prefix="")


def build_status(status: StatusPackage) -> bytes:
    w = _Writer()
    _envelope_open(w)
    w.open("MessageHeader")
    _organization(w, "From", status.sender)
    _response_for(w, status.response_for)
    if status.staff_info is not None:
        _staff(w, status.staff_info)
    w.leaf("StatusCode", status.status_code.value)
    w.leaf("Description", status.description)
    w.leaf("Timestamp", format_timestamp(status.timestamp))
    w.close("MessageHeader")
    w.close("edXMLHeader")
    w.close("edXMLEnvelope")
    w.parts.append("</edXML>")
    return w.bytes()
