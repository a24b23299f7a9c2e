"""Transport rules of the gateway (pure): de-duplication keys for received packages and the
send state machine, kept apart from the recipients' business statuses (peers.md §4.2).

Send states: ready → sending → accepted (the axis took it and gave a DocId)
                         ↘ waiting_for_retry → sending … → failed (attempts exhausted, or refused)
"""

from __future__ import annotations

import hashlib

import datetime as dt
import random
from enum import StrEnum


class SendState(StrEnum):
    READY = "ready"
    SENDING = "sending"
    ACCEPTED = "accepted"
    WAITING_FOR_RETRY = "waiting_for_retry"
    FAILED = "failed"


DUE_STATES = (SendState.READY, SendState.WAITING_FOR_RETRY)
FINAL_STATES = (SendState.ACCEPTED, SendState.FAILED)

_ALLOWED = {
    SendState.READY: {SendState.SENDING},
    SendState.SENDING: {SendState.ACCEPTED, SendState.WAITING_FOR_RETRY, SendState.FAILED},
    SendState.WAITING_FOR_RETRY: {SendState.SENDING, SendState.FAILED},
    SendState.ACCEPTED: set(),
    SendState.FAILED: set(),
}


class InvalidTransition(Exception):
    pass


def check_transition(current: SendState, new: SendState) -> None:
    if new not in _ALLOWED[current]:
        raise InvalidTransition(f"{current} → {new}")


def retry_delay(attempts: int, *, base_seconds: float, cap_seconds: float, jitter: float = 0.2) -> dt.timedelta:
    """Exponential back-off with jitter (DHX: finite retries, exponential recommended)."""
    seconds = min(cap_seconds, base_seconds * 2 ** max(attempts - 1, 0))
    seconds *= 1 + random.uniform(-jitter, jitter)
    return dt.timedelta(seconds=seconds)


def after_failed_attempt(attempts: int, max_attempts: int, *, permanent: bool) -> SendState:
    if permanent or attempts >= max_attempts:
        return SendState.FAILED
    return SendState.WAITING_FOR_RETRY


def edoc_dedup_key(sender: str, document_id: str, business_doc_type: int | None) -> str:
    """Same sender and DocumentId = the same package (a recall/update/replace of a document is
    a different package: its business type differs)."""
    return f"edoc|{sender}|{document_id}|{business_doc_type or 0}"


def content_digest(attachment_hashes: list[str]) -> str:
    """What a document contains, independent of its envelope (trace headers, timestamps):
    the same DocumentId with other content is another document, not a redelivery."""
    return hashlib.sha256("\n".join(sorted(attachment_hashes)).encode()).hexdigest()


def status_dedup_key(sender: str, package_sha256: str) -> str:
    return f"status|{sender}|{package_sha256}"


def unparsable_dedup_key(axis_sender: str, axis_doc_id: str) -> str:
    return f"raw|{axis_sender}|{axis_doc_id}"
