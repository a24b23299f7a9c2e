"""Every message exchanged between the services (v1). docs/architecture.md lists who
publishes and who consumes each one; shared/bus/topology.py binds them to queues.

Large content never travels in a message: a `BlobRef` names it by SHA-256 and the owning
service serves it at `GET /blobs/{sha256}`; the receiver checks the hash on arrival (R-4.1).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts.base import Message

ServiceName = Literal["gateway", "intake", "dispatch", "signing", "archive"]


class BlobRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    sha256: str
    size: int
    media_type: str
    name: str
    service: ServiceName


class OrganRef(BaseModel):
    model_config = ConfigDict(frozen=True)

    organ_id: str
    name: str = ""


class DocumentRef(BaseModel):
    """What a status package says it is about (edXML ResponseFor)."""

    model_config = ConfigDict(frozen=True)

    organ_id: str
    code: str = ""
    document_id: str
    promulgation_date: dt.date | None = None


# --- gateway ---------------------------------------------------------------------------


class PackageReceived(Message):
    """An edoc package fetched from the axis and kept raw by the gateway."""

    type_name = "gateway.PackageReceived.v1"
    routing_key = "gateway.package.received"

    package_id: str
    axis_doc_id: str
    axis_sender: str
    sender_organ_id: str | None
    document_id: str | None
    business_doc_type: int | None
    package: BlobRef
    received_at: dt.datetime


class StatusReceived(Message):
    """A business status package (01…16) received from a peer, parsed."""

    type_name = "gateway.StatusReceived.v1"
    routing_key = "gateway.status.received"

    package_id: str
    axis_doc_id: str
    sender_organ_id: str
    status_code: str
    description: str = ""
    response_for: DocumentRef
    staff_name: str = ""
    staff_department: str = ""
    status_at: dt.datetime
    received_at: dt.datetime

    def lane_routing_key(self) -> str:
        return f"{self.routing_key}.{self.status_code}"


class SendRequested(Message):
    """Send an edXML package (edoc or status) to peers through the axis. The gateway owns
    the transport state (ready → sending → accepted | waiting_for_retry → failed)."""

    type_name = "gateway.SendRequested.v1"
    routing_key = "send.requested"

    send_id: str
    requested_by: Literal["intake", "dispatch"]
    recipients: list[str]
    message_kind: Literal["edoc", "status"]
    document_id: str
    status_code: str | None = None
    package: BlobRef | None = None
    package_b64: str | None = None  # small status packages travel inline
    # Order among the requester's packages about this document to these recipients (0 first):
    # the gateway sends n only after 0…n-1 have been accepted, whatever order requests arrive in.
    sequence: int | None = None


class SendStateChanged(Message):
    type_name = "gateway.SendStateChanged.v1"
    routing_key = "gateway.send.state"

    send_id: str
    requested_by: Literal["intake", "dispatch"]
    state: Literal["ready", "sending", "accepted", "waiting_for_retry", "failed"]
    attempts: int
    axis_doc_id: str | None = None
    error: str | None = None
    next_attempt_at: dt.datetime | None = None
    at: dt.datetime

    def lane_routing_key(self) -> str:
        return f"{self.routing_key}.{self.requested_by}"


# --- intake ----------------------------------------------------------------------------


class IncomingDocumentRegistered(Message):
    """Registered in the yearly incoming register (sổ văn bản đến), R-6.3."""

    type_name = "intake.IncomingDocumentRegistered.v1"
    routing_key = "intake.document.registered"

    document_key: str
    register_year: int
    register_number: int
    arrived_at: dt.datetime
    registered_at: dt.datetime
    sender: OrganRef
    document_id: str
    code: str
    type_name_vi: str
    subject: str
    issued_date: dt.date
    signer: str
    priority: int
    due_date: dt.date | None = None
    files: list[BlobRef]
    verification_verdict: str
    validation_policy: str
    source: Literal["axis", "paper"] = "axis"  # paper: digitised by the clerk
    replies_to: list[str] = Field(default_factory=list)  # DocumentIds this document answers (ResponseFor)


class IncomingDocumentRecalled(Message):
    """The sender recalled a registered document and the commune agreed (R-6.2): its content is
    destroyed everywhere it is kept; metadata and the recall's record stay."""

    type_name = "intake.IncomingDocumentRecalled.v1"
    routing_key = "intake.document.recalled"

    document_key: str
    recall_id: str
    reason: str
    recalled_at: dt.datetime
    file_hashes: list[str]


# --- dispatch and signing ----------------------------------------------------------------


SignatureRole = Literal["leader", "agency", "digitised", "annex"]
Requester = Literal["dispatch", "intake"]


class SignatureRequested(Message):
    type_name = "dispatch.SignatureRequested.v1"
    routing_key = "dispatch.signature.requested"

    request_id: str
    document_key: str
    # leader: into the signature block; agency: seal over the leader's (R-8.3c); digitised: the
    # agency's at the top left of a scanned paper document.
    role: SignatureRole
    key_label: str
    pdf: BlobRef
    requested_by_user: str
    reason: str = ""
    requested_by: Requester = "dispatch"  # the service that gets the result
    stamp_text: str = ""  # annex: the số/ký hiệu of the document it belongs to (NĐ 30 Phụ lục I II.8)

    def lane_routing_key(self) -> str:
        return f"{self.requested_by}.signature.requested"


class SignatureApplied(Message):
    type_name = "signing.SignatureApplied.v1"
    routing_key = "signing.signature.applied"

    request_id: str
    document_key: str
    role: SignatureRole
    key_label: str
    signed_pdf: BlobRef
    signer_subject: str
    signed_at: dt.datetime
    requested_by: Requester = "dispatch"
    # PAdES-B-T with a timestamp from the configured time-stamping server; PAdES-B-B when none
    # is configured (said so in the document's record).
    level: str = "PAdES-B-B"

    def lane_routing_key(self) -> str:
        return f"{self.routing_key}.{self.requested_by}"


class SignatureRefused(Message):
    type_name = "signing.SignatureRefused.v1"
    routing_key = "signing.signature.refused"

    request_id: str
    document_key: str
    role: SignatureRole
    reason: str
    reason_vi: str
    requested_by: Requester = "dispatch"

    def lane_routing_key(self) -> str:
        return f"{self.routing_key}.{self.requested_by}"


class OutgoingDocumentIssued(Message):
    """Numbered, signed by the leader and the agency, handed to the gateway (R-7.1, R-7.2)."""

    type_name = "dispatch.OutgoingDocumentIssued.v1"
    routing_key = "dispatch.document.issued"

    document_key: str
    register_year: int
    register_number: int
    code: str
    document_id: str
    issued_date: dt.date
    type_name_vi: str
    subject: str
    signer: str
    recipients: list[OrganRef]
    files: list[BlobRef]


# --- archive -----------------------------------------------------------------------------


class RecordArchived(Message):
    type_name = "archive.RecordArchived.v1"
    routing_key = "archive.record.archived"

    record_id: str
    source: Literal["incoming", "outgoing"]
    document_key: str
    file_hashes: list[str]

    def lane_routing_key(self) -> str:
        return f"{self.routing_key}.{self.source}"
