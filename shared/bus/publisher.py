"""Confirmed publishing with a bounded in-flight window.

Every publish is persistent, mandatory (an unroutable message is an error, not a silent drop)
and waits for the broker's confirm; at most `window` publishes are in flight at once, and each
has a timeout because a publish can hang while the broker is away.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractRobustConnection

from shared.bus.topology import EVENTS_EXCHANGE, declare_exchanges
from shared.metrics import PUBLISH_SECONDS, PUBLISHED


class PublishFailed(Exception):
    pass


class ConfirmedPublisher:
    def __init__(self, connection: AbstractRobustConnection, *, window: int = 256, timeout: float = 10.0) -> None:
        self._connection = connection
        self._window = asyncio.Semaphore(window)
        self._timeout = timeout
        self._channel: AbstractChannel | None = None
        self._exchanges: dict[str, AbstractExchange] = {}
        self._lock = asyncio.Lock()

    async def _exchange(self, name: str) -> AbstractExchange:
        async with self._lock:
            if self._channel is None or self._channel.is_closed:
                self._channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
                self._exchanges = await declare_exchanges(self._channel)
            return self._exchanges[name]

    async def publish(
        self,
        body: bytes,
        *,
        routing_key: str,
        message_id: str,
        message_type: str,
        correlation_id: str | None = None,
        headers: dict[str, Any] | None = None,
        exchange: str = EVENTS_EXCHANGE,
        timestamp: dt.datetime | None = None,
    ) -> None:
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=message_id,
            correlation_id=correlation_id,
            type=message_type,
            headers=headers or {},
            timestamp=timestamp,
            app_id="vanthu",
        )
        async with self._window:
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                target = await asyncio.wait_for(self._exchange(exchange), self._timeout)
                await asyncio.wait_for(
                    target.publish(message, routing_key=routing_key, mandatory=True), self._timeout
                )
            except (asyncio.TimeoutError, aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
                PUBLISHED.labels(exchange=exchange, message_type=message_type, outcome="failed").inc()
                # A channel left in an unknown state is replaced on the next publish.
                self._channel = None
                raise PublishFailed(f"{type(exc).__name__}: {exc}") from exc
            PUBLISHED.labels(exchange=exchange, message_type=message_type, outcome="confirmed").inc()
            PUBLISH_SECONDS.observe(loop.time() - started)
