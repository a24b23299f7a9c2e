"""Paper copies (R-3.3, R-5.1, R-5.2): electronic only, except the kinds the rule names."""

from __future__ import annotations

from services.dispatch.domain.paper import OUTSIDE_REASON, SUBMISSION_REASON, paper_entry, paper_reasons


def test_electronic_only_unless_the_rule_names_the_kind():
    assert paper_reasons(category="normal", type_name="Công văn", channel="axis") == []
    assert paper_entry([]) is None


def test_the_named_kinds_get_a_paper_copy_to_track():
    assert paper_reasons(category="finance", type_name="Quyết định", channel="axis") == ["văn bản về tài chính"]
    assert paper_reasons(category="normal", type_name="Tờ trình", channel="axis") == [SUBMISSION_REASON]
    both = paper_reasons(category="complaint", type_name="Công văn", channel="outside")
    assert both == ["văn bản về khiếu nại, tố cáo", OUTSIDE_REASON]
    assert paper_entry(both) == {"required": True, "reasons": both, "state": "to_send"}
