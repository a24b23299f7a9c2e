"""Recall, update and replace of an incoming document, pure rules (R-6.2; standards.md §1.5, §2.5).

A recall arrives as a status package 13 (ResponseFor = the recalled document) or as an edoc
package with Bussiness/BussinessDocType=1 (Bussiness/DocumentId = the recalled document).
The receiver agrees (15): the document is withdrawn, its content destroyed, its metadata and
the recall's own record kept (NĐ 30 Điều 18.4(b), Phụ lục VI III.8); or refuses (16) with the
reason: the document is unknown or its handling is already completed.
Update (2) and replace (3) are recorded against the target document with history kept and
answered 15, or 16 when the target is unknown or already recalled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from services.intake.domain.documents import DocumentState
from shared.edxml import Business, BusinessDocType, StatusCode

AGREE = StatusCode("15")
REFUSE = StatusCode("16")

FOLLOWUP_TYPES = (BusinessDocType.RECALL, BusinessDocType.UPDATE, BusinessDocType.REPLACE)

DESCRIPTIONS_VI = {
    "recalled": "Đồng ý thu hồi: văn bản {code} đã được hủy khỏi hệ thống của {agency}.",
    "already_recalled": "Văn bản {code} đã được thu hồi trước đó.",
    "not_found": "Từ chối thu hồi: không tìm thấy văn bản {document_id} trong hệ thống của {agency}.",
    "completed": "Từ chối thu hồi: văn bản {code} đã được giao xử lý và đã xử lý xong.",
    "revision_recorded": "Đồng ý {action}: văn bản {code} đã được ghi nhận {action}.",
    "revision_not_found": "Từ chối {action}: không tìm thấy văn bản {document_id} trong hệ thống của {agency}.",
    "revision_recalled": "Từ chối {action}: văn bản {code} đã bị thu hồi.",
}
ACTION_VI = {BusinessDocType.UPDATE: "cập nhật", BusinessDocType.REPLACE: "thay thế", BusinessDocType.RECALL: "thu hồi"}


class Verdict(StrEnum):
    WITHDRAW = "withdraw"  # agree and withdraw now
    ALREADY_RECALLED = "already_recalled"  # agree again, change nothing
    NOT_FOUND = "not_found"
    COMPLETED = "completed"
    INVALID = "invalid"  # the update's or replacement's own content failed verification


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    code: StatusCode
    description_vi: str

    @property
    def agreed(self) -> bool:
        return self.code == AGREE


def is_completed(document: dict) -> bool:
    """Assigned and handled to the end (R-6.4): too late to recall. The assignment workflow
    marks this with state `completed` or a `completed_at`; neither exists before it."""
    return document.get("state") == "completed" or bool(document.get("completed_at")) or bool(
        (document.get("handling") or {}).get("completed_at"))


def _code_of(document: dict) -> str:
    return (document.get("metadata") or {}).get("code") or document.get("response_for", {}).get("code") or \
        document.get("response_for", {}).get("document_id", "")


def decide_recall(document: dict | None, *, document_id: str, agency: str) -> Decision:
    """R-6.2: what the receiver answers to a recall of `document` (None: not found here)."""
    if document is None:
        return Decision(Verdict.NOT_FOUND, REFUSE, DESCRIPTIONS_VI["not_found"].format(document_id=document_id, agency=agency))
    code = _code_of(document)
    if document.get("state") == DocumentState.RECALLED:
        return Decision(Verdict.ALREADY_RECALLED, AGREE, DESCRIPTIONS_VI["already_recalled"].format(code=code))
    if is_completed(document):
        return Decision(Verdict.COMPLETED, REFUSE, DESCRIPTIONS_VI["completed"].format(code=code))
    return Decision(Verdict.WITHDRAW, AGREE, DESCRIPTIONS_VI["recalled"].format(code=code, agency=agency))


def decide_revision(document: dict | None, kind: BusinessDocType, *, document_id: str, agency: str,
                    verification_failure: str = "") -> Decision:
    """Update (2) or replace (3) of `document`: applied and agreed unless unknown, recalled, or
    the new content fails verification (R-6.1: checked like any arrival)."""
    action = ACTION_VI[kind]
    if document is None:
        return Decision(Verdict.NOT_FOUND, REFUSE,
                        DESCRIPTIONS_VI["revision_not_found"].format(action=action, document_id=document_id, agency=agency))
    code = _code_of(document)
    if document.get("state") == DocumentState.RECALLED:
        return Decision(Verdict.ALREADY_RECALLED, REFUSE, DESCRIPTIONS_VI["revision_recalled"].format(action=action, code=code))
    if verification_failure:
        return Decision(Verdict.INVALID, REFUSE, f"Từ chối {action} văn bản {code}: "
                        + verification_failure.removeprefix("Từ chối tiếp nhận văn bản: "))
    return Decision(Verdict.WITHDRAW, AGREE, DESCRIPTIONS_VI["revision_recorded"].format(action=action, code=code))


def revision_changes(kind: BusinessDocType, document: dict, *, new_metadata: dict, new_files: list[dict] | None,
                     business: Business, verification: dict | None) -> dict:
    """What an agreed update or replace writes. A replacement takes the new document's content
    and particulars; an update its changed particulars (BussinessDocumentInfo) and any files it
    carries. The register number stays; the previous version goes into the revision's history."""
    changes: dict = {}
    if kind == BusinessDocType.REPLACE or business.document_info_changed:
        changes["metadata"] = new_metadata
    if new_files:
        changes["files"] = new_files
        changes["verification"] = verification
    if kind == BusinessDocType.REPLACE:
        changes["response_for.code"] = new_metadata["code"]
    return changes


