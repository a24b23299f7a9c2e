"""The verification report of an incoming package and its verdict (R-3.4, R-4.1, R-4.5, R-6.1).

Each check ends passed, failed, indeterminate (could not decide now, e.g. revocation data
unreachable) or not_checked. Any failure refuses the document; otherwise any indeterminate
check sends it back for a later retry — never to a refusal (DSS's three-valued verdict,
peers.md). The Vietnamese reasons go to the sender in status 02.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field
from enum import Enum

from shared.pdf_signatures import SignatureFact  # noqa: F401 (the adapter's facts, judged here)

# Written into every registration (peers.md lesson 4: a versioned validation policy). Version 2:
# non-repudiation key usage required, signature levels declared and recorded.
POLICY_VERSION = "vanthu-incoming-2"
# Accepted signature levels (ETSI EN 319 142-1 PAdES baseline), and CMS with the
# adbe.pkcs7.detached sub-filter, which Vietnamese signing tools (e.g. the VGCA signer) still write.
ACCEPTED_SIGNATURE_LEVELS = ("PAdES-B-B", "PAdES-B-T", "PAdES-B-LT", "PAdES-B-LTA", "CMS")

# accepted formats, by the real content. The document itself must be a PDF.
ACCEPTED_FAMILIES = {
    "pdf": "PDF",
    "txt": "văn bản thuần (txt)",
    "rtf": "rtf",
    "doc": "doc",
    "docx": "docx",
    "odt": "odt",
    "csv": "csv",
    "xls": "xls",
    "xlsx": "xlsx",
    "ods": "ods",
    "jpeg": "jpeg",
}
# Extensions that may name either family of a pair without hiding anything: both are accepted
# and old office software commonly saves RTF as .doc and comma text as .txt.
_INTERCHANGEABLE = ({"txt", "csv"}, {"doc", "rtf"})
# Secrecy markings (độ mật, NĐ 30 Phụ lục I III.2(a)): out of scope, refused unread.
SECRECY_MARKS = ("tuyệt mật", "tối mật", "mật")
_MARK = "(?:tuyệt mật|tối mật|mật)"
# In a subject the marking is stamped, not written in a sentence: bracketed, after "độ mật",
# or leading and followed by punctuation — so "Về việc đổi mật khẩu" or "Mật khẩu …" are not secret.
_SUBJECT_MARK = re.compile(rf"[\[(]\s*{_MARK}\s*[\])]|độ mật\s*[:\-–]\s*{_MARK}\b|^\s*{_MARK}\s*(?:[:\-–.,]|$)")


# What each check is, for the clerk reading the report beside the document.
CHECK_LABELS_VI = {
    "structure": "Cấu trúc gói tin edXML",
    "required_fields": "Các trường thông tin bắt buộc",
    "sender_known": "Đơn vị gửi có trong danh mục",
    "sender_matches_axis": "Đơn vị gửi đúng đơn vị đã gửi qua trục",
    "addressed_to_us": "Văn bản gửi đến đúng đơn vị",
    "not_secret": "Văn bản không có độ mật",
    "attachment_integrity": "Toàn vẹn tệp đính kèm (SHA-256)",
    "attachment_format": "Định dạng tệp theo nội dung thực",
    "attachment_content": "Nội dung tệp PDF (không mã lệnh, không tệp nhúng, không mã hóa)",
    "signature": "Chữ ký số",
    "scan_pdf_version": "Phiên bản PDF của bản số hóa",
    "scan_colour": "Bản số hóa quét màu",
    "scan_resolution": "Độ phân giải bản số hóa",
    "scan_scale": "Tỷ lệ bản số hóa",
}
OUTCOME_LABELS_VI = {"passed": "Đạt", "failed": "Không đạt", "indeterminate": "Chưa xác định (sẽ kiểm tra lại)",
                     "not_checked": "Không kiểm tra"}


class Outcome(str, Enum):
    PASSED = "passed"
    FAILED = "failed"
    INDETERMINATE = "indeterminate"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True)
class Check:
    name: str
    outcome: Outcome
    detail_en: str = ""
    detail_vi: str = ""
    subject: str = ""

    def to_dict(self) -> dict:
        return {**asdict(self), "outcome": self.outcome.value, "label_vi": CHECK_LABELS_VI.get(self.name, self.name),
                "outcome_vi": OUTCOME_LABELS_VI[self.outcome.value]}


@dataclass(frozen=True)
class VerificationReport:
    checks: tuple[Check, ...]
    policy_version: str = POLICY_VERSION
    signatures: tuple[dict, ...] = field(default=())
    accepted_levels: tuple[str, ...] = ACCEPTED_SIGNATURE_LEVELS

    @property
    def verdict(self) -> Outcome:
        outcomes = {c.outcome for c in self.checks}
        if Outcome.FAILED in outcomes:
            return Outcome.FAILED
        if Outcome.INDETERMINATE in outcomes:
            return Outcome.INDETERMINATE
        return Outcome.PASSED

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == Outcome.FAILED]

    def indeterminate_checks(self) -> list[Check]:
        return [c for c in self.checks if c.outcome == Outcome.INDETERMINATE]

    def summary_en(self) -> str:
        notable = self.failed_checks() or self.indeterminate_checks()
        if not notable:
            return f"{self.verdict.value}: {len(self.checks)} checks passed"
        return f"{self.verdict.value}: " + "; ".join(
            f"{c.name}{f' ({c.subject})' if c.subject else ''}: {c.detail_en}" for c in notable)

    def summary_vi(self) -> str:
        """One line for the clerk: what was found, or that everything passed."""
        if self.verdict == Outcome.FAILED:
            return self.refusal_reason_vi()
        if self.verdict == Outcome.INDETERMINATE:
            waiting = "; ".join(dict.fromkeys(c.detail_vi or c.detail_en for c in self.indeterminate_checks()))
            return f"Chưa kết luận được, hệ thống sẽ kiểm tra lại: {waiting}."
        return f"Đạt: đã kiểm tra {len(self.checks)} mục ({', '.join(dict.fromkeys(CHECK_LABELS_VI.get(c.name, c.name).lower() for c in self.checks))})."

    def refusal_reason_vi(self, max_chars: int = 1500) -> str:
        """The reason sent to the sender with status 02 (R-3.4, R-6.1): every failed check,
        naming its field or file, so the sender can fix everything at once."""
        reasons: list[str] = []
        for check in self.failed_checks():
            text = check.detail_vi or check.detail_en or check.name
            if check.subject and check.subject not in text:
                text = f"{text} ({check.subject})"
            if text not in reasons:
                reasons.append(text)
        if not reasons:
            return ""
        # A status description is one field: keep it readable when a package breaks many rules.
        kept: list[str] = []
        for text in reasons:
            if kept and sum(len(k) + 2 for k in kept) + len(text) > max_chars:
                kept.append(f"và {len(reasons) - len(kept)} lỗi khác")
                break
            kept.append(text)
        return "Từ chối tiếp nhận văn bản: " + "; ".join(kept) + "."

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict.value,
            "policy": self.policy_version,
            "accepted_levels": list(self.accepted_levels),
            "summary_vi": self.summary_vi(),
            "checks": [c.to_dict() for c in self.checks],
            "signatures": list(self.signatures),
        }


# --- pure rules turning facts into checks -------------------------------------------------

def structure_checks(errors: list) -> list[Check]:
    """One failed check per field error of the edXML parser (names the field, R-3.4)."""
    checks = []
    for error in errors:
        if error.path == "edXML":
            checks.append(Check("structure", Outcome.FAILED, error.message, f"Gói tin edXML không hợp lệ: {error.message_vi}"))
        else:
            checks.append(Check("required_fields", Outcome.FAILED, f"{error.path}: {error.message}",
                                f"Trường {error.path}: {error.message_vi}", subject=error.path))
    return checks


def sender_check(organ_id: str, known: bool) -> Check:
    if known:
        return Check("sender_known", Outcome.PASSED, subject=organ_id)
    return Check("sender_known", Outcome.FAILED, f"sender {organ_id} is not in the organisation directory",
                 f"Đơn vị gửi {organ_id} không có trong danh mục đơn vị liên thông", subject=organ_id)


def transport_sender_check(declared: str, transport: str) -> Check:
    """The package's own sender must be the organisation the axis authenticated as sending it:
    one agency cannot issue documents in another's name."""
    if not transport or declared == transport:
        return Check("sender_matches_axis", Outcome.PASSED, subject=declared)
    return Check("sender_matches_axis", Outcome.FAILED, f"the package names {declared} as sender but {transport} sent it",
                 f"Đơn vị gửi ghi trong gói tin ({declared}) khác đơn vị đã gửi gói tin qua trục ({transport})",
                 subject=declared)


