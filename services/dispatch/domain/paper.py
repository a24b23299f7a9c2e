"""Paper copies and partners outside the system (R-3.3, R-5.1, R-5.2), pure rules.

No paper copy once a document is sent electronically (R-3.3), except: legal normative
documents; documents submitted to the People's Committee or its chairman (tờ trình); finance,
personnel, complaint documents; partners without the technical means (R-5.1: recorded as
exchanged outside the system); documents addressed to individuals. Those deliveries carry a
paper copy to send, tracked until the clerk records it sent."""

from __future__ import annotations

from shared.text import fold

CATEGORIES = {
    "normal": "",
    "legal_normative": "văn bản quy phạm pháp luật",
    "finance": "văn bản về tài chính",
    "personnel": "văn bản về tổ chức cán bộ",
    "complaint": "văn bản về khiếu nại, tố cáo",
}
OUTSIDE_REASON = "nơi nhận chưa có điều kiện nhận văn bản điện tử (gửi ngoài hệ thống)"
SUBMISSION_REASON = "văn bản trình Ủy ban nhân dân hoặc Chủ tịch Ủy ban nhân dân"
METHODS = ("bưu điện", "trực tiếp", "giao liên")


def paper_reasons(*, category: str, type_name: str, channel: str) -> list[str]:
    """Why this recipient also gets a paper copy (empty: electronic only)."""
    reasons = [CATEGORIES[category]] if CATEGORIES.get(category) else []
    if fold(type_name) == "to trinh":
        reasons.append(SUBMISSION_REASON)
    if channel == "outside":
        reasons.append(OUTSIDE_REASON)
    return reasons


def paper_entry(reasons: list[str]) -> dict | None:
    return {"required": True, "reasons": reasons, "state": "to_send"} if reasons else None