def previous_version(document: dict) -> dict:
    return {"metadata": document.get("metadata"), "files": document.get("files"), "verification": document.get("verification")}


def target_document_id(business: Business) -> str:
    """The document acted on: Bussiness/DocumentId, or for a replace without it the first
    ReplacementInfo/DocumentId (§1.5)."""
    if business.document_id:
        return business.document_id
    if business.business_doc_type == BusinessDocType.REPLACE and business.replacements:
        return business.replacements[0].document_id
    return ""


def destroyed_files(files: list[dict], at: dt.datetime) -> list[dict]:
    """The document keeps which files it had (name, hash, size), marked destroyed."""
    return [{**f, "destroyed": True, "destroyed_at": at} for f in files]


def hashes_to_destroy(files: list[dict], still_needed: set[str]) -> list[str]:
    """Content of the recalled document, except content another live document also holds
    (same bytes, same SHA-256): destroying that would destroy the other document."""
    seen: list[str] = []
    for f in files:
        digest = f.get("sha256")
        if digest and digest not in still_needed and digest not in seen and not f.get("destroyed"):
            seen.append(digest)
    return seen


def revision_entry(kind: BusinessDocType, *, package_id: str, document_id: str, code: str, subject: str, reason: str,
                   received_at: dt.datetime, business: Business | None) -> dict:
    """One line of a document's `revisions` history (update or replace)."""
    entry = {
        "kind": "update" if kind == BusinessDocType.UPDATE else "replace",
        "package_id": package_id,
        "document_id": document_id,
        "code": code,
        "subject": subject,
        "reason": reason,
        "received_at": received_at,
    }
    if business is not None and kind == BusinessDocType.UPDATE:
        entry["document_info_changed"] = business.document_info_changed
        entry["receivers_changed"] = business.receivers_changed
        entry["receiver_changes"] = [c.model_dump(mode="json") for c in business.receiver_changes]
    if business is not None and kind == BusinessDocType.REPLACE:
        entry["replacements"] = [r.model_dump(mode="json") for r in business.replacements]
    return entry


def applies(revisions: list[dict], received_at: dt.datetime) -> bool:
    """Follow-ups can be handled out of order: one applies unless a later-sent one was already
    applied; an older one arriving late is kept in the history only."""
    return not any(r.get("applied", True) and r["received_at"] > received_at for r in revisions)
