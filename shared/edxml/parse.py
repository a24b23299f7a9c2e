"""Reading edXML bytes into typed packages, with errors that name the field (R-3.4, R-6.1).

Liberal in what it reads (standards.md §1.1, §1.5, §1.7): elements are matched by local name,
prefixed or not; `Bussiness` and `Business` both; dates with slashes or dashes; attachments
zipped or raw. Strict on content: every missing or malformed required field is reported, all
at once, so the sender's refusal (status 02) lists everything to fix.
XML safety: no DTDs, no entity expansion, no network (XXE), bounded tree.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
import mimetypes
import zipfile
from dataclasses import dataclass
from typing import Callable, TypeVar

from lxml import etree
from pydantic import ValidationError

from shared.clock import UTC, VN_TZ
from shared.edxml.models import (
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
    ReceiverChange,
    Replacement,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    StatusCode,
    StatusPackage,
    TraceHeader,
)

MAX_UNZIPPED_BYTES = 200 * 1024 * 1024  # one attachment; guards against zip bombs
EDXML_NAMESPACE = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
# Fields a package has once (QCVN 102 §1.2): a second copy would make the reader pick one and the
# sender mean the other (a second DocumentId defeats de-duplication), so it is refused.
SINGLE_FIELDS = ("From", "DocumentId", "Code", "PromulgationInfo", "DocumentType", "Subject", "SignerInfo", "OtherInfo")
T = TypeVar("T")


@dataclass(frozen=True)
class FieldError:
    path: str
    message: str
    message_vi: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class EdxmlError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(str(e) for e in errors))


def _parser(recover: bool = False) -> etree.XMLParser:
    # huge_tree: a base64 attachment is one text node, often over libxml2's 10 MB default. What
    # huge_tree would also lift stays bounded: depth (2048 levels) and entity amplification are
    # still enforced by libxml2, no DTD is loaded and a DOCTYPE is refused (tests/hostile).
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=True, remove_comments=True, recover=recover)


def _local(el: etree._Element) -> str:
    # Not etree.QName: the recovering parser can leave tags such as "edXML:" that it rejects.
    return el.tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1] if isinstance(el.tag, str) else ""


_ALIASES = {"Bussiness": ("Bussiness", "Business"), "BussinessDocType": ("BussinessDocType", "BusinessDocType"),
            "BussinessDocReason": ("BussinessDocReason", "BusinessDocReason"),
            "BussinessDocumentInfo": ("BussinessDocumentInfo", "BusinessDocumentInfo")}


def _names(name: str) -> tuple[str, ...]:
    return _ALIASES.get(name, (name,))


def _kids(el: etree._Element | None, name: str) -> list[etree._Element]:
    if el is None:
        return []
    names = _names(name)
    return [c for c in el if _local(c) in names]


def _kid(el: etree._Element | None, name: str) -> etree._Element | None:
    found = _kids(el, name)
    return found[0] if found else None


def _find(root: etree._Element, *path: str) -> etree._Element | None:
    el = root
    for name in path:
        el = _kid(el, name)
        if el is None:
            return None
    return el


def _text(el: etree._Element | None, name: str) -> str:
    child = _kid(el, name)
    return (child.text or "").strip() if child is not None else ""


class _Reader:
    """Reads fields relative to one element, collecting errors with their paths."""

    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors

    def fail(self, path: str, message: str, message_vi: str) -> None:
        self.errors.append(FieldError(path, message, message_vi))

    def required(self, el: etree._Element | None, name: str, path: str) -> str:
        value = _text(el, name)
        if not value:
            self.fail(f"{path}/{name}", "required field is missing or empty", "thiếu trường bắt buộc hoặc để trống")
        return value

    def convert(self, raw: str, path: str, fn: Callable[[str], T], what_en: str, what_vi: str) -> T | None:
        if not raw:
            return None
        try:
            return fn(raw)
        except (ValueError, TypeError):
            self.fail(path, f"{what_en}, got {raw!r}", f"{what_vi}, giá trị nhận được: {raw!r}")
            return None

    def date(self, el, name: str, path: str, *, required: bool) -> dt.date | None:
        raw = self.required(el, name, path) if required else _text(el, name)
        return self.convert(raw, f"{path}/{name}", parse_date, "not a date in the form yyyy/MM/dd",
                            "ngày không đúng định dạng yyyy/MM/dd")

    def timestamp(self, el, name: str, path: str, *, required: bool) -> dt.datetime | None:
        raw = self.required(el, name, path) if required else _text(el, name)
        return self.convert(raw, f"{path}/{name}", parse_timestamp, "not a time in the form yyyy/MM/dd HH:mm:ss",
                            "thời gian không đúng định dạng yyyy/MM/dd HH:mm:ss")

    def integer(self, el, name: str, path: str, default: int | None = None) -> int | None:
        value = self.convert(_text(el, name), f"{path}/{name}", int, "not a whole number", "không phải số nguyên")
        return default if value is None else value


def parse_date(raw: str) -> dt.date:
    raw = raw.strip()
    for fmt in ("%Y/%m/%d", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(raw[:10], fmt).date()
        except ValueError:
            continue
    raise ValueError(raw)


def parse_timestamp(raw: str) -> dt.datetime:
    """Axis timestamps are Vietnam time without an offset (§1.4); stored as aware UTC."""
    raw = raw.strip()
    for fmt in ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d"):
        try:
            return dt.datetime.strptime(raw, fmt).replace(tzinfo=VN_TZ).astimezone(UTC)
        except ValueError:
            continue
    moment = dt.datetime.fromisoformat(raw)  # ISO 8601, possibly with an offset
    return (moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ)).astimezone(UTC)


def _root(data: bytes) -> etree._Element:
    try:
        tree = etree.parse(io.BytesIO(data), _parser())
    except etree.XMLSyntaxError as exc:
        raise EdxmlError([FieldError("edXML", f"not well-formed XML: {exc}", f"gói tin không phải XML hợp lệ: {exc}")]) from exc
    if tree.docinfo.doctype:
        raise EdxmlError([FieldError("edXML", "a DOCTYPE is not allowed", "không được phép khai báo DOCTYPE")])
    root = tree.getroot()
    if _local(root) != "edXML":
        raise EdxmlError([FieldError("edXML", f"the root element is {_local(root)!r}, not edXML",
                                     f"phần tử gốc là {_local(root)!r}, không phải edXML")])
    namespace = etree.QName(root).namespace
    if namespace not in (None, EDXML_NAMESPACE):  # unprefixed is read liberally; another vocabulary is not
        raise EdxmlError([FieldError("edXML", f"the root element is in namespace {namespace!r}, not edXML's {EDXML_NAMESPACE}",
                                     f"phần tử gốc thuộc không gian tên (namespace) {namespace!r}, không phải của edXML")])
    return root


def _duplicates(r: "_Reader", h: etree._Element, base: str) -> None:
    for name in SINGLE_FIELDS:
        if (count := len(_kids(h, name))) > 1:
            r.fail(f"{base}/{name}", f"duplicate element: appears {count} times, must appear once",
                   f"bị lặp lại: xuất hiện {count} lần, chỉ được có một")


def _header(root: etree._Element) -> etree._Element | None:
    return _find(root, "edXMLEnvelope", "edXMLHeader", "MessageHeader")


def _organization(r: _Reader, el: etree._Element | None, path: str, *, name_required: bool) -> Organization | None:
    if el is None:
        r.fail(path, "required element is missing", "thiếu phần tử bắt buộc")
        return None
    organ_id = r.required(el, "OrganId", path)
    name = r.required(el, "OrganName", path) if name_required else _text(el, "OrganName")
    if not organ_id:
        return None
    return Organization(
        organ_id=organ_id, organ_name=name, organization_in_charge=_text(el, "OrganizationInCharge"),
        organ_add=_text(el, "OrganAdd"), email=_text(el, "Email"), telephone=_text(el, "Telephone"),
        fax=_text(el, "Fax"), website=_text(el, "Website"),
    )


def _response_for(r: _Reader, el: etree._Element, path: str) -> ResponseFor | None:
    organ_id = r.required(el, "OrganId", path)
    document_id = r.required(el, "DocumentId", path)
    date = r.date(el, "PromulgationDate", path, required=False)
    if not (organ_id and document_id):
        return None
    return ResponseFor(organ_id=organ_id, code=_text(el, "Code"), promulgation_date=date, document_id=document_id)


def _staff(el: etree._Element | None) -> StaffInfo | None:
    if el is None:
        return None
    return StaffInfo(department=_text(el, "Department"), staff=_text(el, "Staff"), mobile=_text(el, "Mobile"),
                     email=_text(el, "Email"))


def _business(r: _Reader, el: etree._Element | None, path: str) -> Business:
    if el is None:
        return Business()
    kind = r.integer(el, "BussinessDocType", path, default=0)
    try:
        doc_type = BusinessDocType(kind)
    except ValueError:
        r.fail(f"{path}/BussinessDocType", f"unknown value {kind}", f"giá trị không hợp lệ {kind}")
        doc_type = BusinessDocType.NEW
    info = _kid(el, "BussinessDocumentInfo")
    changes = []
    for i, receiver in enumerate(_kids(_kid(info, "ReceiverList"), "Receiver"), 1):
        organ_id = _text(receiver, "OrganId")
        if organ_id:
            changes.append(ReceiverChange(organ_id=organ_id, receiver_type=r.integer(
                receiver, "ReceiverType", f"{path}/BussinessDocumentInfo/ReceiverList/Receiver[{i}]", default=1)))
    replacements = [
        Replacement(document_id=_text(item, "DocumentId"),
                    organ_ids=[(o.text or "").strip() for o in _kids(_kid(item, "OrganIdList"), "OrganId")])
        for item in _kids(_kid(el, "ReplacementInfoList"), "ReplacementInfo")
        if _text(item, "DocumentId")
    ]
    return Business(
        document_id=_text(el, "DocumentId"),
        business_doc_type=doc_type,
        business_doc_reason=_text(el, "BussinessDocReason"),
        paper=r.integer(el, "Paper", path, default=0),
        staff_info=_staff(_kid(el, "StaffInfo")),
        document_info_changed=bool(int(_text(info, "DocumentInfo") or 0)) if info is not None else None,
        receivers_changed=bool(int(_text(info, "DocumentReceiver") or 0)) if info is not None else None,
        receiver_changes=changes,
        replacements=replacements,
    )


def _attachment(r: _Reader, el: etree._Element, path: str) -> Attachment | None:
    content_id = _text(el, "ContentId")
    name = r.required(el, "AttachmentName", path)
    content_type = _text(el, "ContentType") or "application/octet-stream"
    raw = "".join((_text(el, "ContentTransferEncoded")).split())
    if not raw:
        r.fail(f"{path}/ContentTransferEncoded", "the attachment has no content", "tệp đính kèm không có nội dung")
        return None
    try:
        content = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        r.fail(f"{path}/ContentTransferEncoded", "the content is not valid base64", "nội dung không phải base64 hợp lệ")
        return None
    if content_type.lower() == "application/zip" and not name.lower().endswith(".zip"):
        # Some senders zip every file (§1.7): the receiver unzips when the name is not .zip.
        unzipped = _unzip(r, content, name, f"{path}/ContentTransferEncoded")
        if unzipped is None:
            return None
        content = unzipped
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if not name:
        return None
    return Attachment(content_id=content_id or name, attachment_name=name, description=_text(el, "Description"),
                      content_type=content_type, content=content)


def _unzip(r: _Reader, data: bytes, name: str, path: str) -> bytes | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if not members:
                raise zipfile.BadZipFile("empty archive")
            chosen = next((m for m in members if m.filename.rsplit("/", 1)[-1] == name), members[0])
            if chosen.file_size > MAX_UNZIPPED_BYTES:
                raise zipfile.BadZipFile(f"{chosen.filename} is larger than {MAX_UNZIPPED_BYTES} bytes unzipped")
            return archive.read(chosen)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, RuntimeError) as exc:
        r.fail(path, f"declared application/zip but could not be unzipped: {exc}",
               f"khai báo là tệp nén zip nhưng không giải nén được: {exc}")
        return None


def _build(r: _Reader, make: Callable[[], T]) -> T:
    if r.errors:
        raise EdxmlError(r.errors)
    try:
        return make()
    except ValidationError as exc:
        raise EdxmlError([FieldError("/".join(str(p) for p in e["loc"]) or "edXML", e["msg"], e["msg"])
                          for e in exc.errors()]) from exc


def parse_edoc(data: bytes) -> EdocPackage:
    root = _root(data)
    errors: list[FieldError] = []
    r = _Reader(errors)
    h = _header(root)
    base = "MessageHeader"
    if h is None:
        raise EdxmlError([FieldError("edXMLEnvelope/edXMLHeader/MessageHeader", "required element is missing",
                                     "thiếu phần tử bắt buộc")])
    if _kid(h, "StatusCode") is not None and _kid(h, "Code") is None:
        raise EdxmlError([FieldError(base, "this is a status package, not a document package",
                                     "đây là gói tin trạng thái, không phải gói tin văn bản")])
    _duplicates(r, h, base)
    sender = _organization(r, _kid(h, "From"), f"{base}/From", name_required=True)
    to_elements = _kids(h, "To")
    recipients = [_organization(r, el, f"{base}/To[{i}]", name_required=False) for i, el in enumerate(to_elements, 1)]
    if not to_elements:
        r.fail(f"{base}/To", "at least one recipient is required", "phải có ít nhất một đơn vị nhận")
    document_id = r.required(h, "DocumentId", base)
    code_el = _kid(h, "Code")  # missing: both of its fields are reported by name
    code_number = r.required(code_el, "CodeNumber", f"{base}/Code")
    code_notation = r.required(code_el, "CodeNotation", f"{base}/Code")
    info = _kid(h, "PromulgationInfo")
    issued = r.date(info, "PromulgationDate", f"{base}/PromulgationInfo", required=True)
    type_el = _kid(h, "DocumentType")
    type_name = r.required(type_el, "TypeName", f"{base}/DocumentType")
    subject = r.required(h, "Subject", base)
    due = r.date(h, "DueDate", base, required=False)
    other = _kid(h, "OtherInfo")
    priority_value = r.integer(other, "Priority", f"{base}/OtherInfo", default=0)
    try:
        priority = Priority(priority_value)
    except ValueError:
        r.fail(f"{base}/OtherInfo/Priority", f"unknown urgency {priority_value} (0–4)", f"độ khẩn không hợp lệ {priority_value} (0–4)")
        priority = Priority.NORMAL
    signer = _kid(h, "SignerInfo")
    responses = [_response_for(r, el, f"{base}/ResponseFor[{i}]") for i, el in enumerate(_kids(h, "ResponseFor"), 1)]
    trace_list = _find(root, "edXMLEnvelope", "edXMLHeader", "TraceHeaderList")
    traces = []
    for i, el in enumerate(_kids(trace_list, "TraceHeader"), 1):
        organ_id = _text(el, "OrganId")
        moment = r.timestamp(el, "Timestamp", f"TraceHeaderList/TraceHeader[{i}]", required=False)
        if organ_id and moment:
            traces.append(TraceHeader(organ_id=organ_id, timestamp=moment))
    business = _business(r, _kid(trace_list, "Bussiness"), "TraceHeaderList/Bussiness")
    attachment_elements = _kids(_kid(root, "AttachmentEncoded"), "Attachment")
    attachments = [_attachment(r, el, f"AttachmentEncoded/Attachment[{i}]") for i, el in enumerate(attachment_elements, 1)]
    if not attachment_elements and business.business_doc_type != BusinessDocType.RECALL:
        r.fail("AttachmentEncoded/Attachment", "the package carries no document file", "gói tin không có tệp văn bản")

    def make() -> EdocPackage:
        return EdocPackage(
            sender=sender,
            recipients=[x for x in recipients if x is not None],
            document_id=document_id,
            code=Code(code_number=code_number, code_notation=code_notation),
            promulgation_info=PromulgationInfo(place=_text(info, "Place"), promulgation_date=issued),
            document_type=DocumentType(type=r.integer(type_el, "Type", f"{base}/DocumentType", default=1),
                                       type_detail=r.integer(type_el, "TypeDetail", f"{base}/DocumentType", default=0),
                                       type_name=type_name),
            subject=subject,
            content=_text(h, "Content"),
            signer_info=SignerInfo(competence=_text(signer, "Competence"), position=_text(signer, "Position"),
                                   full_name=_text(signer, "FullName")),
            due_date=due,
            other_info=OtherInfo(
                priority=priority,
                sphere_of_promulgation=_text(other, "SphereOfPromulgation"),
                typer_notation=_text(other, "TyperNotation"),
                promulgation_amount=r.integer(other, "PromulgationAmount", f"{base}/OtherInfo"),
                page_amount=r.integer(other, "PageAmount", f"{base}/OtherInfo"),
                direction=_text(other, "Direction").lower() in ("true", "1"),
                appendixes=[(a.text or "").strip() for a in _kids(_kid(other, "Appendixes"), "Appendix") if (a.text or "").strip()],
            ),
            steering_type=r.integer(h, "SteeringType", base, default=1),
            to_places=[(p.text or "").strip() for p in _kids(_kid(h, "ToPlaces"), "Place") if (p.text or "").strip()],
            response_for=[x for x in responses if x is not None],
            trace_headers=traces,
            business=business,
            attachments=[a for a in attachments if a is not None],
        )

    return _build(r, make)


def parse_status(data: bytes) -> StatusPackage:
    root = _root(data)
    r = _Reader([])
    h = _header(root)
    base = "MessageHeader"
    if h is None:
        raise EdxmlError([FieldError("edXMLEnvelope/edXMLHeader/MessageHeader", "required element is missing",
                                     "thiếu phần tử bắt buộc")])
    sender = _organization(r, _kid(h, "From"), f"{base}/From", name_required=False)
    ref_el = _kid(h, "ResponseFor")
    if ref_el is None:
        r.fail(f"{base}/ResponseFor", "required element is missing", "thiếu phần tử bắt buộc")
        response_for = None
    else:
        response_for = _response_for(r, ref_el, f"{base}/ResponseFor")
    raw_code = r.required(h, "StatusCode", base)
    code = None
    if raw_code:
        try:
            code = StatusCode(raw_code.zfill(2))
        except ValueError:
            r.fail(f"{base}/StatusCode", f"unknown status code {raw_code!r}", f"mã trạng thái không hợp lệ {raw_code!r}")
    moment = r.timestamp(h, "Timestamp", base, required=True)
    return _build(r, lambda: StatusPackage(sender=sender, response_for=response_for, staff_info=_staff(_kid(h, "StaffInfo")),
                                           status_code=code, description=_text(h, "Description"), timestamp=moment))


def parse_package(data: bytes) -> EdocPackage | StatusPackage:
    return parse_status(data) if peek_header(data).kind == "status" else parse_edoc(data)


@dataclass(frozen=True)
class Header:
    """What the gateway needs to route and de-duplicate a package before full parsing."""

    kind: str | None = None  # "edoc" | "status" | None when unreadable
    sender_organ_id: str | None = None
    document_id: str | None = None
    status_code: str | None = None
    response_for_document_id: str | None = None
    business_doc_type: int = 0
    priority: int = 0


def peek_header(data: bytes) -> Header:
    """Never raises: a broken package still needs routing so its sender can be told (R-3.4).
    Falls back to lxml's recovering parser for truncated or malformed XML."""
    root = None
    for recover in (False, True):
        try:
            root = etree.parse(io.BytesIO(data), _parser(recover)).getroot()
            break
        except (etree.XMLSyntaxError, ValueError):
            continue
    if root is None or _local(root) != "edXML":
        return Header()
    h = _header(root)
    if h is None:
        return Header()
    kind = "status" if _kid(h, "StatusCode") is not None and _kid(h, "DocumentId") is None else "edoc"
    sender = _text(_kid(h, "From"), "OrganId") or None
    business = _find(root, "edXMLEnvelope", "edXMLHeader", "TraceHeaderList", "Bussiness")

    def as_int(raw: str) -> int:
        try:
            return int(raw)
        except ValueError:
            return 0

    if kind == "status":
        return Header(kind=kind, sender_organ_id=sender, status_code=_text(h, "StatusCode") or None,
                      response_for_document_id=_text(_kid(h, "ResponseFor"), "DocumentId") or None)
    return Header(kind=kind, sender_organ_id=sender, document_id=_text(h, "DocumentId") or None,
                  business_doc_type=as_int(_text(business, "BussinessDocType") or "0"),
                  priority=as_int(_text(_kid(h, "OtherInfo"), "Priority") or "0"))