def recipient_check(own_id: str, recipients: list[str]) -> Check:
    if own_id in recipients:
        return Check("addressed_to_us", Outcome.PASSED)
    return Check("addressed_to_us", Outcome.FAILED, f"not addressed to {own_id} (recipients: {', '.join(recipients)})",
                 f"Văn bản không gửi đến đơn vị {own_id} (nơi nhận: {', '.join(recipients)})")


def is_secret(*texts: str) -> bool:
    """Whether a field value (sphere of promulgation) or a subject carries a secrecy marking."""
    for text in texts:
        lowered = unicodedata.normalize("NFC", text or "").strip().lower()
        if not lowered:
            continue
        if lowered in SECRECY_MARKS or _SUBJECT_MARK.search(lowered):
            return True
        # Markings are stamped in capitals: "MẬT Về việc …" (but not "Mật khẩu …").
        upper = unicodedata.normalize("NFC", text).strip()
        if any(upper.startswith(f"{mark.upper()} ") for mark in SECRECY_MARKS):
            return True
    return False


def secrecy_check(sphere: str, subject: str) -> Check:
    if is_secret(sphere, subject):
        return Check("not_secret", Outcome.FAILED, "the document is marked as a state secret; its content is not stored",
                     "Văn bản có độ mật, không tiếp nhận qua hệ thống (nội dung không được lưu)")
    return Check("not_secret", Outcome.PASSED)


