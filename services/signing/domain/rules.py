"""Signing rules that do not depend on any library (the facts come from adapters.inspection).

R-8.3c: the agency signature is applied only after the leader's (chairman's) signature is on
the document. "On the document" is read strictly: at least one signature that is
- intact and cryptographically valid,
- chained to the configured trust roots (with nonRepudiation key usage),
- covering the document as it was signed, with nothing but signatures/form filling added
  afterwards (so a page changed after the leader signed does not count),
- made by a leader key, i.e. not by the agency key itself (and, when the deployment lists the
  leaders' keys, by one of them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class SignatureFacts:
    """What inspection found out about one signature in a PDF, in document order."""

    field_name: str
    signer_cn: str | None
    signer_key_id: str  # hex SHA-256 of the signer certificate's SubjectPublicKeyInfo
    revision: int  # 0-based revision (incremental update) that the signature belongs to
    intact: bool  # the signed bytes hash to the signed digest
    valid: bool  # the signature value verifies with the certificate's key
    trusted: bool  # chain to a configured trust root, key usage accepted
    covers_revision: bool  # the byte range covers the whole revision it signed
    later_changes_ok: bool  # after it, only signatures / form filling were added
    problem: str | None = None  # short technical note when something failed (English)

    @property
    def sound(self) -> bool:
        return (
            self.intact
            and self.valid
            and self.trusted
            and self.covers_revision
            and self.later_changes_ok
        )


class RefusalCode(str, Enum):
    NO_SIGNATURE = "no_signature"
    ONLY_AGENCY_SIGNATURE = "only_agency_signature"
    LEADER_NOT_AUTHORISED = "leader_not_authorised"
    LEADER_SIGNATURE_BROKEN = "leader_signature_broken"
    DOCUMENT_CHANGED_AFTER_LEADER = "document_changed_after_leader"
    LEADER_NOT_TRUSTED = "leader_not_trusted"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    code: RefusalCode | None = None
    reason_vi: str = ""
    reason_en: str = ""
    leader_signature: SignatureFacts | None = None

    def __bool__(self) -> bool:
        return self.allowed


_REASONS: dict[RefusalCode, tuple[str, str]] = {
    RefusalCode.NO_SIGNATURE: (
        "Văn bản chưa có chữ ký số của người có thẩm quyền; văn thư chỉ ký số của cơ quan "
        "sau khi lãnh đạo đã ký (R-8.3c).",
        "The document carries no signature of the competent person; the agency signature is "
        "applied only after the leader has signed (R-8.3c).",
    ),
    RefusalCode.ONLY_AGENCY_SIGNATURE: (
        "Văn bản chỉ có chữ ký số của cơ quan, chưa có chữ ký số của người có thẩm quyền "
        "(R-8.3c).",
        "The document carries only the agency's own signature, not the leader's (R-8.3c).",
    ),
    RefusalCode.LEADER_NOT_AUTHORISED: (
        "Chữ ký số trên văn bản không phải của người có thẩm quyền ký đã được đăng ký "
        "(R-8.3c).",
        "The signature on the document is not from a registered competent signer (R-8.3c).",
    ),
    RefusalCode.LEADER_SIGNATURE_BROKEN: (
        "Chữ ký số của người có thẩm quyền không hợp lệ: nội dung đã ký bị thay đổi hoặc "
        "chữ ký bị hỏng (R-8.3c).",
        "The leader's signature is not valid: the signed content was altered or the signature "
        "is damaged (R-8.3c).",
    ),
    RefusalCode.DOCUMENT_CHANGED_AFTER_LEADER: (
        "Văn bản đã bị sửa đổi sau khi người có thẩm quyền ký; cần trình ký lại (R-8.3c).",
        "The document was modified after the leader signed it; it must be signed again "
        "(R-8.3c).",
    ),
    RefusalCode.LEADER_NOT_TRUSTED: (
        "Chứng thư số của người ký không được tin cậy (không thuộc tổ chức cung cấp dịch vụ "
        "chứng thực được cấu hình) hoặc không dùng để ký (R-8.3c).",
        "The signer's certificate is not trusted (not issued under a configured trust root) "
        "or not meant for signing (R-8.3c).",
    ),
}


def refusal(code: RefusalCode) -> Decision:
    vi, en = _REASONS[code]
    return Decision(False, code, vi, en)


def check_agency_signature_allowed(
    signatures: Sequence[SignatureFacts],
    *,
    agency_key_ids: Iterable[str],
    leader_key_ids: Iterable[str] | None = None,
) -> Decision:
    """R-8.3c. `agency_key_ids`: the agency keys (never count as a leader). `leader_key_ids`:
    when given, only these keys count as leaders; when None, any other trusted key does."""
    agency = {k.lower() for k in agency_key_ids}
    leaders = None if leader_key_ids is None else {k.lower() for k in leader_key_ids}
    if not signatures:
        return refusal(RefusalCode.NO_SIGNATURE)

    candidates = [s for s in signatures if s.signer_key_id.lower() not in agency]
    if not candidates:
        return refusal(RefusalCode.ONLY_AGENCY_SIGNATURE)

    for sig in candidates:
        if sig.sound and (leaders is None or sig.signer_key_id.lower() in leaders):
            return Decision(True, leader_signature=sig)

    # Explain the refusal by the most advanced candidate (the one that failed latest).
    def progress(s: SignatureFacts) -> int:
        if not (s.intact and s.valid and s.covers_revision):
            return 0
        if not s.later_changes_ok:
            return 1
        if not s.trusted:
            return 2
        return 3

    best = max(candidates, key=progress)
    code = {
        0: RefusalCode.LEADER_SIGNATURE_BROKEN,
        1: RefusalCode.DOCUMENT_CHANGED_AFTER_LEADER,
        2: RefusalCode.LEADER_NOT_TRUSTED,
        3: RefusalCode.LEADER_NOT_AUTHORISED,
    }[progress(best)]
    return refusal(code)
