"""Long-term preservation of archived signatures (pure): when a kept PDF needs a fresh document
timestamp (PAdES B-LTA, ETSI EN 319 142-1), so its signatures stay verifiable after the
certificates that made them expire (R-4.1 integrity while storing, R-11.1 kept until destruction
is approved).

The newest timestamp in a document (a signature timestamp or a document timestamp) vouches for
everything before it, but only while its TSA certificate is valid. So before that certificate
expires (ARCHIVE_RETIMESTAMP_MARGIN_DAYS ahead) the archive adds a document timestamp over the
whole file and the validation material of the earlier ones.

A renewal only helps when the TSA's current certificate outlives the newest timestamp's: stamping
again with the same certificate would add a revision and gain nothing, so that case waits (and
the operator is told) instead of growing the file every day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Literal

TimestampKind = Literal["signature", "document"]
Action = Literal["nothing_to_preserve", "none", "timestamp", "timestamp_if_tsa_extends", "chain_expired"]

REASON = "B-LTA document timestamp"
ALERT_KIND = "preservation"


@dataclass(frozen=True)
class TimestampInfo:
    kind: TimestampKind
    field: str
    at: dt.datetime  # the TSA's genTime
    tsa_not_after: dt.datetime  # when the TSA certificate that signed it expires
    tsa_cn: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str
    latest: TimestampInfo | None = None
    due_at: dt.datetime | None = None  # when a renewal becomes due (action "none")

    @property
    def wants_timestamp(self) -> bool:
        return self.action in ("timestamp", "timestamp_if_tsa_extends")

    def to_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason,
                "latest": self.latest.to_dict() if self.latest else None, "due_at": self.due_at}


def latest_timestamp(timestamps: list[TimestampInfo]) -> TimestampInfo | None:
    return max(timestamps, key=lambda t: (t.at, t.kind == "document"), default=None)


def decide(*, signatures: int, timestamps: list[TimestampInfo], now: dt.datetime, margin_days: int) -> Decision:
    """What a kept PDF needs now."""
    if signatures == 0 and not any(t.kind == "document" for t in timestamps):
        return Decision("nothing_to_preserve", "no signature in the document")
    latest = latest_timestamp(timestamps)
    if latest is None:
        return Decision("timestamp", "signed but never timestamped: nothing proves when the signatures existed")
    if latest.tsa_not_after <= now:
        # Nothing valid vouches for the chain any more; a new timestamp cannot restore that.
        return Decision("chain_expired", "the newest timestamp's TSA certificate has expired", latest)
    due_at = latest.tsa_not_after - dt.timedelta(days=margin_days)
    if now < due_at:
        return Decision("none", "the newest timestamp's TSA certificate is valid beyond the margin", latest, due_at)
    if not any(t.kind == "document" for t in timestamps):
        return Decision("timestamp", "TSA certificate expires within the margin; no archive timestamp yet", latest)
    return Decision("timestamp_if_tsa_extends", "TSA certificate expires within the margin", latest)


def tsa_extends(decision: Decision, current_tsa_not_after: dt.datetime) -> bool:
    """Whether a timestamp from the TSA as it is now would push the horizon further."""
    if decision.action == "timestamp":
        return True
    if decision.action != "timestamp_if_tsa_extends" or decision.latest is None:
        return False
    return current_tsa_not_after > decision.latest.tsa_not_after


def derived_entry(original: dict, *, sha256: str, size: int, at: dt.datetime, level: str,
                  timestamped_at: dt.datetime | None, tsa_not_after: dt.datetime | None) -> dict:
    """The record's file entry for the re-timestamped copy. The original entry stays (its bytes
    stay in GridFS, fixity keeps checking them) and points forward with `superseded_by`."""
    return {
        "sha256": sha256, "size": size, "name": original.get("name", ""),
        "media_type": original.get("media_type", "application/pdf"),
        "derived_from": original["sha256"],
        "derivation": {"reason": REASON, "at": at, "level": level, "timestamped_at": timestamped_at,
                       "tsa_not_after": tsa_not_after},
    }


def is_current_pdf(entry: dict) -> bool:
    """A file the archive still keeps and has not replaced with a re-timestamped copy."""
    if entry.get("destroyed") or entry.get("superseded_by"):
        return False
    return entry.get("media_type") == "application/pdf" or str(entry.get("name", "")).lower().endswith(".pdf")


MESSAGES_VI = {
    "tsa_unreachable": "Không kết nối được máy chủ cấp dấu thời gian; {pending} văn bản lưu trữ chưa được gia hạn chữ ký số, sẽ thử lại ở lần chạy sau.",
    "tsa_certificate": "Chứng thư của máy chủ cấp dấu thời gian hết hạn ngày {not_after}; {pending} văn bản lưu trữ chờ chứng thư mới để gia hạn chữ ký số.",
    "chain_invalid": "Chữ ký số hoặc dấu thời gian của tệp «{name}» (hồ sơ {record_id}) không còn hợp lệ; không thể gia hạn lưu trữ dài hạn.",
    "chain_expired": "Dấu thời gian mới nhất của tệp «{name}» (hồ sơ {record_id}) đã hết hạn chứng thư; chuỗi bảo đảm giá trị chữ ký bị gián đoạn.",
}
