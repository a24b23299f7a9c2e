"""The base of every message on the bus.

A message is a pydantic model with a stable type name and routing key. On the wire: JSON body,
AMQP `type` = the type name, `message_id` (stable across re-publishes: consumers de-duplicate
on it), `correlation_id` (follows one document), persistent delivery mode, and a lane —
urgent messages go to the urgent lane of every queue (R-4.2c).
"""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from shared.logging import current_correlation_id

_REGISTRY: dict[str, type["Message"]] = {}

NORMAL_LANE = "normal"
URGENT_LANE = "urgent"


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type_name: ClassVar[str]
    routing_key: ClassVar[str]

    message_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    correlation_id: str | None = Field(default_factory=current_correlation_id)
    urgent: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "type_name" in cls.__dict__:
            if cls.type_name in _REGISTRY:
                raise TypeError(f"duplicate message type {cls.type_name}")
            _REGISTRY[cls.type_name] = cls

    @classmethod
    def message_type(cls) -> str:
        return cls.type_name

    def lane_routing_key(self) -> str:
        return self.routing_key

    def full_routing_key(self) -> str:
        """`<lane>.<routing key>`: queues bind each lane separately."""
        return f"{URGENT_LANE if self.urgent else NORMAL_LANE}.{self.lane_routing_key()}"


def message_class(type_name: str) -> type[Message] | None:
    return _REGISTRY.get(type_name)


def decode(type_name: str, body: bytes) -> Message:
    cls = message_class(type_name)
    if cls is None:
        raise ValueError(f"unknown message type {type_name!r}")
    return cls.model_validate_json(body)
