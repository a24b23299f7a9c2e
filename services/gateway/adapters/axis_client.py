"""The gateway's port to an interconnection axis (standards.md §2): the national VXP, a
provincial LGSP variant or the local axis are adapters behind this one interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

MessageKind = Literal["edoc", "status"]


class AxisUnavailable(Exception):
    """Network error, timeout or server error: try again later."""


class AxisRejected(Exception):
    """The axis refused the request (ErrorCode != 0, 4xx): retrying the same will not help."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class PackageTooLarge(Exception):
    """The package is bigger than the configured limit: not read past it. `prefix` holds the
    first bytes (the edXML header: who sent it, which DocumentId) so the sender can be told."""

    def __init__(self, doc_id: str, *, limit: int, size: int | None, prefix: bytes = b"") -> None:
        super().__init__(f"package {doc_id} is larger than {limit} bytes" + (f" (about {size})" if size else ""))
        self.doc_id, self.limit, self.size, self.prefix = doc_id, limit, size, prefix


@dataclass(frozen=True)
class ReceivedItem:
    doc_id: str
    from_code: str
    to_code: str
    message_type: str
    created_time: str = ""
    status: str = ""


@dataclass(frozen=True)
class SendReceipt:
    doc_id: str


@dataclass(frozen=True)
class SentItem:
    """Per-recipient delivery tracking of a sent package (getSentEdocList)."""

    sender_doc_id: str
    receiver_doc_id: str
    from_code: str
    to_code: str
    message_type: str
    send_status: str
    receive_status: str
    extra: dict = field(default_factory=dict)


class AxisClient(Protocol):
    async def list_received(self, kind: MessageKind) -> list[ReceivedItem]: ...

    async def fetch(self, doc_id: str, *, max_bytes: int | None = None) -> bytes:
        """The raw package; raises PackageTooLarge (without reading it all) over `max_bytes`."""
        ...

    async def acknowledge(self, doc_id: str, status: Literal["done", "fail", "processing"]) -> None: ...

    async def send(self, from_code: str, to_codes: list[str], kind: MessageKind, data: bytes) -> SendReceipt: ...

    async def list_sent(self, kind: MessageKind, doc_id: str | None = None) -> list[SentItem]: ...

    async def agencies(self) -> list[dict]: ...

    async def close(self) -> None: ...
