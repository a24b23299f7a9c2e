"""Dossiers (hồ sơ), pure rules: the code (R-10.4), the fields the system fills (R-10.6), who
may change what in which state, closing (R-10.5), submission and the archive's acceptance
(R-11.3: from then on read-only), retention and disposal (R-11.1).

States:  open ──close──▶ closed ──submit──▶ submitted ──accept──▶ archival
           ▲               │                   │                    │ propose disposal (archivist)
           └──reopen───────┘◀──────return──────┘                    ▼
                                                          disposal_proposed ──approve (chairman)──▶ in_bin
                                                                 │ reject                            │ bin period over
                                                                 ▼                                   ▼
                                                              archival ◀── restore ── in_bin     destroyed (tombstone)
A legal hold stops proposing, approving and destroying.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from services.archive.domain.catalogue import Retention
from shared.clock import vn_date
from shared.staff import LEADERS, Role


class DossierState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    SUBMITTED = "submitted"
    ARCHIVAL = "archival"  # hồ sơ lưu trữ điện tử: read-only
    DISPOSAL_PROPOSED = "disposal_proposed"
    IN_BIN = "in_bin"
    DESTROYED = "destroyed"


STATE_LABELS_VI = {
    DossierState.OPEN: "Đang lập", DossierState.CLOSED: "Đã đóng", DossierState.SUBMITTED: "Đã nộp lưu, chờ kiểm tra",
    DossierState.ARCHIVAL: "Hồ sơ lưu trữ điện tử", DossierState.DISPOSAL_PROPOSED: "Đề nghị hủy",
    DossierState.IN_BIN: "Chờ hủy (có thể khôi phục)", DossierState.DESTROYED: "Đã hủy",
}
EDITABLE = (DossierState.OPEN,)
ARCHIVE_MANAGED = (DossierState.ARCHIVAL, DossierState.DISPOSAL_PROPOSED, DossierState.IN_BIN, DossierState.DESTROYED)
RIGHTS = ("Công khai", "Hạn chế")  # Chế độ sử dụng
SEES_EVERYTHING = (*LEADERS, Role.CLERK, Role.ARCHIVIST)
MAX_ITEMS = 999  # DocOrdinal has three digits


class DossierError(Exception):
    def __init__(self, message_vi: str, *, conflict: bool = False, forbidden: bool = False) -> None:
        super().__init__(message_vi)
        self.message_vi = message_vi
        self.conflict = conflict
        self.forbidden = forbidden


def dossier_code(organ_id: str, year: int, notation: str) -> str:
    """R-10.4: agency identifier . year . number-and-symbol, e.g. 000.24.26.H56.2026.01.VP."""
    return f"{organ_id}.{year}.{notation}"


def require_role(role: Role | None, allowed: Iterable[Role], action_vi: str) -> None:
    if role is None:
        raise DossierError("Người dùng không có trong danh sách cán bộ.", forbidden=True)
    if role not in tuple(allowed):
        raise DossierError(f"Vai trò của bạn không được {action_vi}.", forbidden=True)


def require_state(dossier: dict, allowed: Iterable[DossierState], action_vi: str) -> None:
    state = DossierState(dossier["state"])
    if state in tuple(allowed):
        return
    if state in ARCHIVE_MANAGED:
        raise DossierError(f"Không thể {action_vi}: hồ sơ lưu trữ điện tử chỉ đọc, mọi thay đổi bị từ chối (R-11.3).",
                           conflict=True)
    raise DossierError(f"Không thể {action_vi}: hồ sơ đang ở trạng thái «{STATE_LABELS_VI[state]}».", conflict=True)


def require_keeper(dossier: dict, user: str, role: Role | None, action_vi: str) -> None:
    """The officer who keeps the dossier (its creator) changes it; leaders may too."""
    if user != dossier["creator"] and role not in LEADERS:
        raise DossierError(f"Chỉ người lập hồ sơ hoặc lãnh đạo được {action_vi}.", forbidden=True)


def may_see(dossier_or_record_access: dict | None, user: str, role: Role | None) -> bool:
    if role is None:
        return False
    if role in SEES_EVERYTHING:
        return True
    access = dossier_or_record_access or {}
    return not access.get("restricted") or user in access.get("users", [])


def access_for(rights: str, creator: str) -> dict:
    return {"restricted": rights == "Hạn chế", "users": [creator] if rights == "Hạn chế" else []}


@dataclass(frozen=True)
class ItemFacts:
    """What the dossier needs to know of one attached record."""

    record_id: str
    date: dt.date | None  # the document's date (issued, else stored)
    pages: int
    added_at: dt.datetime


def ordered_items(items: list[dict], facts: dict[str, ItemFacts]) -> list[dict]:
    """Documents in a dossier are ordered chronologically by the document's date, then by when
    they were attached; DocOrdinal is the position, 1-based (NĐ 30 Phụ lục VI)."""
    def key(item: dict):
        f = facts.get(item["record_id"])
        return (f.date if f and f.date else dt.date.max, item["added_at"])
    return [{**item, "ordinal": i} for i, item in enumerate(sorted(items, key=key), start=1)]


def filled_fields(items: list[dict], facts: dict[str, ItemFacts]) -> dict:
    """R-10.6: the system fills number of documents and of pages (and the dates the documents
    span, which the officer may still set by hand)."""
    dates = [f.date for i in items if (f := facts.get(i["record_id"])) and f.date]
    return {
        "doc_total": len(items),
        "page_total": sum(facts[i["record_id"]].pages for i in items if i["record_id"] in facts),
        "documents_start": min(dates).isoformat() if dates else None,
        "documents_end": max(dates).isoformat() if dates else None,
    }


def closing_problems(dossier: dict) -> list[str]:
    """R-10.5 (NĐ 30 Điều 29.4): what must be complete before the dossier is closed."""
    problems = []
    if not dossier.get("items"):
        problems.append("Hồ sơ chưa có văn bản nào.")
    if not (dossier.get("title") or "").strip():
        problems.append("Hồ sơ chưa có tiêu đề.")
    if not (dossier.get("start_date") or dossier.get("documents_start")):
        problems.append("Chưa có thời gian bắt đầu.")
    if not dossier.get("language"):
        problems.append("Chưa ghi ngôn ngữ.")
    return problems


def retention_expires(dossier: dict, retention: Retention) -> dt.date | None:
    """Retention runs from the closing (R-11.1); permanent dossiers never expire."""
    if retention.permanent or not dossier.get("closed_at"):
        return None
    closed: dt.date = vn_date(dossier["closed_at"])
    try:
        return closed.replace(year=closed.year + int(retention.years or 0))
    except ValueError:  # closed on 29 February
        return closed.replace(year=closed.year + int(retention.years or 0), day=28)


def submission_due(dossier: dict) -> dt.date | None:
    """NĐ 30 Điều 30: submitted to the agency archive within one year after the work ends."""
    if not dossier.get("closed_at"):
        return None
    closed: dt.date = vn_date(dossier["closed_at"])
    return closed.replace(year=closed.year + 1, day=min(closed.day, 28) if closed.month == 2 else closed.day)


def disposal_problems(dossier: dict, retention: Retention, today: dt.date) -> list[str]:
    """R-11.1: only a dossier whose retention has expired, and no legal hold, may be proposed
    for destruction."""
    problems = []
    if dossier.get("legal_hold"):
        problems.append("Hồ sơ đang bị phong tỏa (legal hold): không được hủy.")
    expires = retention_expires(dossier, retention)
    if expires is None:
        problems.append("Hồ sơ bảo quản vĩnh viễn hoặc chưa đóng: không hủy.")
    elif expires > today:
        problems.append(f"Chưa hết thời hạn bảo quản (hết hạn ngày {expires.strftime('%d/%m/%Y')}).")
    return problems


def approval_problems(dossier: dict, approver: str) -> list[str]:
    """Two people: the one who approves the destruction is not the one who proposed it."""
    problems = []
    if dossier.get("legal_hold"):
        problems.append("Hồ sơ đang bị phong tỏa (legal hold): không được hủy.")
    if (dossier.get("disposal") or {}).get("proposed_by") == approver:
        problems.append("Người duyệt hủy phải khác người đề nghị hủy.")
    return problems


@dataclass(frozen=True)
class ReviewCheck:
    name: str
    ok: bool
    detail_vi: str
    subject: str = ""

    def to_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "detail_vi": self.detail_vi, "subject": self.subject}


def review_verdict(checks: list[ReviewCheck]) -> bool:
    return bool(checks) and all(c.ok for c in checks)
