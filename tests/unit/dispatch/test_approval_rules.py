"""R-7.1, R-8.2: a document the clerk hands in is approved (or returned) by the named leader
himself; nobody's key signs on somebody else's word."""

from services.dispatch.domain.outgoing import OutgoingState, already_decided, approval_problems

WAITING = {"state": OutgoingState.AWAITING_APPROVAL.value,
           "approval": {"asked_of": "chutich", "asked_by": "vanthu", "asked_at": "2026-12-02T08:00:00Z"}}


def test_the_named_leader_approves_while_it_waits():
    assert approval_problems(WAITING, by_user="chutich", by_role="chairman", approving=True) == []


def test_another_leader_the_clerk_or_an_officer_cannot_decide():
    other = approval_problems(WAITING, by_user="phochutich", by_role="vice_chairman", approving=True)
    assert other == ["Văn thư trình văn bản này cho chutich; chỉ người đó duyệt hoặc trả lại."]
    clerk = approval_problems(WAITING, by_user="vanthu", by_role="clerk", approving=True)
    assert "Chỉ lãnh đạo UBND xã duyệt văn bản để ký số." in clerk
    assert approval_problems(WAITING, by_user="x", by_role=None, approving=True)[0].startswith("Chỉ lãnh đạo")


def test_a_return_needs_a_reason_and_only_a_waiting_document_is_decided():
    assert approval_problems(WAITING, by_user="chutich", by_role="chairman", approving=False, reason="  ") == [
        "Ghi lý do trả lại để văn thư biết."]
    assert approval_problems(WAITING, by_user="chutich", by_role="chairman", approving=False, reason="Sai nơi nhận") == []
    for state in ("leader_signing", "issued", "returned_by_leader", "cancelled"):
        assert approval_problems({**WAITING, "state": state}, by_user="chutich", by_role="chairman", approving=True) == [
            "Văn bản không ở trạng thái chờ lãnh đạo duyệt."], state


def test_the_same_decision_again_is_recognised_not_a_different_one():
    approved = {**WAITING, "state": "leader_signing", "approval": {**WAITING["approval"], "decided_by": "chutich", "approved": True}}
    assert already_decided(approved, by_user="chutich", approving=True)
    assert not already_decided(approved, by_user="chutich", approving=False)  # a return after approval is refused
    assert not already_decided(approved, by_user="phochutich", approving=True)
    assert not already_decided(WAITING, by_user="chutich", approving=True)
