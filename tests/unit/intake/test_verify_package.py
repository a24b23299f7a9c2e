"""Verification of an incoming package end to end and its finer rules, with a PKI of the test's
own (shared.devpki) and a CRL served over HTTP: real containers by content (R-4.5), secrecy
markings and nothing stored for a secret (R-1.2), changes after signing by an incremental update,
expired signer, the refusal naming every field (R-3.4, R-6.1), files kept by SHA-256 (R-4.1)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import threading
import types
import unicodedata
import uuid
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from PIL import Image
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter

from devstack.processes import free_port
from shared.file_format import detect
from shared.pdf_signatures import CrlCache, load_trust_roots, validate_pdf_signatures_blocking
from services.intake.domain.verification import (
    ACCEPTED_SIGNATURE_LEVELS,
    POLICY_VERSION,
    Check,
    Outcome,
    SignatureFact,
    VerificationReport,
    format_check,
    is_secret,
    main_document_index,
    signature_checks,
)
from services.intake.handlers.verify import verify_package
from shared import devpki
from shared.blobs import BlobStore, sha256_hex
from shared.clock import UTC
from shared.config import Settings
from shared.db import Store
from shared.edxml import (
    Attachment,
    Business,
    Code,
    DocumentType,
    EdocPackage,
    EdxmlError,
    Organization,
    OtherInfo,
    PromulgationInfo,
    SignerInfo,
    TraceHeader,
    build_edoc,
    parse_edoc,
)
from shared.pdfdocs import LEADER_FIELD, render_document

PROVINCE = Organization(organ_id="000.01.00.H56", organ_name="Văn phòng UBND tỉnh Thanh Hóa")  # in deploy/directory.json
COMMUNE = Organization(organ_id="000.24.26.H56", organ_name="UBND xã Hoằng Đức")


# --- real containers by content (R-4.5) ------------------------------------------------------

def _ooxml(main_type: str, part: str) -> bytes:
    """A minimal but well-formed OOXML package, the way Office writes one."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml",
                         '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                         '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                         '<Default Extension="xml" ContentType="application/xml"/>'
                         f'<Override PartName="/{part}" ContentType="{main_type}"/></Types>')
        archive.writestr("_rels/.rels",
                         '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
                         f'Target="{part}"/></Relationships>')
        archive.writestr(part, '<?xml version="1.0" encoding="UTF-8"?><document>Báo cáo tháng 11</document>')
    return buffer.getvalue()


DOCX = _ooxml("application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml", "word/document.xml")
XLSX = _ooxml("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml", "xl/workbook.xml")
DOCM = _ooxml("application/vnd.ms-word.document.macroEnabled.main+xml", "word/document.xml")


def _odf(mimetype: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), mimetype)  # first and stored, as ODF requires
        archive.writestr("content.xml", "<office:document-content/>")
        archive.writestr("META-INF/manifest.xml", "<manifest:manifest/>")
    return buffer.getvalue()


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 20, 20)).save(out, format="JPEG")
    return out.getvalue()


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 20, 20)).save(out, format="PNG")
    return out.getvalue()


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"This program cannot be run in DOS mode." + bytes(512)


@pytest.mark.parametrize(
    ("content", "family"),
    [
        (DOCX, "docx"), (XLSX, "xlsx"), (_odf("application/vnd.oasis.opendocument.text"), "odt"),
        (_odf("application/vnd.oasis.opendocument.spreadsheet"), "ods"),
        (DOCM, None),  # macro-enabled Word is not an accepted format
        (_odf("application/pdf"), None),  # a zip claiming to be a PDF is a zip
        (b"{\\rtf1\\ansi\\deff0 {\\fonttbl {\\f0 Times;}} B\\'e1o c\\'e1o}", "rtf"),
        ("Họ tên;Đơn vị\nAn;VP\nBình;TC\n".encode(), "csv"),
        (_jpeg(), "jpeg"), (_png(), None), (EXE, None), (b"", None),
        (b"<html><body>Van ban</body></html>", None),
    ],
)
def test_real_containers_and_images_are_told_by_content(content, family):
    assert detect(content)[1] == family


def test_an_exe_named_pdf_is_refused_for_its_format():
    mime, family = detect(EXE)
    check = format_check("van-ban.pdf", family, ".pdf", main_document=True)
    report = VerificationReport((check,))
    assert report.verdict == Outcome.FAILED and "Định dạng tệp không đúng" in report.refusal_reason_vi()
    assert "van-ban.pdf" in report.refusal_reason_vi()


