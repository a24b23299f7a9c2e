"""Recall, update and replace rules (R-6.2; standards.md §1.5, §2.5): who gets 15 and who 16,
what is destroyed and what is kept."""

from __future__ import annotations

import datetime as dt

from services.intake.domain import recall as rules
from services.intake.domain.documents import FINAL_STATES, DocumentState
from shared.edxml import Business, BusinessDocType, Replacement

DOC_ID = "000.01.00.H56,2026/11/25,123/UBND-VP"
AGENCY = "UBND xã Hoằng Đức"
NOW = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)


def registered(**extra) -> dict:
    return {"_id": "k1", "state": "registered", "metadata": {"code": "123/UBND-VP"},
            "response_for": {"organ_id": "000.01.00.H56", "document_id": DOC_ID, "code": "123/UBND-VP"},
            "files": [{"sha256": "a" * 64, "name": "vb.pdf", "size": 10}], **extra}


def test_a_registered_document_is_withdrawn_and_the_sender_told_15():
    decision = rules.decide_recall(registered(), document_id=DOC_ID, agency=AGENCY)
    assert decision.verdict == rules.Verdict.WITHDRAW
    assert decision.code.value == "15" and decision.agreed
    assert "123/UBND-VP" in decision.description_vi and "hủy" in decision.description_vi


def test_documents_still_being_checked_or_held_can_be_recalled():
    for state in ("arrived", "held", "refused"):
        assert rules.decide_recall(registered(state=state), document_id=DOC_ID, agency=AGENCY).verdict == rules.Verdict.WITHDRAW


def test_an_unknown_document_is_refused_16_with_a_vietnamese_reason():
    decision = rules.decide_recall(None, document_id=DOC_ID, agency=AGENCY)
    assert decision.code.value == "16" and not decision.agreed
    assert "không tìm thấy" in decision.description_vi and DOC_ID in decision.description_vi


def test_a_document_assigned_and_completed_can_no_longer_be_recalled():
    for done in (registered(state="completed"), registered(completed_at=NOW), registered(handling={"completed_at": NOW})):
        decision = rules.decide_recall(done, document_id=DOC_ID, agency=AGENCY)
        assert decision.verdict == rules.Verdict.COMPLETED and decision.code.value == "16"
        assert "xử lý xong" in decision.description_vi


def test_a_second_recall_of_a_recalled_document_agrees_without_withdrawing_again():
    decision = rules.decide_recall(registered(state="recalled"), document_id=DOC_ID, agency=AGENCY)
    assert decision.verdict == rules.Verdict.ALREADY_RECALLED and decision.code.value == "15"


def test_recalled_is_final_so_a_redelivered_original_is_not_verified_again():
    assert DocumentState.RECALLED in FINAL_STATES


def test_content_is_destroyed_but_what_it_was_is_kept():
    files = [{"sha256": "a" * 64, "name": "vb.pdf", "size": 10}, {"sha256": "b" * 64, "name": "pl.pdf", "size": 5}]
    kept = rules.destroyed_files(files, NOW)
    assert [(f["name"], f["sha256"], f["destroyed"], f["destroyed_at"]) for f in kept] == [
        ("vb.pdf", "a" * 64, True, NOW), ("pl.pdf", "b" * 64, True, NOW)]


def test_content_another_live_document_holds_is_not_destroyed():
    files = [{"sha256": "a" * 64}, {"sha256": "b" * 64}, {"sha256": "a" * 64}, {"sha256": "c" * 64, "destroyed": True}]
    assert rules.hashes_to_destroy(files, still_needed={"b" * 64}) == ["a" * 64]


def test_update_and_replace_of_a_known_document_are_agreed_and_of_an_unknown_one_refused():
    for kind, word in ((BusinessDocType.UPDATE, "cập nhật"), (BusinessDocType.REPLACE, "thay thế")):
        agreed = rules.decide_revision(registered(), kind, document_id=DOC_ID, agency=AGENCY)
        assert agreed.code.value == "15" and word in agreed.description_vi
        unknown = rules.decide_revision(None, kind, document_id=DOC_ID, agency=AGENCY)
        assert unknown.code.value == "16" and "không tìm thấy" in unknown.description_vi
        recalled = rules.decide_revision(registered(state="recalled"), kind, document_id=DOC_ID, agency=AGENCY)
        assert recalled.code.value == "16" and "thu hồi" in recalled.description_vi


def test_the_target_is_the_business_document_id_or_the_first_replaced_one():
    assert rules.target_document_id(Business(document_id=DOC_ID, business_doc_type=BusinessDocType.RECALL)) == DOC_ID
    replace = Business(business_doc_type=BusinessDocType.REPLACE,
                       replacements=[Replacement(document_id=DOC_ID, organ_ids=["000.24.26.H56"])])
    assert rules.target_document_id(replace) == DOC_ID
    assert rules.target_document_id(Business(business_doc_type=BusinessDocType.UPDATE)) == ""


def test_a_revision_entry_keeps_what_changed():
    business = Business(document_id=DOC_ID, business_doc_type=BusinessDocType.REPLACE, business_doc_reason="Sai nội dung",
                        replacements=[Replacement(document_id=DOC_ID, organ_ids=["000.24.26.H56"])])
    entry = rules.revision_entry(BusinessDocType.REPLACE, package_id="p2", document_id="000.01.00.H56,2026/11/26,124/UBND-VP",
                                 code="124/UBND-VP", subject="Thay thế", reason="Sai nội dung", received_at=NOW,
                                 business=business)
    assert entry["kind"] == "replace" and entry["reason"] == "Sai nội dung"
    assert entry["replacements"] == [{"document_id": DOC_ID, "organ_ids": ["000.24.26.H56"]}]


def test_an_older_follow_up_arriving_late_does_not_overwrite_a_newer_one():
    import datetime as dt

    from services.intake.domain.recall import applies

    t = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone.utc)
    assert applies([], t)
    assert applies([{"received_at": t - dt.timedelta(seconds=5)}], t)
    assert not applies([{"received_at": t + dt.timedelta(seconds=5)}], t)  # a newer one is already applied
    assert applies([{"received_at": t + dt.timedelta(seconds=5), "applied": False}], t)
