"""The whole RabbitMQ topology, declared in one place.

Exchanges
- `vanthu.events` (topic): every business message, routing key `<lane>.<routing key>`.
- `vanthu.delay` (direct) → `vanthu.delay.<tier>` queues with a fixed TTL; when a message
  expires it is dead-lettered to `vanthu.retry` (headers), which routes it back to the queue named
  in its `x-retry-queue` header: retry with back-off without blocking the main queue.
- `vanthu.dead` (direct) → `<queue>.dlq`: failures, with the reason in `x-failure-reason`.

Queues (per logical queue Q consumed by one service)
- `Q` and `Q.urgent`: quorum queues (durable, replicated in a cluster) with a delivery limit
  (a message that crashes its consumer again and again ends in the DLQ with x-death reason
  `delivery_limit`), a dead-letter exchange and at-least-once dead-lettering. Urgent messages
  travel in `Q.urgent`, consumed by its own consumer, so a backlog of normal documents never
  delays an urgent one (R-4.2c). Two lanes instead of `x-max-priority` because quorum queues have
  no priorities before RabbitMQ 4.0 and Debian ships 3.10: this works on both.
- `Q.dlq`: quorum, where failures wait for the operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange

from shared.contracts.base import NORMAL_LANE, URGENT_LANE

EVENTS_EXCHANGE = "vanthu.events"
DELAY_EXCHANGE = "vanthu.delay"
RETRY_EXCHANGE = "vanthu.retry"
DEAD_EXCHANGE = "vanthu.dead"

DELIVERY_LIMIT = 10
# Back-off tiers (seconds) for retries: attempt n waits DELAY_TIERS[min(n, last)].
DELAY_TIERS: tuple[int, ...] = (1, 5, 30, 120, 600)

# Not "x-…": a headers exchange ignores x- headers when it matches bindings.
RETRY_QUEUE_HEADER = "vanthu-retry-queue"
RETRY_COUNT_HEADER = "x-retry-count"
FAILURE_REASON_HEADER = "x-failure-reason"
ORIGINAL_ROUTING_KEY_HEADER = "x-original-routing-key"  # kept through retries and dead-lettering


@dataclass(frozen=True)
class QueueSpec:
    name: str
    service: str
    bindings: tuple[str, ...]  # routing keys without the lane prefix
    description: str = ""

    @property
    def lanes(self) -> tuple[tuple[str, str], ...]:
        """(queue name, lane) pairs; the urgent lane first."""
        return ((f"{self.name}.urgent", URGENT_LANE), (self.name, NORMAL_LANE))

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.name}.dlq"


@dataclass(frozen=True)
class Topology:
    queues: tuple[QueueSpec, ...] = field(default_factory=tuple)

    def for_service(self, service: str) -> list[QueueSpec]:
        return [q for q in self.queues if q.service == service]

    def get(self, name: str) -> QueueSpec:
        for spec in self.queues:
            if spec.name == name:
                return spec
        raise KeyError(name)


STATUS_CODES_FOR_SENDER = ("01", "02", "03", "04", "05", "06", "15", "16")

TOPOLOGY = Topology(
    queues=(
        QueueSpec(
            "gateway.send-requests", "gateway", ("send.requested",),
            "edoc and status packages to send through the axis",
        ),
        QueueSpec(
            "intake.packages", "intake", ("gateway.package.received",),
            "incoming edoc packages to verify and register",
        ),
        QueueSpec(
            "intake.recalls", "intake", ("gateway.status.received.13",),
            "recall notices (status 13) for documents we received",
        ),
        QueueSpec(
            "intake.send-states", "intake", ("gateway.send.state.intake",),
            "transport state of the status packages intake asked to send",
        ),
        QueueSpec(
            "intake.signatures", "intake", ("signing.signature.applied.intake", "signing.signature.refused.intake"),
            "the agency signature on digitised paper documents (R-6.5)",
        ),
        QueueSpec(
            "intake.archive-receipts", "intake", ("archive.record.archived.incoming",),
            "archive confirms it keeps a registered incoming document",
        ),
        QueueSpec(
            "signing.requests", "signing", ("dispatch.signature.requested", "intake.signature.requested"),
            "leader and agency signatures to apply; agency signatures on digitised paper documents",
        ),
        QueueSpec(
            "dispatch.signatures", "dispatch", ("signing.signature.applied.dispatch", "signing.signature.refused.dispatch"),
            "results of dispatch's signature requests",
        ),
        QueueSpec(
            "dispatch.send-states", "dispatch", ("gateway.send.state.dispatch",),
            "transport state of outgoing packages",
        ),
        QueueSpec(
            "dispatch.statuses", "dispatch",
            tuple(f"gateway.status.received.{code}" for code in STATUS_CODES_FOR_SENDER),
            "recipients' business statuses about our outgoing documents",
        ),
        QueueSpec(
            "dispatch.replies", "dispatch", ("intake.document.registered",),
            "registered incoming documents, for the replies they carry to our documents (R-7.5, R-10.3)",
        ),
        QueueSpec(
            "dispatch.archive-receipts", "dispatch", ("archive.record.archived.outgoing",),
            "archive confirms it keeps an issued document (R-7.3)",
        ),
        QueueSpec(
            "archive.records", "archive", ("intake.document.registered", "dispatch.document.issued", "intake.document.recalled"),
            "documents to store in the archive; recalled ones to withdraw (one queue: a recall follows its registration)",
        ),
    )
)


def delay_queue_name(seconds: int) -> str:
    return f"vanthu.delay.{seconds}s"


def delay_for_attempt(attempt: int) -> int:
    return DELAY_TIERS[min(max(attempt, 1), len(DELAY_TIERS)) - 1]


def _work_queue_arguments(spec: QueueSpec) -> dict:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_EXCHANGE,
        "x-dead-letter-routing-key": spec.dead_letter_queue,
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


async def declare_exchanges(channel: AbstractChannel) -> dict[str, AbstractExchange]:
    return {
        EVENTS_EXCHANGE: await channel.declare_exchange(EVENTS_EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True),
        DELAY_EXCHANGE: await channel.declare_exchange(DELAY_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True),
        RETRY_EXCHANGE: await channel.declare_exchange(RETRY_EXCHANGE, aio_pika.ExchangeType.HEADERS, durable=True),
        DEAD_EXCHANGE: await channel.declare_exchange(DEAD_EXCHANGE, aio_pika.ExchangeType.DIRECT, durable=True),
    }


async def declare(channel: AbstractChannel, topology: Topology = TOPOLOGY) -> None:
    """Declare everything (idempotent). Every service declares the whole topology at start,
    so a message published before its consumer ever ran is kept, not dropped."""
    exchanges = await declare_exchanges(channel)
    for seconds in DELAY_TIERS:
        name = delay_queue_name(seconds)
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-message-ttl": seconds * 1000,
                "x-dead-letter-exchange": RETRY_EXCHANGE,
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        await queue.bind(exchanges[DELAY_EXCHANGE], routing_key=name)
    for spec in topology.queues:
        dlq = await channel.declare_queue(spec.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"})
        await dlq.bind(exchanges[DEAD_EXCHANGE], routing_key=spec.dead_letter_queue)
        for queue_name, lane in spec.lanes:
            queue = await channel.declare_queue(queue_name, durable=True, arguments=_work_queue_arguments(spec))
            for key in spec.bindings:
                await queue.bind(exchanges[EVENTS_EXCHANGE], routing_key=f"{lane}.{key}")
            await queue.bind(
                exchanges[RETRY_EXCHANGE],
                routing_key="",
                arguments={"x-match": "all", RETRY_QUEUE_HEADER: queue_name},
            )
