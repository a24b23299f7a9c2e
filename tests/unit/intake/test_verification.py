"""Verification of incoming packages: the verdict rules (R-3.4, R-6.1), real formats by content
(R-4.5), secrecy (R-1.2) and the PDF signatures with revocation (R-4.1, R-6.1), on real signed
PDFs and a real CRL server."""

from __future__ import annotations

import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pyhanko.sign.signers import SimpleSigner

from devstack.processes import free_port
from localaxis.agencies import Agency
from localaxis.pki import ROGUE, AxisPki
from localaxis.simulator import AGENCY_FIELD, _sign, _tamper
from shared.file_format import detect
from shared.pdf_signatures import CrlCache, load_trust_roots, validate_pdf_signatures_blocking
from services.intake.domain.verification import (
    POLICY_VERSION,
    Check,
    SignatureFact,
    Outcome,
    VerificationReport,
    format_check,
    is_secret,
    signature_checks,
    structure_checks,
)
from shared import devpki
from shared.edxml import EdxmlError, parse_edoc
from shared.pdfdocs import LEADER_FIELD, render_document

CODE = "000.12.00.H56"


def test_verdict_failed_beats_indeterminate_beats_passed():
    passed = Check("structure", Outcome.PASSED)
    unsure = Check("signature", Outcome.INDETERMINATE, "crl down", "Chưa kiểm tra được")
    failed = Check("attachment_format", Outcome.FAILED, "exe", "Định dạng tệp không đúng", subject="a.pdf")
    assert VerificationReport((passed,)).verdict == Outcome.PASSED
    assert VerificationReport((passed, unsure)).verdict == Outcome.INDETERMINATE
    report = VerificationReport((passed, unsure, failed))
    assert report.verdict == Outcome.FAILED
    assert report.failed_checks() == [failed]
    assert "Định dạng tệp không đúng (a.pdf)" in report.refusal_reason_vi()
    assert report.to_dict()["verdict"] == "failed" and report.to_dict()["checks"][2]["outcome"] == "failed"


def test_parser_errors_become_checks_naming_the_field():
    with pytest.raises(EdxmlError) as caught:
        parse_edoc(b"<edXML xmlns='http://www.mic.gov.vn/TBT/QCVN_102_2016'><edXMLEnvelope><edXMLHeader><MessageHeader/>"
                   b"</edXMLHeader></edXMLEnvelope></edXML>")
    report = VerificationReport(tuple(structure_checks(caught.value.errors)))
    assert report.verdict == Outcome.FAILED
    assert "MessageHeader/Code/CodeNumber" in report.refusal_reason_vi()


@pytest.mark.parametrize(("text", "secret"), [("Mật", True), ("TỐI MẬT", True), ("[MẬT] Về việc…", True),
                                               ("Về việc đổi mật khẩu hộp thư công vụ", False), ("", False)])
def test_secrecy_markings(text, secret):
    assert is_secret(text) is secret


def _docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def _odt() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", "<office:document-content/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "family"),
    [(render_document().pdf, "pdf"), (_docx(), "docx"), (_odt(), "odt"), ("Báo cáo\n".encode(), "txt"),
     (b"ma,ten\n1,An\n2,Binh\n", "csv"), (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(100), "jpeg"),
     (b"MZ\x90\x00" + bytes(300), None), (b"PK\x03\x04garbage", None)],
)
def test_real_format_is_read_from_the_content(content, family):
    assert detect(content)[1] == family


