"""The gateway's transport rules (issue 2 point 5; peers.md §4.1–4.2): explicit send states
kept apart from business statuses, finite retries with exponential back-off, de-duplication
keys for received packages."""

from __future__ import annotations

import pytest

from services.gateway.domain import transport as t


def test_send_state_machine_allows_only_the_documented_transitions():
    t.check_transition(t.SendState.READY, t.SendState.SENDING)
    t.check_transition(t.SendState.SENDING, t.SendState.ACCEPTED)
    t.check_transition(t.SendState.SENDING, t.SendState.WAITING_FOR_RETRY)
    t.check_transition(t.SendState.WAITING_FOR_RETRY, t.SendState.SENDING)
    for final in t.FINAL_STATES:
        for other in t.SendState:
            with pytest.raises(t.InvalidTransition):
                t.check_transition(final, other)
    with pytest.raises(t.InvalidTransition):
        t.check_transition(t.SendState.READY, t.SendState.ACCEPTED)  # never accepted without sending


def test_retries_are_finite_and_a_refusal_is_final():
    assert t.after_failed_attempt(1, 8, permanent=False) == t.SendState.WAITING_FOR_RETRY
    assert t.after_failed_attempt(8, 8, permanent=False) == t.SendState.FAILED
    assert t.after_failed_attempt(1, 8, permanent=True) == t.SendState.FAILED


def test_backoff_grows_exponentially_and_is_capped():
    delays = [t.retry_delay(n, base_seconds=2, cap_seconds=600, jitter=0).total_seconds() for n in range(1, 12)]
    assert delays[:5] == [2, 4, 8, 16, 32]
    assert max(delays) == 600
    jittered = {t.retry_delay(3, base_seconds=2, cap_seconds=600).total_seconds() for _ in range(20)}
    assert all(6.4 <= d <= 9.6 for d in jittered) and len(jittered) > 1


def test_dedup_keys_identify_a_document_by_sender_and_document_id():
    a = t.edoc_dedup_key("000.01.00.H56", "000.01.00.H56,2026/11/25,12/UBND-VP", 0)
    assert a == t.edoc_dedup_key("000.01.00.H56", "000.01.00.H56,2026/11/25,12/UBND-VP", None)
    # a recall of the same document is a different package
    assert a != t.edoc_dedup_key("000.01.00.H56", "000.01.00.H56,2026/11/25,12/UBND-VP", 1)
    assert a != t.edoc_dedup_key("000.12.00.H56", "000.01.00.H56,2026/11/25,12/UBND-VP", 0)


def test_content_digest_tells_a_redelivery_from_another_document_under_the_same_id():
    assert t.content_digest(["b", "a"]) == t.content_digest(["a", "b"])  # order of attachments does not matter
    assert t.content_digest(["a"]) != t.content_digest(["a", "b"])
