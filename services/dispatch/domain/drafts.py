"""Drafts of outgoing documents and their approval (R-6.3, R-7.1), pure rules.

draft ──author submits──▶ submitted ──leader returns with comments──▶ returned
  ▲                          │                                          │
  └────── author uploads a new version (history kept) ◀─────────────────┘
submitted ──chairman / vice-chairman approves──▶ approved (becomes an outgoing document: the
approver's own key signs it, then numbering, agency signature, issuing)

Every version is kept with who uploaded it, when and from which format; every comment is kept.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from shared.staff import LEADERS, Role, StaffMember

ACCEPTED_FORMATS = ("pdf", "docx", "odt")


class DraftState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    APPROVED = "approved"


class DraftError(ValueError):
    def __init__(self, message_vi: str, *, conflict: bool = False) -> None:
        super().__init__(message_vi)
        self.message_vi = message_vi
        self.conflict = conflict


def _may_draft(member: StaffMember | None) -> StaffMember:
    if member is None or member.role in (Role.ARCHIVIST, Role.OPERATOR):
        raise DraftError("Chỉ cán bộ, công chức xử lý văn bản được soạn dự thảo.")
    return member


def new_draft(*, author: StaffMember | None, version: dict, fields: dict, answers: list[dict], now: dt.datetime) -> dict:
    member = _may_draft(author)
    return {"state": DraftState.DRAFT.value, "author": member.user, "author_name": member.name, "created_at": now,
            "versions": [{**version, "version": 1}], "comments": [], "answers": answers, **fields,
            "history": [{"at": now, "by": member.user, "action": "created", "version": 1}]}


def add_version(draft: dict, *, by: str, version: dict, now: dt.datetime) -> dict:
    if by != draft["author"]:
        raise DraftError("Chỉ người soạn được thay dự thảo.")
    if draft["state"] not in (DraftState.DRAFT, DraftState.RETURNED):
        raise DraftError("Dự thảo đã trình, chờ lãnh đạo cho ý kiến.", conflict=True)
    number = len(draft["versions"]) + 1
    return {"versions": [*draft["versions"], {**version, "version": number}], "state": DraftState.DRAFT.value,
            "history": [*draft["history"], {"at": now, "by": by, "action": "new_version", "version": number}]}


def submit(draft: dict, *, by: str, now: dt.datetime) -> dict:
    if by != draft["author"]:
        raise DraftError("Chỉ người soạn được trình dự thảo.")
    if draft["state"] not in (DraftState.DRAFT, DraftState.RETURNED):
        raise DraftError("Dự thảo đã được trình hoặc đã duyệt.", conflict=True)
    if draft["state"] == DraftState.RETURNED and draft["history"][-1]["action"] == "returned":
        raise DraftError("Dự thảo bị trả lại: tải lên bản đã sửa theo ý kiến trước khi trình lại.", conflict=True)
    return {"state": DraftState.SUBMITTED.value, "submitted_at": now,
            "history": [*draft["history"], {"at": now, "by": by, "action": "submitted", "version": len(draft["versions"])}]}


def _leader(member: StaffMember | None) -> StaffMember:
    if member is None or member.role not in LEADERS:
        raise DraftError("Chỉ Chủ tịch hoặc Phó Chủ tịch UBND xã được cho ý kiến, duyệt dự thảo.")
    return member


def return_with_comments(draft: dict, *, leader: StaffMember | None, comment: str, now: dt.datetime) -> dict:
    member = _leader(leader)
    if draft["state"] != DraftState.SUBMITTED:
        raise DraftError("Chỉ trả lại dự thảo đang trình.", conflict=True)
    if not comment.strip():
        raise DraftError("Ghi ý kiến để người soạn sửa.")
    version = len(draft["versions"])
    entry = {"at": now, "by": member.user, "by_name": member.name, "version": version, "comment": comment.strip()}
    return {"state": DraftState.RETURNED.value, "comments": [*draft["comments"], entry],
            "history": [*draft["history"], {"at": now, "by": member.user, "action": "returned", "version": version}]}


def approve(draft: dict, *, leader: StaffMember | None, key_of: dict[str, str], now: dt.datetime) -> tuple[dict, str]:
    """The approved version and the approver's key label; the approver signs with their own key
    (R-7.1, R-8.2): a leader without a key on the token cannot approve-and-sign."""
    member = _leader(leader)
    if draft["state"] != DraftState.SUBMITTED:
        raise DraftError("Chỉ duyệt dự thảo đang trình.", conflict=True)
    key_label = key_of.get(member.role.value)
    if key_label is None:
        raise DraftError(f"{member.name} chưa có khóa ký số trên thiết bị ký số của cơ quan.")
    version = len(draft["versions"])
    return {"state": DraftState.APPROVED.value, "approved_at": now, "approved_by": member.user, "approved_version": version,
            "history": [*draft["history"], {"at": now, "by": member.user, "action": "approved", "version": version}]}, key_label
