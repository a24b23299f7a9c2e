"""The outbox relay: publishes what units of work committed to the `outbox` collection.

Requests and handlers never publish themselves (a publish can hang while the broker is away,
and a state change without its message would be lost work). The relay reads pending rows,
urgent first, publishes them with confirms within the bounded window, and marks them sent.
If it dies between the confirm and the mark, the row is published again: consumers are
idempotent on `message_id`, so that changes nothing twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from pymongo import ASCENDING, DESCENDING

from shared.bus.publisher import ConfirmedPublisher, PublishFailed
from shared.bus.topology import EVENTS_EXCHANGE
from shared.clock import utcnow
from shared.db import OUTBOX, Store
from shared.logging import get_logger
from shared.metrics import OUTBOX_OLDEST_SECONDS, OUTBOX_PENDING, RELAY_FAILURES

log = get_logger(__name__)

SENT_RETENTION = dt.timedelta(days=7)
LEASE = dt.timedelta(seconds=15)  # longer than a publish's confirm timeout (10 s); what a killed relay delays


def free_rows(now: dt.datetime) -> dict:
    """Pending rows no replica holds a live lease on. One condition on lease_until, not an `$or`
    with `$exists: false`: the embedded store answers that `$or` with a full scan, every batch
    (bench/bench_store_queries.py: 1193x raw at 16k rows, the load run's latency drift)."""
    return {"state": "pending", "lease_until": {"$not": {"$gt": now}}}


class OutboxRelay:
    def __init__(
        self,
        store: Store,
        publisher: ConfirmedPublisher,
        *,
        batch_size: int = 200,
        idle_poll_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._batch_size = batch_size
        self._idle_poll = idle_poll_seconds
        self._max_backoff = max_backoff_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._owner = uuid.uuid4().hex  # this process's relay, for its leases
        store.on_commit(self._wake.set)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        last_cleanup = utcnow()
        while not self._stopping:
            self._wake.clear()
            try:
                published = await self.relay_once()
                failures = 0
            except PublishFailed as exc:
                failures += 1
                RELAY_FAILURES.inc()
                delay = min(self._max_backoff, 0.5 * 2**failures)
                log.warning("outbox relay publish failed", error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                continue
            except Exception:
                failures += 1
                log.exception("outbox relay error")
                await asyncio.sleep(min(self._max_backoff, 0.5 * 2**failures))
                continue
            if utcnow() - last_cleanup > dt.timedelta(hours=1):
                await self._cleanup()
                last_cleanup = utcnow()
            if published < self._batch_size:
                try:
                    await asyncio.wait_for(self._wake.wait(), self._idle_poll)
                except asyncio.TimeoutError:
                    pass

    async def relay_once(self) -> int:
        """Publish one batch of pending messages; returns how many were confirmed."""
        outbox = self._store.db[OUTBOX]
        now = utcnow()
        free = free_rows(now)
        order = [("urgent", DESCENDING), ("created_at", ASCENDING)]
        rows = await outbox.find(free, sort=order, limit=self._batch_size).to_list()
        if rows:
            # Every replica of a service relays the same outbox: each takes its rows with a short
            # lease (per-row compare-and-set), so a message is normally published once, not once
            # per replica; a lapsed lease (a replica died) is taken again — at least once, as before.
            until = now + LEASE
            ids = [row["_id"] for row in rows]
            await outbox.update_many({"_id": {"$in": ids}, **free}, {"$set": {"lease_until": until, "lease_owner": self._owner}})
            rows = await outbox.find({"_id": {"$in": ids}, "lease_owner": self._owner, "lease_until": until}, sort=order).to_list()
        await self._update_gauges(rows)
        if not rows:
            return 0

        async def send(row: dict) -> str:
            body = row["body"]
            # A replayed dead letter (shared/bus/dead_letters.py) names its exchange, headers and
            # the original message id; its body may be bytes.
            await self._publisher.publish(
                body.encode() if isinstance(body, str) else bytes(body),
                routing_key=row["routing_key"],
                message_id=row.get("message_id") or row["_id"],
                message_type=row["message_type"],
                correlation_id=row.get("correlation_id"),
                timestamp=row["created_at"],
                exchange=row.get("exchange") or EVENTS_EXCHANGE,
                headers=row.get("headers"),
            )
            return row["_id"]

        results = await asyncio.gather(*(send(row) for row in rows), return_exceptions=True)
        confirmed = [r for r in results if isinstance(r, str)]
        if confirmed:
            await outbox.update_many(
                {"_id": {"$in": confirmed}}, {"$set": {"state": "sent", "sent_at": utcnow()}, "$unset": {"lease_until": ""}}
            )
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            failed_ids = [row["_id"] for row, r in zip(rows, results) if isinstance(r, BaseException)]
            await outbox.update_many(
                {"_id": {"$in": failed_ids}},
                {"$inc": {"attempts": 1}, "$set": {"last_error": str(failed[0])}, "$unset": {"lease_until": ""}},
            )
            raise PublishFailed(f"{len(failed)} of {len(rows)} not confirmed: {failed[0]}")
        return len(confirmed)

    async def _update_gauges(self, rows: list[dict]) -> None:
        pending = await self._store.db[OUTBOX].count_documents({"state": "pending"}) if rows else 0
        OUTBOX_PENDING.set(pending)
        if rows:
            oldest = min(row["created_at"] for row in rows)
            OUTBOX_OLDEST_SECONDS.set((utcnow() - oldest).total_seconds())
        else:
            OUTBOX_OLDEST_SECONDS.set(0)

    async def _cleanup(self) -> None:
        await self._store.db[OUTBOX].delete_many({"state": "sent", "sent_at": {"$lt": utcnow() - SENT_RETENTION}})
