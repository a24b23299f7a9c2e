"""edXML packages (standards.md §1): build → parse round trip, the bytes the national axis
expects, and errors that name the field (R-3.4, R-6.1), NFC text (R-4.4)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import unicodedata
import zipfile

import pytest
from lxml import etree

from shared.clock import UTC
from shared.edxml import (
    NAMESPACE,
    Attachment,
    Business,
    BusinessDocType,
    Code,
    DocumentType,
    EdocPackage,
    EdxmlError,
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
    parse_edoc,
    parse_package,
    parse_status,
    peek_header,
)

PROVINCE = Organization(organ_id="000.01.00.H56", organ_name="Văn phòng UBND tỉnh Thanh Hóa")
COMMUNE = Organization(organ_id="000.24.26.H56", organ_name="UBND xã Hoằng Đức")
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 4


def package(**overrides) -> EdocPackage:
    code = Code(code_number="125", code_notation="VP-TH")
    issued = dt.date(2026, 11, 24)
    values = dict(
        sender=PROVINCE,
        recipients=[COMMUNE],
        document_id=EdocPackage.make_document_id(PROVINCE.organ_id, issued, code),
        code=code,
        promulgation_info=PromulgationInfo(place="Thanh Hóa", promulgation_date=issued),
        document_type=DocumentType(type=1, type_name="Công văn"),
        subject="Về việc triển khai Đề án 06 & chuyển đổi số <năm 2026>",
        content="Nội dung tóm tắt",
        signer_info=SignerInfo(competence="KT. CHÁNH VĂN PHÒNG", position="Phó Chánh Văn phòng", full_name="Nguyễn Văn An"),
        due_date=dt.date(2026, 12, 5),
        other_info=OtherInfo(priority=Priority.VERY_URGENT, page_amount=2, appendixes=["Phụ lục I"]),
        to_places=["UBND các xã, phường", "Lưu: VT"],
        trace_headers=[TraceHeader(organ_id=PROVINCE.organ_id, timestamp=dt.datetime(2026, 11, 24, 2, 30, tzinfo=UTC))],
        business=Business(business_doc_type=BusinessDocType.NEW, business_doc_reason="Văn bản điện tử mới",
                          staff_info=StaffInfo(department="Phòng Hành chính", staff="Lê Thị Hoa")),
        attachments=[Attachment(content_id="cid:1", attachment_name="125-VP-TH.pdf", content_type="application/pdf", content=PDF)],
    )
    values.update(overrides)
    return EdocPackage(**values)


def test_document_id_has_the_national_form():
    assert package().document_id == "000.01.00.H56,2026/11/24,125/VP-TH"


def test_edoc_round_trip_keeps_every_field():
    original = package()
    assert parse_edoc(build_edoc(original)) == original


def test_envelope_elements_carry_the_edxml_prefix_and_the_sample_order():
    data = build_edoc(package())
    text = data.decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert f'<edXML xmlns="{NAMESPACE}"' in text
    assert f'<edXML:edXMLEnvelope xmlns:edXML="{NAMESPACE}">' in text
    assert "<edXML:Bussiness>" in text and "<edXML:BussinessDocType>0<" in text
    assert "<edXML:PromulgationDate>2026/11/24<" in text
    # Trace timestamps are Vietnam time, no offset (§1.4): 02:30 UTC is 09:30 in Hanoi.
    assert "<edXML:Timestamp>2026/11/24 09:30:00<" in text
    header = etree.fromstring(data).find(f"{{{NAMESPACE}}}edXMLEnvelope/{{{NAMESPACE}}}edXMLHeader/{{{NAMESPACE}}}MessageHeader")
    order = [etree.QName(c).localname for c in header]
    assert order == ["From", "To", "DocumentId", "Code", "PromulgationInfo", "DocumentType", "Subject", "Content",
                     "SignerInfo", "DueDate", "OtherInfo", "SteeringType", "ToPlaces"]
    # Markup in text is escaped, not injected.
    assert "&lt;năm 2026&gt;" in text and "&amp;" in text


def test_text_is_nfc_normalised_on_the_way_in():
    decomposed = unicodedata.normalize("NFD", "Hoằng Đức")
    parsed = parse_edoc(build_edoc(package(subject=decomposed)))
    assert parsed.subject == "Hoằng Đức" and unicodedata.is_normalized("NFC", parsed.subject)


def test_missing_required_fields_are_all_named():
    data = build_edoc(package()).decode()
    data = data.replace("<edXML:CodeNumber>125</edXML:CodeNumber>", "")
    data = data.replace("<edXML:Subject>", "<edXML:Subject>").replace(
        "<edXML:PromulgationDate>2026/11/24</edXML:PromulgationDate>", "<edXML:PromulgationDate>24-11-2026</edXML:PromulgationDate>")
    with pytest.raises(EdxmlError) as caught:
        parse_edoc(data.encode())
    paths = {e.path for e in caught.value.errors}
    assert "MessageHeader/Code/CodeNumber" in paths
    assert "MessageHeader/PromulgationInfo/PromulgationDate" in paths
    assert all(e.message_vi for e in caught.value.errors)


def test_bad_base64_and_missing_recipient_are_reported():
    data = build_edoc(package()).decode()
    start = data.index("<edXML:To>")
    data = data[:start] + data[data.index("</edXML:To>") + len("</edXML:To>"):]
    data = data.replace(base64.b64encode(PDF).decode(), "@@not base64@@")
    with pytest.raises(EdxmlError) as caught:
        parse_edoc(data.encode())
    paths = {e.path for e in caught.value.errors}
    assert paths >= {"MessageHeader/To", "AttachmentEncoded/Attachment[1]/ContentTransferEncoded"}


def test_zipped_attachment_is_unzipped_and_a_real_zip_is_kept():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("125-VP-TH.pdf", PDF)
    zipped = Attachment(content_id="cid:1", attachment_name="125-VP-TH.pdf", content_type="application/zip",
                        content=buffer.getvalue())
    real_zip = Attachment(content_id="cid:2", attachment_name="ho-so.zip", content_type="application/zip",
                          content=buffer.getvalue())
    parsed = parse_edoc(build_edoc(package(attachments=[zipped, real_zip])))
    assert parsed.attachments[0].content == PDF and parsed.attachments[0].content_type == "application/pdf"
    assert parsed.attachments[1].content == buffer.getvalue()


def test_external_entities_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    data = build_edoc(package()).decode()
    data = data.replace('<?xml version="1.0" encoding="UTF-8"?>',
                        f'<?xml version="1.0"?><!DOCTYPE edXML [<!ENTITY x SYSTEM "file://{secret}">]>')
    data = data.replace("<edXML:Content>Nội dung tóm tắt", "<edXML:Content>&x;")
    with pytest.raises(EdxmlError) as caught:
        parse_edoc(data.encode())
    assert "DOCTYPE" in str(caught.value)
    assert "TOP-SECRET" not in repr(peek_header(data.encode()))


def test_lenient_reading_of_unprefixed_elements_and_business_spelling():
    data = build_edoc(package()).decode().replace("edXML:", "").replace(' xmlns:edXML="', ' xmlns:e="')
    data = data.replace("Bussiness", "Business")
    parsed = parse_edoc(data.encode())
    assert parsed.code.full == "125/VP-TH" and parsed.business.business_doc_reason == "Văn bản điện tử mới"


def test_status_round_trip_and_kind_detection():
    status = StatusPackage(
        sender=COMMUNE,
        response_for=ResponseFor(organ_id=PROVINCE.organ_id, code="125/VP-TH", promulgation_date=dt.date(2026, 11, 24),
                                 document_id="000.01.00.H56,2026/11/24,125/VP-TH"),
        staff_info=StaffInfo(department="Văn phòng - Thống kê", staff="Văn thư"),
        status_code=StatusCode.REFUSED,
        description="Văn bản đã bị sửa đổi sau khi ký số",
        timestamp=dt.datetime(2026, 11, 25, 1, 0, 5, tzinfo=UTC),
    )
    data = build_status(status)
    assert parse_status(data) == status
    assert parse_package(data) == status
    header = peek_header(data)
    assert (header.kind, header.status_code, header.response_for_document_id) == ("status", "02", status.response_for.document_id)
    with pytest.raises(EdxmlError):
        parse_edoc(data)


def test_unknown_status_code_is_refused_by_name():
    data = build_status(StatusPackage(sender=COMMUNE, response_for=ResponseFor(organ_id="x", document_id="y"),
                                      status_code=StatusCode.ARRIVED, timestamp=dt.datetime.now(UTC)))
    with pytest.raises(EdxmlError) as caught:
        parse_status(data.replace(b"<edXML:StatusCode>01<", b"<edXML:StatusCode>09<"))
    assert caught.value.errors[0].path == "MessageHeader/StatusCode"


def test_peek_header_reads_a_truncated_package_enough_to_answer_it():
    data = build_edoc(package())
    header = peek_header(data[: len(data) // 2])
    assert header.kind == "edoc"
    assert header.sender_organ_id == "000.01.00.H56" and header.document_id == "000.01.00.H56,2026/11/24,125/VP-TH"
    assert header.priority == 2
    assert peek_header(b"\x00garbage").kind is None
    with pytest.raises(EdxmlError) as caught:
        parse_edoc(data[: len(data) // 2])
    assert caught.value.errors[0].path == "edXML"