def test_extension_must_agree_with_content_but_harmless_pairs_pass():
    assert format_check("ds.txt", "csv", ".txt", main_document=False).outcome == Outcome.PASSED
    assert format_check("cv.doc", "rtf", ".doc", main_document=False).outcome == Outcome.PASSED
    assert format_check("anh.JPG", "jpeg", ".JPG", main_document=False).outcome == Outcome.PASSED
    assert format_check("bang.xlsx", "docx", ".xlsx", main_document=False).outcome == Outcome.FAILED
    assert format_check("phu-luc.pdf", "docx", ".pdf", main_document=False).outcome == Outcome.FAILED


def test_the_main_document_is_the_first_pdf():
    assert main_document_index(["docx", "pdf", "pdf"]) == 1
    assert main_document_index(["docx", None]) is None


@pytest.mark.parametrize(
    ("text", "secret"),
    [("Tuyệt mật", True), ("(Tối mật) Về việc bảo vệ biên giới", True), ("MẬT - Kế hoạch", True),
     ("Về việc ... Độ mật: Mật", True), (unicodedata.normalize("NFD", "Mật"), True),
     ("Mật khẩu hộp thư công vụ", False), ("Về việc đổi mật khẩu", False), ("Bí mật kinh doanh của doanh nghiệp", False)],
)
def test_secrecy_markings_not_ordinary_words(text, secret):
    assert is_secret(text) is secret


def test_refusal_names_every_failure_and_stays_bounded():
    many = tuple(Check("required_fields", Outcome.FAILED, "missing", f"Trường X{i}: thiếu trường bắt buộc", subject=f"X{i}")
                 for i in range(200))
    reason = VerificationReport(many).refusal_reason_vi()
    assert reason.startswith("Từ chối tiếp nhận văn bản: Trường X0") and "lỗi khác" in reason and len(reason) < 1700
    assert VerificationReport((Check("structure", Outcome.PASSED),)).refusal_reason_vi() == ""


def test_an_unreadable_signature_is_named_as_such():
    fact = SignatureFact("Sig1", None, False, False, False, False, note="bad CMS", readable=False)
    [check] = signature_checks("vb.pdf", [fact])
    assert check.outcome == Outcome.FAILED and "không đọc được" in check.detail_vi


# --- a PKI of the test's own, CRL over HTTP ------------------------------------------------------

class Pki:
    def __init__(self, directory, port: int) -> None:
        self.directory = directory
        self.crl_url = f"http://127.0.0.1:{port}/ca.crl"
        self.ca = devpki.make_ca("CA thử nghiệm Sở Nội vụ", "Sở Nội vụ tỉnh Thanh Hóa")
        self.rogue = devpki.make_ca("CA không tin cậy", "Không rõ")
        self.up = True
        self.revoked: list[int] = []
        roots = directory / "trust-roots.pem"
        other = devpki.make_ca("CA khác", "Đơn vị khác")  # a bundle of several roots, as operators keep them
        roots.write_bytes(devpki.cert_pem(other.certificate) + devpki.cert_pem(self.ca.certificate))
        self.roots_file = roots

    def crl_der(self) -> bytes:
        return devpki.make_crl(self.ca, self.revoked).public_bytes(serialization.Encoding.DER)

    def signer(self, name: str, *, ca=None, **kwargs) -> tuple[signers.SimpleSigner, int]:
        ca = ca or self.ca
        key = devpki.issue_key(ca, common_name=name, organization="Sở Nội vụ tỉnh Thanh Hóa", crl_url=self.crl_url, **kwargs)
        stem = uuid.uuid4().hex
        cert_path, key_path = devpki.save(key, self.directory, stem)
        ca_path = self.directory / f"{stem}-ca.pem"
        ca_path.write_bytes(devpki.cert_pem(ca.certificate))
        signer = signers.SimpleSigner.load(str(key_path), str(cert_path), ca_chain_files=[str(ca_path)])
        return signer, key.certificate.serial_number


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    port = free_port()
    keys = Pki(tmp_path_factory.mktemp("own-pki"), port)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's API
            if not keys.up:
                self.send_response(503)
                self.end_headers()
                return
            body = keys.crl_der()
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield keys
    server.shutdown()


def _sign(pdf: bytes, signer, field: str) -> bytes:
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    meta = signers.PdfSignatureMetadata(field_name=field, md_algorithm="sha256", subfilter=SigSeedSubFilter.PADES)
    return signers.sign_pdf(writer, meta, signer=signer).getvalue()


