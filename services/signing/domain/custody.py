"""Who may use which key (R-8.2, R-8.3a). Each key on the token has holders by role — the
chairman's key its chairman, the agency key the clerk it is assigned to — and besides them only
someone holding a written delegation from the chairman recorded in the system: who, from when
until when, by which document. Pure rules; the signing handler asks before every use."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from shared.staff import Role, Staff


@dataclass(frozen=True)
class Delegation:
    delegation_id: str
    user: str
    key_label: str
    valid_from: dt.datetime
    valid_until: dt.datetime
    document: str  # số, ký hiệu of the chairman's written delegation (giấy ủy quyền / quyết định)
    granted_by: str
    revoked_at: dt.datetime | None = None

    def covers(self, user: str, key_label: str, at: dt.datetime) -> bool:
        return (self.user == user and self.key_label == key_label and self.revoked_at is None
                and self.valid_from <= at <= self.valid_until)


@dataclass(frozen=True)
class CustodyDecision:
    allowed: bool
    basis: str  # "holder" | "delegation:<id>" | "" when refused
    reason_en: str = ""
    reason_vi: str = ""


def user_of(requested_by_user: str) -> str:
    """Requests name users as `user:<name>` or `<name>`."""
    return requested_by_user.removeprefix("user:")


def may_use(key_label: str, requested_by_user: str, *, holders: dict[str, list[str]], staff: Staff,
            delegations: list[Delegation], at: dt.datetime) -> CustodyDecision:
    user = user_of(requested_by_user)
    member = staff.get(user)
    roles = holders.get(key_label)
    if roles is None:
        return CustodyDecision(False, "", f"key {key_label!r} has no holders configured",
                               f"Khóa «{key_label}» chưa được giao cho ai giữ")
    if member is not None and member.role.value in roles:
        return CustodyDecision(True, "holder")
    for delegation in delegations:
        if delegation.covers(user, key_label, at):
            return CustodyDecision(True, f"delegation:{delegation.delegation_id}")
    who = f"{member.name} ({member.position})" if member else user
    return CustodyDecision(
        False, "", f"{user} is neither a holder of key {key_label!r} nor delegated to use it",
        f"{who} không được giao giữ khóa «{key_label}» và không có văn bản ủy quyền còn hiệu lực của Chủ tịch")


def check_delegation(*, user: str, key_label: str, granted_by: str, valid_from: dt.datetime, valid_until: dt.datetime,
                     document: str, staff: Staff, holders: dict[str, list[str]]) -> list[str]:
    """What is wrong with a delegation request (Vietnamese, for the chairman's screen)."""
    problems = []
    granter = staff.get(user_of(granted_by))
    if granter is None or granter.role != Role.CHAIRMAN:
        problems.append("Chỉ Chủ tịch UBND xã được ủy quyền sử dụng khóa ký số.")
    if staff.get(user_of(user)) is None:
        problems.append(f"Không có cán bộ '{user}' trong danh sách cán bộ của xã.")
    if key_label not in holders:
        problems.append(f"Không có khóa «{key_label}» trên thiết bị ký số.")
    if valid_until <= valid_from:
        problems.append("Thời hạn ủy quyền phải kết thúc sau khi bắt đầu.")
    if not document.strip():
        problems.append("Ghi số, ký hiệu văn bản ủy quyền.")
    return problems
