"""An outgoing document's life in dispatch (văn bản đi), pure rules.

leader_signing ─▶ agency_signing (numbered) ─▶ issued
       │                   │
       └─▶ signature_refused ◀┘

Signatures come in the order the rules require: the leader's first, then — only over a valid
leader signature — the agency's (R-8.3c); the number and date are given between the two
(R-7.2). Each recipient organisation gets its own envelope and its own delivery record,
whose transport state (from the gateway) is kept apart from its business statuses (from the
recipient: 01 arrived, 02 refused, 03 registered, 04 assigned, 05 processing, 06 done).
"""

from __future__ import annotations

from enum import StrEnum


class OutgoingState(StrEnum):
    LEADER_SIGNING = "leader_signing"
    AGENCY_SIGNING = "agency_signing"
    ISSUED = "issued"
    SIGNATURE_REFUSED = "signature_refused"


BUSINESS_STATUS_NAMES = {
    "01": "received",
    "02": "rejected",
    "03": "accepted",
    "04": "assigned",
    "05": "processing",
    "06": "completed",
    "15": "change_accepted",
    "16": "change_rejected",
}


def business_state(status_code: str) -> str:
    return BUSINESS_STATUS_NAMES.get(status_code, f"status_{status_code}")
