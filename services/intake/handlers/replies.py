"""Status packages back to the sender of an incoming document (standards.md §1.8): built
here, sent through the gateway, and recorded on the document with their transport state."""

from __future__ import annotations

import base64
import uuid

from services.intake.domain import statuses
from shared.clock import utcnow
from shared.contracts.messages import SendRequested
from shared.edxml import Organization, ResponseFor, StaffInfo, StatusCode, build_status
from shared.service import ServiceContext


def status_request(ctx: ServiceContext, record: dict, code: StatusCode, description: str) -> SendRequested:
    settings = ctx.settings
    response_for = ResponseFor(**record["response_for"])
    package = statuses.status_package(
        code=code,
        own=Organization(organ_id=settings.agency_id, organ_name=settings.agency_full_name),
        response_for=response_for,
        staff=StaffInfo(department=settings.clerk_department, staff=settings.clerk_name),
        description=description,
        at=utcnow(),
    )
    return SendRequested(
        send_id=uuid.uuid4().hex,
        requested_by="intake",
        recipients=[record["reply_to"]],
        message_kind="status",
        document_id=response_for.document_id,
        status_code=code.value,
        package_b64=base64.b64encode(build_status(package)).decode(),
        sequence=len(record.get("statuses") or []),  # the statuses already sent go first
        urgent=record.get("urgent", False),
    )


def status_entry(request: SendRequested) -> dict:
    return {"code": request.status_code, "send_id": request.send_id, "at": utcnow(), "transport_state": "requested"}
