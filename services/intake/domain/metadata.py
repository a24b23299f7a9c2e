"""The metadata kept for an incoming document (NĐ 30/2020 Phụ lục VI, Phần II, table II;
Decision 28/2018 via the edXML MessageHeader, R-4.3), as a storable dict (dates as ISO text).
Text is already NFC-normalised by the edXML parser (R-4.4)."""

from __future__ import annotations

import unicodedata

from shared.edxml import EdocPackage


def metadata_of(package: EdocPackage) -> dict:
    return {
        "sender": package.sender.model_dump(mode="json"),
        "recipients": [r.model_dump(mode="json") for r in package.recipients],
        "document_id": package.document_id,
        "code": package.code.full,
        "code_number": package.code.code_number,
        "code_notation": package.code.code_notation,
        "place": package.promulgation_info.place,
        "issued_date": package.promulgation_info.promulgation_date.isoformat(),
        "type": package.document_type.type,
        "type_name": package.document_type.type_name,
        "subject": package.subject,
        "content": package.content,
        "signer": package.signer_info.model_dump(mode="json"),
        "due_date": package.due_date.isoformat() if package.due_date else None,
        "priority": int(package.other_info.priority),
        "other_info": package.other_info.model_dump(mode="json"),
        "steering_type": package.steering_type,
        "to_places": list(package.to_places),
        "response_for": [r.model_dump(mode="json") for r in package.response_for],
        "trace_headers": [t.model_dump(mode="json") for t in package.trace_headers],
        "business": package.business.model_dump(mode="json"),
    }


def paper_metadata(*, sender_organ_id: str, sender_name: str, code_number: str, code_notation: str, issued_date,
                   place: str, type_name: str, subject: str, signer_name: str, signer_position: str, priority: int,
                   due_date) -> dict:
    """The same fields for a digitised paper document (R-6.5), typed in by the clerk, NFC (R-4.4)."""
    code_number, code_notation = _nfc(code_number), _nfc(code_notation)
    return {
        "sender": {"organ_id": sender_organ_id, "organ_name": _nfc(sender_name)},
        "recipients": [],
        "document_id": "",
        "code": f"{code_number}/{code_notation}" if code_number else code_notation,
        "code_number": code_number,
        "code_notation": code_notation,
        "place": _nfc(place),
        "issued_date": issued_date.isoformat(),
        "type": "",
        "type_name": _nfc(type_name),
        "subject": _nfc(subject),
        "content": "",
        "signer": {"competence": "", "position": _nfc(signer_position), "full_name": _nfc(signer_name)},
        "due_date": due_date.isoformat() if due_date else None,
        "priority": priority,
        "steering_type": 0,
        "to_places": [],
        "response_for": [],
        "trace_headers": [],
    }


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", (text or "").strip())