def integrity_check(name: str, sha256: str, size: int) -> Check:
    return Check("attachment_integrity", Outcome.PASSED, f"sha256 {sha256}, {size} bytes", subject=name)


def format_check(name: str, family: str | None, declared_extension: str, *, main_document: bool) -> Check:
    """R-4.5: accepted families only, judged by content; the extension must agree with the
    content; the document itself must be a PDF."""
    label = family or "không xác định"
    if family not in ACCEPTED_FAMILIES:
        return Check("attachment_format", Outcome.FAILED, f"content is {family or 'of an unknown format'}, not an accepted format",
                     f"Định dạng tệp không đúng quy định: nội dung thực là {label}", subject=name)
    extension = declared_extension.lower().lstrip(".")
    same = {"jpg": "jpeg", "jpe": "jpeg"}.get(extension, extension)
    if same and same != family and not any({same, family} <= pair for pair in _INTERCHANGEABLE):
        return Check("attachment_format", Outcome.FAILED, f"named .{extension} but the content is {family}",
                     f"Định dạng tệp không đúng: tên tệp là .{extension} nhưng nội dung là {label}", subject=name)
    if main_document and family != "pdf":
        return Check("attachment_format", Outcome.FAILED, "the document itself must be a signed PDF",
                     "Tệp văn bản chính phải là PDF có chữ ký số", subject=name)
    return Check("attachment_format", Outcome.PASSED, family, subject=name)


def content_check(name: str, problems: list[str]) -> Check:
    """What a PDF must not carry (shared/file_format.py `pdf_problems`): scripts, launch actions,
    files hidden inside, encryption — refused with what was found."""
    if not problems:
        return Check("attachment_content", Outcome.PASSED, subject=name)
    return Check("attachment_content", Outcome.FAILED, "the PDF carries active content, hidden files or is encrypted",
                 "; ".join(problems), subject=name)


def main_document_index(families: list[str | None]) -> int | None:
    """The document itself is the first attachment whose content is a PDF; the others are
    annexes or drafts (R-4.5: signed documents are PDF)."""
    return next((i for i, family in enumerate(families) if family == "pdf"), None)


