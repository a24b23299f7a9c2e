"""Accounts of the portal as pure rules: the password policy (R-15.2), the lock-out after
repeated failures, and what a sign-in attempt leads to. No I/O here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

MIN_PASSWORD_LENGTH = 10
ROLE_LABELS_VI = {
    "clerk": "Văn thư", "chairman": "Chủ tịch", "vice_chairman": "Phó Chủ tịch", "officer": "Công chức",
    "archivist": "Lưu trữ", "operator": "Vận hành hệ thống",
}


def password_problems(new: str, *, user: str, old: str | None, confirm: str | None = None) -> list[str]:
    """Why a new password cannot be used, in Vietnamese; empty when it can (R-15.2)."""
    problems = []
    if confirm is not None and new != confirm:
        problems.append("Mật khẩu nhập lại không khớp.")
    if len(new) < MIN_PASSWORD_LENGTH:
        problems.append(f"Mật khẩu mới phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự.")
    if new.strip().casefold() == user.strip().casefold() or (user and user.casefold() in new.casefold()):
        problems.append("Mật khẩu mới không được là (hoặc chứa) tên đăng nhập.")
    if old is not None and new == old:
        problems.append("Mật khẩu mới phải khác mật khẩu cũ.")
    return problems


@dataclass(frozen=True)
class LockoutPolicy:
    attempts: int = 5
    minutes: float = 15.0


def locked(account: dict, now: dt.datetime) -> dt.datetime | None:
    """Until when the account is locked, or None."""
    until = account.get("locked_until")
    return until if until is not None and until > now else None


class Outcome(StrEnum):
    SIGNED_IN = "signed_in"
    WRONG_PASSWORD = "wrong_password"
    LOCKED_NOW = "locked_now"  # this failure locked it
    LOCKED = "locked"  # it was locked already
    UNKNOWN_USER = "unknown_user"


def after_failure(account: dict, now: dt.datetime, policy: LockoutPolicy) -> tuple[dict, Outcome]:
    """The account's changes after a wrong password, and whether it is now locked."""
    failures = int(account.get("failed_attempts") or 0) + 1
    if failures >= policy.attempts:
        return ({"failed_attempts": 0, "locked_until": now + dt.timedelta(minutes=policy.minutes), "locked_at": now},
                Outcome.LOCKED_NOW)
    return {"failed_attempts": failures}, Outcome.WRONG_PASSWORD


def message_vi(outcome: Outcome, *, until: dt.datetime | None = None, left: int | None = None) -> str:
    when = f" đến {vn_time(until)}" if until else ""
    if outcome == Outcome.LOCKED_NOW:
        return f"Nhập sai mật khẩu quá số lần cho phép: tài khoản bị tạm khóa{when}. Hãy thử lại sau hoặc liên hệ cán bộ vận hành."
    if outcome == Outcome.LOCKED:
        return f"Tài khoản đang bị tạm khóa{when} do nhập sai mật khẩu nhiều lần."
    tail = f" Còn {left} lần thử trước khi tài khoản bị tạm khóa." if left is not None and left <= 2 else ""
    return "Tên đăng nhập hoặc mật khẩu không đúng." + tail


VN = dt.timezone(dt.timedelta(hours=7))


def vn_time(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(VN).strftime("%H:%M ngày %d/%m/%Y")
