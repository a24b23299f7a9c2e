"""Fixity (pure): what re-reading a stored file found, what a run concludes, and the alert an
operator sees (R-4.1 integrity while storing, R-9.1 storage never changes content, R-11.1 the
archive keeps what it was given until destruction is approved).

A file is checked against the SHA-256 its record kept when it was archived; the store's own
metadata is not trusted for that (it lives beside the bytes and could be changed with them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Outcome = Literal["ok", "mismatch", "missing", "unreadable"]
Severity = Literal["critical", "warning"]
FAILURES: tuple[Outcome, ...] = ("mismatch", "missing", "unreadable")

ALERT_KIND = "fixity"
# What the operator reads (Vietnamese); details for engineers stay in English.
_MESSAGES_VI: dict[str, str] = {
    "mismatch": "Tệp lưu trữ «{name}» của hồ sơ {record_id} đã bị thay đổi: mã băm SHA-256 không còn khớp với bản gốc.",
    "missing": "Tệp lưu trữ «{name}» của hồ sơ {record_id} không còn trong kho lưu trữ.",
    "unreadable": "Không đọc được tệp lưu trữ «{name}» của hồ sơ {record_id} khi kiểm tra tính toàn vẹn.",
}


@dataclass(frozen=True)
class FileCheck:
    """One file of one record, as this run found it."""

    record_id: str
    name: str
    sha256: str  # what the record says the content hashes to
    outcome: Outcome
    actual_sha256: str | None = None  # what the stored bytes hash to now (mismatch)
    expected_size: int | None = None
    actual_size: int | None = None
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome in FAILURES

    @property
    def alert_key(self) -> str:
        """One open alert per (record, file) at a time."""
        return f"{ALERT_KIND}:{self.record_id}:{self.sha256}"

    def to_dict(self) -> dict:
        return asdict(self)


def classify(expected_sha256: str, expected_size: int | None, actual_sha256: str | None, actual_size: int | None,
             *, stored: bool, problem: str = "") -> tuple[Outcome, str]:
    """The outcome for a file: not stored at all → missing; a read that failed → unreadable;
    bytes whose hash or size differ → mismatch."""
    if not stored:
        return "missing", "no GridFS file with this SHA-256"
    if problem:
        return "unreadable", problem
    if actual_sha256 != expected_sha256:
        return "mismatch", f"content hashes to {actual_sha256}, the record says {expected_sha256}"
    if expected_size is not None and actual_size != expected_size:
        return "mismatch", f"{actual_size} bytes stored, the record says {expected_size}"
    return "ok", ""


def severity(check: FileCheck) -> Severity:
    # A changed or lost archived file is evidence lost (critical); a read error may be transient.
    return "warning" if check.outcome == "unreadable" else "critical"


def alert_message_vi(check: FileCheck) -> str:
    return _MESSAGES_VI[check.outcome].format(name=check.name, record_id=check.record_id)


@dataclass
class RunTally:
    """Counts of one run; failures are kept in full up to a bound (the run document must stay small)."""

    files_checked: int = 0
    bytes_read: int = 0
    ok: int = 0
    mismatch: int = 0
    missing: int = 0
    unreadable: int = 0
    skipped_destroyed: int = 0
    records: int = 0
    max_listed: int = 1000

    def __post_init__(self) -> None:
        self.failures: list[FileCheck] = []
        self.failures_not_listed = 0

    def add(self, check: FileCheck, size_read: int = 0) -> None:
        self.files_checked += 1
        self.bytes_read += size_read
        setattr(self, check.outcome, getattr(self, check.outcome) + 1)
        if check.failed:
            if len(self.failures) < self.max_listed:
                self.failures.append(check)
            else:
                self.failures_not_listed += 1

    @property
    def failed(self) -> int:
        return self.mismatch + self.missing + self.unreadable

    @property
    def verdict(self) -> Literal["passed", "failed"]:
        return "failed" if self.failed else "passed"

    def counts(self) -> dict[str, int]:
        return {"records": self.records, "files_checked": self.files_checked, "bytes_read": self.bytes_read,
                "ok": self.ok, "mismatch": self.mismatch, "missing": self.missing, "unreadable": self.unreadable,
                "skipped_destroyed": self.skipped_destroyed, "failed": self.failed}
