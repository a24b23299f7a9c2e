"""Store access: one MongoDB database per service, reached with PyMongo's async API.

`Store.transaction(work)` runs `work(uow)` in one multi-document transaction, retried on
transient errors (write conflicts under concurrent registrations, elections). The unit of work
collects the state change, the messages to publish (the outbox), the audit entries and the
consumer's de-duplication mark, and writes them all in that one transaction: a state change is
never stored without its messages, nor a message published for a change that was rolled back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, ReturnDocument, monitoring
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from shared.clock import utcnow
from shared.contracts.base import Message
from shared.logging import current_correlation_id, get_logger
from shared.metrics import STORE_TRANSACTION_SECONDS

T = TypeVar("T")

OUTBOX = "outbox"
INBOX = "inbox"
AUDIT = "audit_log"
AUDIT_HEAD = "audit_head"  # the audit hash chain's head (shared/audit_chain.py)
COUNTERS = "counters"

# Where the current action came from ("http:<client address>", "bus:<queue>"), bound by the
# service runtime so that audit entries record it without every caller passing it.
_audit_origin: ContextVar[str | None] = ContextVar("audit_origin", default=None)


def bind_audit_origin(origin: str | None) -> None:
    _audit_origin.set(origin)


log = get_logger(__name__)


def query_shape(value: Any, depth: int = 0) -> Any:
    """A filter with its values replaced by '?' (operators and field names kept): loggable."""
    if depth > 4:
        return "…"
    if isinstance(value, dict):
        return {key: query_shape(item, depth + 1) for key, item in list(value.items())[:12]}
    if isinstance(value, list):
        return [query_shape(item, depth + 1) for item in value[:3]]
    return "?"


_UNTIMED = frozenset({"hello", "isMaster", "ping", "endSessions"})


def _filter_of(command: dict) -> Any:
    """The part of a command that says what it looks for: filter, q, pipeline head or query."""
    if "filter" in command:
        return command["filter"]
    for batch in ("updates", "deletes"):
        if isinstance(command.get(batch), list) and command[batch]:
            return command[batch][0].get("q")
    if isinstance(command.get("pipeline"), list):
        return command["pipeline"][:2]
    return command.get("query")


def _opens_change_stream(command: dict) -> bool:
    pipeline = command.get("pipeline")
    return bool(pipeline) and isinstance(pipeline[0], dict) and "$changeStream" in pipeline[0]


class SlowCommandLog(monitoring.CommandListener):
    """Logs store commands slower than a threshold, with collection and filter shape. A change
    stream's getMore is not timed: it waits for news by design."""

    def __init__(self, threshold_ms: float) -> None:
        self.threshold_ms = threshold_ms
        self._started: dict[tuple, tuple[str, Any]] = {}
        self._streams: set[int] = set()  # cursor ids of open change streams

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command, name = event.command, event.command_name
        if name in _UNTIMED or (name == "getMore" and command.get("getMore") in self._streams):
            return
        if name == "killCursors":
            self._streams.difference_update(command.get("cursors") or [])
        target = command.get(name)
        where = f"{event.database_name}.{target}" if isinstance(target, str) else event.database_name
        self._started[(event.connection_id, event.request_id)] = (where, _filter_of(command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        started = self._finish(event, "ok")
        if started and event.command_name == "aggregate" and _opens_change_stream({"pipeline": started[1]}):
            if cursor_id := ((event.reply or {}).get("cursor") or {}).get("id"):
                self._streams.add(int(cursor_id))

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._finish(event, "failed")

    def _finish(self, event, outcome: str) -> tuple[str, Any] | None:
        started = self._started.pop((event.connection_id, event.request_id), None)
        elapsed_ms = event.duration_micros / 1000
        if started is not None and elapsed_ms >= self.threshold_ms:
            target, query = started
            log.warning("slow store command", command=event.command_name, target=target, ms=round(elapsed_ms, 1),
                        outcome=outcome, shape=str(query_shape(query))[:400] if query is not None else None)
        return started


class AlreadyProcessed(Exception):
    """The message was handled before (a redelivery or a duplicate): nothing to do."""


class Store:
    def __init__(self, url: str, database: str, *, app_name: str = "vanthu", slow_command_ms: float = 0) -> None:
        listeners = [SlowCommandLog(slow_command_ms)] if slow_command_ms > 0 else []
        self.client: AsyncMongoClient = AsyncMongoClient(
            url, tz_aware=True, appname=app_name, serverSelectionTimeoutMS=5000, uuidRepresentation="standard",
            event_listeners=listeners,
        )
        self.db: AsyncDatabase = self.client[database]
        self._after_commit: list[Callable[[], None]] = []

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Called after every committed unit of work (the outbox relay wakes up on it)."""
        self._after_commit.append(callback)

    async def ping(self) -> bool:
        try:
            await self.client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    async def ensure_indexes(self) -> None:
        await self.db[OUTBOX].create_index([("state", 1), ("urgent", -1), ("created_at", 1)])
        await self.db[AUDIT].create_index([("subject_id", 1), ("at", 1)])
        # The hash chain: seq unique among sealed entries; unsealed ones found in order.
        await self.db[AUDIT].create_index(
            [("seq", 1)], name="chain_seq", unique=True, partialFilterExpression={"seq": {"$exists": True}}
        )
        await self.db[AUDIT].create_index([("seq", 1), ("at", 1), ("_id", 1)], name="chain_unsealed")

    async def close(self) -> None:
        await self.client.close()

    async def transaction(self, work: Callable[["UnitOfWork"], Awaitable[T]]) -> T:
        """Run `work` in one transaction; retried as a whole on transient errors."""
        result: list[T] = []

        async def callback(session: AsyncClientSession) -> None:
            uow = UnitOfWork(self.db, session)
            result[:] = [await work(uow)]
            await uow.flush()

        started = time.perf_counter()
        outcome = "aborted"  # an error, or AlreadyProcessed from the work itself
        try:
            async with self.client.start_session() as session:
                await session.with_transaction(
                    callback,
                    read_concern=ReadConcern("snapshot"),
                    write_concern=WriteConcern("majority"),
                )
            outcome = "committed"
        finally:
            STORE_TRANSACTION_SECONDS.labels(outcome=outcome).observe(time.perf_counter() - started)
        for callback_after in self._after_commit:
            callback_after()
        return result[0]


class UnitOfWork:
    """What one transaction changes. Repositories take `uow.db` and `uow.session`."""

    def __init__(self, db: AsyncDatabase, session: AsyncClientSession) -> None:
        self.db = db
        self.session = session
        self._messages: list[Message] = []
        self._audit: list[dict[str, Any]] = []

    def publish(self, message: Message) -> None:
        """Stage a message: it goes into the outbox in this transaction; the relay sends it."""
        self._messages.append(message)

    def audit(
        self,
        action: str,
        *,
        subject_type: str,
        subject_id: str,
        actor: str,
        details: dict[str, Any] | None = None,
        origin: str | None = None,
    ) -> None:
        """Every state change is written to the audit log (R-4.1), in the same transaction:
        who (`actor`), what (`action`, `details`), when (`at`), on what (`subject_*`), from
        where (`origin`, else the one bound for this request or message). Sealed into the hash
        chain after commit by `shared.audit_chain`."""
        # The store keeps milliseconds: entries of one change get distinct, increasing times so
        # their order (by `at`, then a random `_id`) is the order they were written in.
        at = utcnow()
        at = at.replace(microsecond=at.microsecond // 1000 * 1000)
        if self._audit and at <= self._audit[-1]["at"]:
            at = self._audit[-1]["at"] + dt.timedelta(milliseconds=1)
        self._audit.append(
            {
                "_id": uuid.uuid4().hex,
                "at": at,
                "action": action,
                "subject_type": subject_type,
                "subject_id": subject_id,
                "actor": actor,
                "correlation_id": current_correlation_id(),
                "details": details or {},
                "origin": origin if origin is not None else _audit_origin.get(),
            }
        )

    async def claim(self, consumer: str, message_id: str) -> None:
        """Idempotent consumers: mark (consumer, message id) handled in this transaction.
        A second delivery of the same message raises AlreadyProcessed."""
        try:
            await self.db[INBOX].insert_one(
                {"_id": f"{consumer}:{message_id}", "at": utcnow()}, session=self.session
            )
        except DuplicateKeyError as exc:
            raise AlreadyProcessed(message_id) from exc

    async def next_number(self, counter: str) -> int:
        """Next value of a gap-free counter (registers, R-7.2b, NĐ 30 Điều 15, 22): the
        increment commits or rolls back with the record that uses it."""
        doc = await self.db[COUNTERS].find_one_and_update(
            {"_id": counter},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
            session=self.session,
        )
        return int(doc["value"])

    async def flush(self) -> None:
        if self._messages:
            now = utcnow()
            await self.db[OUTBOX].insert_many(
                [
                    {
                        "_id": message.message_id,
                        "state": "pending",
                        "routing_key": message.full_routing_key(),
                        "message_type": message.message_type(),
                        "body": message.model_dump_json(),
                        "correlation_id": message.correlation_id,
                        "urgent": message.urgent,
                        "created_at": now,
                        "attempts": 0,
                    }
                    for message in self._messages
                ],
                session=self.session,
            )
        if self._audit:
            await self.db[AUDIT].insert_many(self._audit, session=self.session)


async def wait_for_store(store: Store, *, attempts: int = 60, delay: float = 0.5) -> None:
    for _ in range(attempts):
        if await store.ping():
            return
        await asyncio.sleep(delay)
    raise RuntimeError("the store did not answer")