def _signed(pki: Pki, **kwargs) -> bytes:
    signer, _ = pki.signer("Nguyễn Văn An", **kwargs)
    return _sign(render_document().pdf, signer, LEADER_FIELD)


def _facts(pdf: bytes, pki: Pki, *, final_attempt: bool = False):
    roots = load_trust_roots([pki.roots_file])
    return validate_pdf_signatures_blocking(pdf, roots, crl_cache=CrlCache(max_age_seconds=0), final_attempt=final_attempt)


def _report(pdf: bytes, pki: Pki, **kwargs) -> VerificationReport:
    return VerificationReport(tuple(signature_checks("van-ban.pdf", _facts(pdf, pki, **kwargs))))


def test_a_bundle_of_roots_is_loaded_whole(pki):
    assert len(load_trust_roots([pki.roots_file])) == 2


def test_signed_pdf_passes_with_the_crl_checked(pki):
    [fact] = _facts(_signed(pki), pki)
    assert (fact.intact, fact.valid, fact.trusted, fact.revoked, fact.modified_after) == (True, True, True, False, False)
    assert fact.signer_cn == "Nguyễn Văn An" and "revocation checked" in fact.note


def test_content_added_by_a_later_incremental_update_is_a_modification(pki):
    writer = IncrementalPdfFileWriter(io.BytesIO(_signed(pki)), strict=False)
    stream = writer.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 700 Td (DA SUA) Tj ET"))
    writer.add_stream_to_page(0, stream)
    out = io.BytesIO()
    writer.write(out)
    [fact] = _facts(out.getvalue(), pki)
    assert fact.intact and fact.modified_after  # the signed bytes are untouched; the later revision is the change
    report = VerificationReport(tuple(signature_checks("van-ban.pdf", [fact])))
    assert report.verdict == Outcome.FAILED and "sửa đổi sau khi ký" in report.refusal_reason_vi()


def test_a_second_signature_after_the_first_is_allowed(pki):
    agency, _ = pki.signer("UBND tỉnh Thanh Hóa")
    pdf = _sign(_signed(pki), agency, "ChuKyCoQuan")
    report = _report(pdf, pki)
    assert report.verdict == Outcome.PASSED and len(report.checks) == 2


def test_untrusted_expired_and_revoked_signers_fail(pki):
    assert "tin cậy" in _report(_signed(pki, ca=pki.rogue), pki).refusal_reason_vi()
    expired = _signed(pki, not_before=dt.datetime.now(UTC) - dt.timedelta(days=30), valid_days=10)
    assert "hết hạn" in _report(expired, pki).refusal_reason_vi()
    signer, serial = pki.signer("Lê Văn Thu Hồi")
    pdf = _sign(render_document().pdf, signer, LEADER_FIELD)
    pki.revoked.append(serial)
    try:
        assert "thu hồi" in _report(pdf, pki).refusal_reason_vi()
    finally:
        pki.revoked.remove(serial)


def test_crl_down_is_indeterminate_then_accepted_on_the_last_attempt_with_a_note(pki):
    pdf = _signed(pki)
    pki.up = False
    try:
        report = _report(pdf, pki)
        assert report.verdict == Outcome.INDETERMINATE and report.refusal_reason_vi() == ""
        last = _report(pdf, pki, final_attempt=True)
        assert last.verdict == Outcome.PASSED and "without revocation data" in last.checks[0].detail_en
    finally:
        pki.up = True


# --- verify_package on a real blob store -----------------------------------------------------

@pytest.fixture
async def ctx(mongodb_url, pki):
    settings = Settings(mongodb_url=mongodb_url, trust_roots=[pki.roots_file])
    database = f"t{uuid.uuid4().hex[:10]}_intake"
    store = Store(mongodb_url, database)
    yield types.SimpleNamespace(settings=settings, blobs=BlobStore(store, "intake"), store=store, extras={})
    await store.client.drop_database(database)
    await store.close()


