"""The metadata kept for an incoming document (NĐ 30/2020 Phụ lục VI, Phần II, table II;
Decision 28/2018 via the edXML MessageHeader, R-4.3), as a storable dict (dates as ISO text).
Text is already NFC-normalised by the edXML parser (R-4.4)."""

from __future__ import annotations

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