def test_format_rules_extension_must_match_and_the_document_must_be_pdf():
    assert format_check("a.pdf", "pdf", ".pdf", main_document=True).outcome == Outcome.PASSED
    assert format_check("a.pdf", None, ".pdf", main_document=True).outcome == Outcome.FAILED  # an exe named .pdf
    assert format_check("a.pdf", "docx", ".pdf", main_document=False).outcome == Outcome.FAILED
    assert format_check("phu-luc.docx", "docx", ".docx", main_document=False).outcome == Outcome.PASSED
    assert format_check("van-ban.docx", "docx", ".docx", main_document=True).outcome == Outcome.FAILED
    assert format_check("anh.jpg", "jpeg", ".jpg", main_document=False).outcome == Outcome.PASSED


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A simulated agency's CA with a CRL served over HTTP, switchable off."""
    port = free_port()
    state = {"up": True}
    agency = Agency(code=CODE, name="Sở Nội vụ tỉnh Thanh Hóa", systemid="s", secret="s", simulated=True)
    keys = AxisPki(tmp_path_factory.mktemp("pki"), f"http://127.0.0.1:{port}", [agency])
    keys.ensure()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's API
            if not state["up"]:
                self.send_response(503)
                self.end_headers()
                return
            body = keys.crl_der(CODE)
            self.send_response(200)
            self.send_header("Content-Type", "application/pkix-crl")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield keys, state
    server.shutdown()


def _signed(keys: AxisPki, who: str = CODE) -> bytes:
    pdf = _sign(render_document().pdf, keys.signer(who, "leader"), LEADER_FIELD)
    return _sign(pdf, keys.signer(who, "agency"), AGENCY_FIELD)


def _verdict(pdf: bytes, keys: AxisPki, *, final_attempt: bool = False) -> VerificationReport:
    roots = load_trust_roots([keys.directory / "trust-roots.pem"])
    facts = validate_pdf_signatures_blocking(pdf, roots, crl_cache=CrlCache(max_age_seconds=0), final_attempt=final_attempt)
    return VerificationReport(tuple(signature_checks("van-ban.pdf", facts)))


def test_intact_trusted_signatures_with_reachable_crl_pass(pki):
    keys, _ = pki
    report = _verdict(_signed(keys), keys)
    assert report.verdict == Outcome.PASSED and len(report.checks) == 2


def test_unreachable_crl_is_indeterminate_and_accepted_only_on_the_last_attempt(pki):
    keys, state = pki
    pdf = _signed(keys)
    state["up"] = False
    try:
        assert _verdict(pdf, keys).verdict == Outcome.INDETERMINATE
        last = _verdict(pdf, keys, final_attempt=True)
        assert last.verdict == Outcome.PASSED and "without revocation data" in last.checks[0].detail_en
    finally:
        state["up"] = True


def test_a_cached_crl_spares_fetches_but_an_expired_cache_is_not_trusted(pki):
    keys, state = pki
    url = keys.crl_url(CODE)
    cache = CrlCache(max_age_seconds=300)
    first = cache.get(url)
    state["up"] = False
    try:
        assert cache.get(url) is first  # within max age: no fetch
        assert CrlCache(max_age_seconds=0).get(url) is None  # nothing cached: unavailable
    finally:
        state["up"] = True


def test_modified_after_signing_fails_with_the_reason(pki):
    keys, _ = pki
    report = _verdict(_tamper(_signed(keys)), keys)
    assert report.verdict == Outcome.FAILED and "sửa đổi sau khi ký" in report.refusal_reason_vi()


def test_untrusted_and_unsigned_and_revoked_fail(pki):
    keys, _ = pki
    assert "tin cậy" in _verdict(_signed(keys, ROGUE), keys).refusal_reason_vi()
    assert "không có chữ ký số" in _verdict(render_document().pdf, keys).refusal_reason_vi()
    pdf = _signed(keys)
    keys.revoke(CODE, "leader")
    report = _verdict(pdf, keys)
    assert report.verdict == Outcome.FAILED and "thu hồi" in report.refusal_reason_vi()


def _custom_signer(keys: AxisPki, tmp_path, **certificate_options) -> SimpleSigner:
    """A signer certified by the agency's own (trusted) CA, with chosen certificate options."""
    folder = keys.directory / CODE
    ca = AxisPki._load(folder, "ca")
    certified = devpki.issue_key(ca, common_name="Nguyễn Văn Thử", organization="Sở Nội vụ", **certificate_options)
    devpki.save(certified, tmp_path, "custom")
    return SimpleSigner.load(str(tmp_path / "custom.key.pem"), str(tmp_path / "custom.crt.pem"),
                             ca_chain_files=(str(folder / "ca.crt.pem"),))