def _package(attachments, **overrides) -> bytes:
    code = Code(code_number="125", code_notation="SNV-VP")
    issued = dt.date(2026, 11, 24)
    values = dict(
        sender=PROVINCE, recipients=[COMMUNE],
        document_id=EdocPackage.make_document_id(PROVINCE.organ_id, issued, code), code=code,
        promulgation_info=PromulgationInfo(place="Thanh Hóa", promulgation_date=issued),
        document_type=DocumentType(type=1, type_name="Công văn"), subject="Về việc triển khai Đề án 06",
        signer_info=SignerInfo(competence="KT. GIÁM ĐỐC", position="Phó Giám đốc", full_name="Nguyễn Văn An"),
        other_info=OtherInfo(page_amount=1), to_places=["UBND xã Hoằng Đức", "Lưu: VT"],
        trace_headers=[TraceHeader(organ_id=PROVINCE.organ_id, timestamp=dt.datetime(2026, 11, 24, 2, 30, tzinfo=UTC))],
        business=Business(),
        attachments=[Attachment(content_id=f"cid:{i}", attachment_name=name, content_type="application/octet-stream", content=data)
                     for i, (name, data) in enumerate(attachments, 1)],
    )
    values.update(overrides)
    return build_edoc(EdocPackage(**values))


async def _verify(ctx, raw: bytes, *, final_attempt: bool = False):
    try:
        package, error = parse_edoc(raw), None
    except EdxmlError as exc:
        package, error = None, exc
    return await verify_package(ctx, None, raw, package, error, final_attempt=final_attempt)


async def test_a_good_package_passes_and_every_file_is_kept_in_order(ctx, pki):
    pdf = await asyncio.to_thread(_signed, pki)
    report, files = await _verify(ctx, _package([("phu-luc.docx", DOCX), ("125-SNV-VP.pdf", pdf), ("anh.jpg", _jpeg())]))
    assert report.verdict == Outcome.PASSED, report.summary_en()
    assert [f.name for f in files] == ["phu-luc.docx", "125-SNV-VP.pdf", "anh.jpg"]
    assert files[1].sha256 == hashlib.sha256(pdf).hexdigest() and files[1].media_type == "application/pdf"
    assert await ctx.blobs.get(files[1].sha256) == pdf
    record = report.to_dict()
    assert record["verdict"] == "passed" and record["policy"] == POLICY_VERSION == "vanthu-incoming-2"
    assert record["accepted_levels"] == list(ACCEPTED_SIGNATURE_LEVELS)
    assert record["signatures"][0]["level"] == "PAdES-B-B" and record["signatures"][0]["non_repudiation"]
    assert record["signatures"][0]["signer_cn"] == "Nguyễn Văn An"
    assert {c["name"] for c in record["checks"]} >= {"structure", "required_fields", "sender_known", "addressed_to_us",
                                                     "not_secret", "attachment_integrity", "attachment_format", "signature"}


async def test_a_secret_document_is_refused_and_nothing_is_stored(ctx, pki):
    pdf = await asyncio.to_thread(_signed, pki)
    report, files = await _verify(ctx, _package([("mat.pdf", pdf)], other_info=OtherInfo(sphere_of_promulgation="Tối mật")))
    assert report.verdict == Outcome.FAILED and "độ mật" in report.refusal_reason_vi()
    assert files == [] and not await ctx.blobs.exists(sha256_hex(pdf))


async def test_every_problem_is_named_in_one_refusal(ctx, pki):
    stranger = Organization(organ_id="000.99.99.H99", organ_name="Đơn vị lạ")
    raw = _package([("van-ban.pdf", EXE)], sender=stranger, recipients=[PROVINCE],
                   document_id=EdocPackage.make_document_id(stranger.organ_id, dt.date(2026, 11, 24), Code(code_number="1", code_notation="X")))
    report, files = await _verify(ctx, raw)
    reason = report.refusal_reason_vi()
    assert report.verdict == Outcome.FAILED and len(files) == 1
    assert "000.99.99.H99" in reason and "không gửi đến đơn vị 000.24.26.H56" in reason
    assert "Định dạng tệp không đúng" in reason and "không có tệp văn bản PDF" in reason


async def test_a_missing_field_is_refused_naming_it(ctx, pki):
    raw = _package([("van-ban.pdf", await asyncio.to_thread(_signed, pki))])
    raw = raw.replace(b"<edXML:CodeNumber>125</edXML:CodeNumber>", b"")
    report, files = await _verify(ctx, raw)
    assert report.verdict == Outcome.FAILED and files == []
    assert "CodeNumber" in report.refusal_reason_vi()


async def test_crl_down_is_indeterminate_in_the_package_verdict(ctx, pki):
    raw = _package([("van-ban.pdf", await asyncio.to_thread(_signed, pki))])
    pki.up = False
    try:
        report, _ = await _verify(ctx, raw)
        assert report.verdict == Outcome.INDETERMINATE
        ctx.extras.clear()
        report, _ = await _verify(ctx, raw, final_attempt=True)
        assert report.verdict == Outcome.PASSED
    finally:
        pki.up = True
