"""Consumers: manual ack after the work is stored, retry with back-off, dead letters with reasons.

A handler gets a decoded `Delivery`. What happens next:
- it returns → ack (its unit of work has committed: state, outbox, dedup mark);
- it raises `AlreadyProcessed` → ack (a redelivery or duplicate: nothing changes twice);
- it raises `Reject(reason)` → the message goes to `<queue>.dlq` with the reason, then ack;
- it raises anything else (`Retry` included) → the message is re-published to a delay tier
  and comes back after 1 s, 5 s, 30 s, 2 min, 10 min…; past `max_retries` it goes to the DLQ
  with the last error as the reason. The copy is confirmed before the original is acked.
If the process dies mid-handler the broker redelivers (the delivery limit catches a message
that kills its consumer every time).
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection

from shared.bus.publisher import ConfirmedPublisher, PublishFailed
from shared.bus.topology import (
    DEAD_EXCHANGE,
    DELAY_EXCHANGE,
    FAILURE_REASON_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    RETRY_COUNT_HEADER,
    RETRY_QUEUE_HEADER,
    QueueSpec,
    delay_for_attempt,
    delay_queue_name,
)
from shared.clock import utcnow
from shared.contracts.base import Message, decode
from shared.db import AlreadyProcessed
from shared.logging import bind_correlation_id, get_logger
from shared.metrics import CONSUMED, HANDLER_SECONDS

log = get_logger(__name__)


class Retry(Exception):
    """A transient failure: try again later (e.g. a peer service or revocation data away)."""

    def __init__(self, reason: str, *, max_attempts: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.max_attempts = max_attempts


class Reject(Exception):
    """A message no retry can fix (a contract violation): straight to the dead-letter queue."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Delivery:
    message: Message
    message_id: str
    correlation_id: str | None
    queue: str
    attempt: int  # 1 for the first delivery, 2 after the first retry…
    redelivered: bool
    is_last_attempt: bool


Handler = Callable[[Delivery], Awaitable[None]]


class QueueConsumer:
    def __init__(
        self,
        connection: AbstractRobustConnection,
        publisher: ConfirmedPublisher,
        spec: QueueSpec,
        handler: Handler,
        *,
        prefetch: int = 8,
        max_retries: int = 5,
    ) -> None:
        self._connection = connection
        self._publisher = publisher
        self.spec = spec
        self._handler = handler
        self._prefetch = prefetch
        self._max_retries = max_retries
        self._channels = []

    async def start(self) -> None:
        for queue_name, _lane in self.spec.lanes:
            channel = await self._connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            queue = await channel.get_queue(queue_name, ensure=True)
            await queue.consume(self._callback(queue_name))
            self._channels.append(channel)

    async def stop(self) -> None:
        for channel in self._channels:
            if not channel.is_closed:
                await channel.close()
        self._channels.clear()

    def _callback(self, queue_name: str) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(incoming: AbstractIncomingMessage) -> None:
            await self._handle(queue_name, incoming)

        return on_message

    async def _handle(self, queue_name: str, incoming: AbstractIncomingMessage) -> None:
        headers: dict[str, Any] = dict(incoming.headers or {})
        retries_so_far = int(headers.get(RETRY_COUNT_HEADER, 0) or 0)
        bind_correlation_id(incoming.correlation_id)
        try:
            message = decode(incoming.type or "", incoming.body)
        except Exception as exc:  # a contract violation: no retry can fix it
            await self._dead_letter(queue_name, incoming, f"undecodable message: {exc}", retries_so_far)
            return
        delivery = Delivery(
            message=message,
            message_id=incoming.message_id or message.message_id,
            correlation_id=incoming.correlation_id,
            queue=queue_name,
            attempt=retries_so_far + 1,
            redelivered=bool(incoming.redelivered),
            is_last_attempt=retries_so_far >= self._max_retries,
        )
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await self._handler(delivery)
        except AlreadyProcessed:
            CONSUMED.labels(queue=self.spec.name, outcome="duplicate").inc()
            log.info("duplicate message ignored", queue=queue_name, message_id=delivery.message_id)
            await incoming.ack()
        except Reject as exc:
            await self._dead_letter(queue_name, incoming, exc.reason, retries_so_far)
        except Exception as exc:
            reason = exc.reason if isinstance(exc, Retry) else f"{type(exc).__name__}: {exc}"
            limit = exc.max_attempts if isinstance(exc, Retry) and exc.max_attempts else self._max_retries
            if not isinstance(exc, Retry):
                log.error("handler failed", queue=queue_name, error=reason, trace=traceback.format_exc(limit=8))
            if retries_so_far >= limit:
                await self._dead_letter(queue_name, incoming, f"gave up after {retries_so_far + 1} attempts: {reason}", retries_so_far)
            else:
                await self._retry_later(queue_name, incoming, reason, retries_so_far + 1)
        else:
            CONSUMED.labels(queue=self.spec.name, outcome="ok").inc()
            await incoming.ack()
        finally:
            HANDLER_SECONDS.labels(queue=self.spec.name).observe(loop.time() - started)

    async def _republish(self, incoming: AbstractIncomingMessage, *, exchange: str, routing_key: str, headers: dict) -> bool:
        try:
            await self._publisher.publish(
                incoming.body,
                exchange=exchange,
                routing_key=routing_key,
                message_id=incoming.message_id or "",
                message_type=incoming.type or "",
                correlation_id=incoming.correlation_id,
                headers=headers,
            )
            return True
        except PublishFailed as exc:
            # Keep the original: the broker redelivers it, nothing is lost.
            log.error("could not re-publish, message returned to its queue", error=str(exc))
            await incoming.nack(requeue=True)
            return False

    async def _retry_later(self, queue_name: str, incoming: AbstractIncomingMessage, reason: str, retry_count: int) -> None:
        delay = delay_for_attempt(retry_count)
        headers = dict(incoming.headers or {})
        headers.setdefault(ORIGINAL_ROUTING_KEY_HEADER, incoming.routing_key or "")  # a detour renames it
        headers.update({RETRY_QUEUE_HEADER: queue_name, RETRY_COUNT_HEADER: retry_count, "x-last-error": reason[:1000]})
        if await self._republish(incoming, exchange=DELAY_EXCHANGE, routing_key=delay_queue_name(delay), headers=headers):
            CONSUMED.labels(queue=self.spec.name, outcome="retry").inc()
            log.warning("message will be retried", queue=queue_name, retry=retry_count, delay_s=delay, reason=reason)
            await incoming.ack()

    async def _dead_letter(self, queue_name: str, incoming: AbstractIncomingMessage, reason: str, retries: int) -> None:
        headers = dict(incoming.headers or {})
        headers.pop(RETRY_QUEUE_HEADER, None)  # never route a dead letter back by accident
        headers.setdefault(ORIGINAL_ROUTING_KEY_HEADER, incoming.routing_key or "")  # shown to the operator
        headers.update(
            {
                FAILURE_REASON_HEADER: reason[:2000],
                "x-failed-queue": queue_name,
                "x-failed-at": utcnow().isoformat(),
                RETRY_COUNT_HEADER: retries,
            }
        )
        if await self._republish(incoming, exchange=DEAD_EXCHANGE, routing_key=self.spec.dead_letter_queue, headers=headers):
            CONSUMED.labels(queue=self.spec.name, outcome="dead_lettered").inc()
            log.error("message dead-lettered", queue=queue_name, reason=reason)
            await incoming.ack()