def test_signature_levels_and_the_policy_version_are_recorded(pki):
    """R-6.1 / issue 3 item 2: the report names each signature's level and the accepted levels
    and the policy version it was judged by."""
    keys, _ = pki
    roots = load_trust_roots([keys.directory / "trust-roots.pem"])
    facts = validate_pdf_signatures_blocking(_signed(keys), roots, crl_cache=CrlCache(max_age_seconds=0))
    assert [f.level for f in facts] == ["PAdES-B-B", "PAdES-B-B"]
    assert all(f.revocation == "checked" and f.non_repudiation is True and f.signed_at for f in facts)
    report = VerificationReport(tuple(signature_checks("van-ban.pdf", facts)), signatures=tuple(f.to_dict() for f in facts))
    stored = report.to_dict()
    assert stored["policy"] == POLICY_VERSION and "PAdES-B-B" in stored["accepted_levels"]
    assert [s["level"] for s in stored["signatures"]] == ["PAdES-B-B", "PAdES-B-B"]


def test_a_certificate_without_non_repudiation_is_refused(pki, tmp_path):
    keys, _ = pki
    signer = _custom_signer(keys, tmp_path, non_repudiation=False, crl_url=keys.crl_url(CODE))
    report = _verdict(_sign(render_document().pdf, signer, LEADER_FIELD), keys)
    assert report.verdict == Outcome.FAILED
    assert "chống chối bỏ" in report.refusal_reason_vi()
    assert "non-repudiation" in report.failed_checks()[0].detail_en


def test_a_certificate_naming_no_crl_passes_with_revocation_recorded_as_not_checked(pki, tmp_path):
    keys, _ = pki
    signer = _custom_signer(keys, tmp_path, crl_url=None)
    roots = load_trust_roots([keys.directory / "trust-roots.pem"])
    [fact] = validate_pdf_signatures_blocking(_sign(render_document().pdf, signer, LEADER_FIELD), roots,
                                              crl_cache=CrlCache(max_age_seconds=0))
    assert fact.revocation == "not_checked" and fact.trusted
    [check] = signature_checks("van-ban.pdf", [fact])
    assert check.outcome == Outcome.PASSED and "chưa kiểm tra tình trạng thu hồi" in check.detail_vi


def test_an_unaccepted_signature_format_is_refused_with_its_name():
    fact = SignatureFact("Sig1", "X", True, True, True, False, level="other:adbe.x509.rsa_sha1")
    [check] = signature_checks("van-ban.pdf", [fact])
    assert check.outcome == Outcome.FAILED and "adbe.x509.rsa_sha1" in check.detail_vi


def test_a_package_in_another_agencys_name_is_refused():
    """The sender written in the package must be the one the axis authenticated (found by the
    malformed-stream test: a flipped byte in From sent our answers to nobody)."""
    from services.intake.domain.verification import transport_sender_check

    assert transport_sender_check("000.12.00.H56", "000.12.00.H56").outcome == Outcome.PASSED
    forged = transport_sender_check("000.01.00.H56", "000.12.00.H56")
    assert forged.outcome == Outcome.FAILED and "khác đơn vị đã gửi" in forged.detail_vi


def test_the_report_explains_itself_in_vietnamese():
    passed = VerificationReport((Check("structure", Outcome.PASSED), Check("signature", Outcome.PASSED, subject="a.pdf")))
    stored = passed.to_dict()
    assert stored["summary_vi"].startswith("Đạt: đã kiểm tra 2 mục") and "chữ ký số" in stored["summary_vi"]
    assert [(c["label_vi"], c["outcome_vi"]) for c in stored["checks"]] == [("Cấu trúc gói tin edXML", "Đạt"), ("Chữ ký số", "Đạt")]
    waiting = VerificationReport((Check("signature", Outcome.INDETERMINATE, "crl down", "Chưa kiểm tra được CRL"),))
    assert waiting.summary_vi() == "Chưa kết luận được, hệ thống sẽ kiểm tra lại: Chưa kiểm tra được CRL."
    failed = VerificationReport((Check("not_secret", Outcome.FAILED, "secret", "Văn bản có độ mật"),))
    assert failed.to_dict()["summary_vi"] == "Từ chối tiếp nhận văn bản: Văn bản có độ mật."