def no_main_document_check() -> Check:
    return Check("signature", Outcome.FAILED, "the package carries no PDF document to verify",
                 "Gói tin không có tệp văn bản PDF có chữ ký số")


def signature_checks(name: str, facts: list[SignatureFact], *, parse_error: str | None = None) -> list[Check]:
    if parse_error:
        return [Check("signature", Outcome.FAILED, f"the PDF could not be read: {parse_error}",
                      "Tệp PDF bị lỗi, không đọc được chữ ký số", subject=name)]
    if not facts:
        return [Check("signature", Outcome.FAILED, "the document carries no digital signature",
                      "Văn bản không có chữ ký số", subject=name)]
    checks = []
    for fact in facts:
        who = f"{name}#{fact.field}"
        if fact.validator_error:
            # Not the sender's fault until shown otherwise: retried, refused only on the last attempt.
            checks.append(Check("signature", Outcome.INDETERMINATE, f"the validator failed: {fact.note}",
                                "Chưa kiểm tra được chữ ký số (lỗi khi kiểm tra)", subject=who))
        elif not fact.readable:
            checks.append(Check("signature", Outcome.FAILED, f"the signature cannot be read: {fact.note}",
                                "Chữ ký số bị lỗi, không đọc được", subject=who))
        elif not fact.intact or fact.modified_after:
            checks.append(Check("signature", Outcome.FAILED, "the document was modified after signing",
                                "Văn bản đã bị sửa đổi sau khi ký số", subject=who))
        elif not fact.valid:
            checks.append(Check("signature", Outcome.FAILED, "the signature does not verify",
                                "Chữ ký số không hợp lệ", subject=who))
        elif fact.revoked:
            checks.append(Check("signature", Outcome.FAILED, f"the signer's certificate ({fact.signer_cn}) is revoked",
                                f"Chứng thư số của người ký ({fact.signer_cn}) đã bị thu hồi", subject=who))
        elif fact.revocation_unavailable:
            checks.append(Check("signature", Outcome.INDETERMINATE,
                                f"revocation data for {fact.signer_cn} unreachable: {fact.note}",
                                "Chưa kiểm tra được tình trạng chứng thư số (không truy cập được CRL/OCSP)", subject=who))
        elif fact.non_repudiation is False:
            checks.append(Check("signature", Outcome.FAILED,
                                f"the signer's certificate ({fact.signer_cn}) does not allow non-repudiation",
                                f"Chứng thư số của người ký ({fact.signer_cn}) không dùng cho ký số văn bản "
                                "(thiếu mục đích chống chối bỏ - non-repudiation)", subject=who))
        elif fact.level and fact.level not in ACCEPTED_SIGNATURE_LEVELS:
            checks.append(Check("signature", Outcome.FAILED, f"signature format {fact.level} is not accepted",
                                f"Định dạng chữ ký số không được chấp nhận ({fact.level})", subject=who))
        elif fact.trusted is False and fact.trust_problem.startswith("OUT_OF_BOUNDS"):
            checks.append(Check("signature", Outcome.FAILED,
                                f"the signer's certificate ({fact.signer_cn}) was not valid at the time of signing",
                                "Chứng thư số của người ký đã hết hạn hoặc chưa có hiệu lực", subject=who))
        elif fact.trusted is False:
            checks.append(Check("signature", Outcome.FAILED,
                                f"the signer's certificate ({fact.signer_cn}) does not chain to a trust root"
                                f"{f' ({fact.trust_problem})' if fact.trust_problem else ''}",
                                "Chữ ký số không được chứng thực bởi tổ chức cung cấp dịch vụ chứng thực chữ ký số tin cậy",
                                subject=who))
        else:
            level = f" ({fact.level})" if fact.level else ""
            checks.append(Check("signature", Outcome.PASSED,
                                f"signed by {fact.signer_cn}{level}{'; ' + fact.note if fact.note else ''}",
                                "Chữ ký số hợp lệ" + ("; chưa kiểm tra tình trạng thu hồi chứng thư số (chứng thư không nêu CRL)"
                                                      if fact.revocation == "not_checked" else ""),
                                subject=who))
    return checks
