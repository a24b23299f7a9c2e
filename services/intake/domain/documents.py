"""An incoming document's life in intake (văn bản đến), pure rules.

arrived ──verification passed──▶ registered (number in the yearly incoming register, R-6.3)
   │ └────verification failed──▶ refused (status 02 with the reason to the sender, R-3.4, R-6.1)
   └──────indeterminate, retries exhausted──▶ held (waits for the clerk; never refused)
any state but completed ──recall agreed (status 15)──▶ recalled (content destroyed, metadata kept, R-6.2)
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from shared.clock import to_vn


class DocumentState(StrEnum):
    ARRIVED = "arrived"
    REGISTERED = "registered"
    REFUSED = "refused"
    HELD = "held"
    RECALLED = "recalled"
    DIGITISING = "digitising"  # a scanned paper document waiting for the agency signature
    DIGITISATION_FAILED = "digitisation_failed"


FINAL_STATES = (DocumentState.REGISTERED, DocumentState.REFUSED, DocumentState.RECALLED)


def register_year(arrived_at: dt.datetime) -> int:
    """The incoming register is yearly and starts at 1 on 1 January, Vietnam time (NĐ 30 Điều 22)."""
    return to_vn(arrived_at).year


def register_counter(year: int) -> str:
    return f"incoming-register:{year}"


def same_document_key(sender_organ_id: str, code: str, issued_date: dt.date) -> str:
    """A second document with the same number, symbol and issuer in the same year is flagged
    to the clerk (NĐ 30 Phụ lục VI III: alert on duplicate (số, ký hiệu, cơ quan ban hành))."""
    return f"{sender_organ_id}|{issued_date.year}|{code.upper()}"
