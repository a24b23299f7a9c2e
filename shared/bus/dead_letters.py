"""Dead letters kept for the operator (R-13): each service moves what lands in its own
`<queue>.dlq` into its store collection `dead_letters`, where it can be read, replayed or
discarded with a reason.

Why move them: reading a quorum queue in place (get, then requeue) raises each message's
delivery count and reorders the queue; a stored copy can be listed and read any number of times.
The move is one transaction (the entry and its audit record), idempotent by failed queue, message
id and replay generation, then the DLQ message is acked — a crash in between stores nothing twice.

A replay re-publishes the original body and headers through the outbox in the transaction that
marks the entry `replayed` (who, when, why), to the retry exchange with the `vanthu-retry-queue`
header naming the failed queue: the retry exchange only routes to work queues bound in the
topology (a replay can never land in another service's or a DLQ), it is the path retries take
already, and its mandatory publish fails loudly if the queue is gone. The retry count starts
again at 0 and the generation (`x-replays`) goes up, so a replay that fails again comes back
as a new entry while the first stays `replayed`.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
from typing import Any

from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from prometheus_client import Gauge
from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from shared.bus.topology import (
    FAILURE_REASON_HEADER,
    ORIGINAL_ROUTING_KEY_HEADER,
    RETRY_COUNT_HEADER,
    RETRY_EXCHANGE,
    RETRY_QUEUE_HEADER,
    TOPOLOGY,
    QueueSpec,
    Topology,
)
from shared.clock import utcnow
from shared.db import OUTBOX, Store, UnitOfWork
from shared.logging import get_logger

log = get_logger(__name__)

COLLECTION = "dead_letters"
OPEN, REPLAYED, DISCARDED = "open", "replayed", "discarded"
STATES = (OPEN, REPLAYED, DISCARDED)
REPLAYS_HEADER = "x-replays"  # how many times this message was replayed from a dead letter
# Headers of the failure itself, dropped on replay (the broker's x-death ones are its own).
FAILURE_HEADERS = (FAILURE_REASON_HEADER, "x-failed-queue", "x-failed-at", "x-last-error", "x-death",
                   "x-first-death-queue", "x-first-death-reason", "x-first-death-exchange",
                   "x-last-death-queue", "x-last-death-reason", "x-last-death-exchange")
GAUGE_REFRESH_SECONDS = 15.0

DEAD_LETTERS_OPEN = Gauge(
    "vanthu_dead_letters_open", "Dead letters kept for the operator, neither replayed nor discarded", ["queue"]
)


class DeadLetterProblem(Exception):
    """A replay or discard that cannot be done (`status`: 404 unknown, 409 not open, 422 input)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---- what a DLQ message becomes (no I/O) ------------------------------------------------------


def plain(value: Any) -> Any:
    """AMQP header values as BSON/JSON-friendly ones (bytes → text, datetimes kept)."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return "base64:" + base64.b64encode(raw).decode()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime | str | int | float | bool) or value is None:
        return value
    return str(value)


def entry_id(failed_queue: str, message_id: str, replays: int) -> str:
    return hashlib.sha256(f"{failed_queue}\n{message_id}\n{replays}".encode()).hexdigest()[:24]


def _first_death(headers: dict) -> dict:
    deaths = headers.get("x-death")
    return deaths[0] if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict) else {}


def _failed_at(headers: dict) -> dt.datetime:
    value = headers.get("x-failed-at")
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
            return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
        except ValueError:
            pass
    moment = _first_death(headers).get("time")
    if isinstance(moment, dt.datetime):
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return utcnow()


def describe(spec: QueueSpec, service: str, *, body: bytes, headers: dict, message_id: str | None,
             message_type: str | None, routing_key: str | None, correlation_id: str | None) -> dict:
    """The stored entry of one dead letter. A consumer's refusal carries `x-failure-reason` and
    `x-failed-queue`; the broker's own dead-lettering (delivery limit) only `x-death`."""
    headers = plain(headers)
    death = _first_death(headers)
    failed_queue = str(headers.get("x-failed-queue") or headers.get("x-first-death-queue") or death.get("queue") or spec.name)
    reason = headers.get(FAILURE_REASON_HEADER)
    if not reason:
        broker_reason = headers.get("x-first-death-reason") or death.get("reason") or "unknown"
        reason = f"broker dead-lettered the message: {broker_reason}"
    keys = death.get("routing-keys") if isinstance(death.get("routing-keys"), list) else []
    original_key = headers.get(ORIGINAL_ROUTING_KEY_HEADER) or (keys[0] if keys else None) or routing_key or ""
    mid = message_id or "sha256:" + hashlib.sha256(body).hexdigest()
    replays = int(headers.get(REPLAYS_HEADER, 0) or 0)
    try:
        text: str | None = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {
        "_id": entry_id(failed_queue, mid, replays),
        "service": service,
        "queue": spec.name,
        "dead_letter_queue": spec.dead_letter_queue,
        "failed_queue": failed_queue,
        "message_id": mid,
        "message_type": message_type or "",
        "routing_key": original_key,
        "correlation_id": correlation_id,
        "reason": str(reason),
        "failed_at": _failed_at(headers),
        "retry_count": int(headers.get(RETRY_COUNT_HEADER, 0) or 0),
        "replays": replays,
        "headers": headers,
        "body": body,
        "body_text": text,
        "state": OPEN,
        "received_at": utcnow(),
        "history": [],
    }


def replay_headers(entry: dict, by: str) -> dict:
    """The original headers without those of the failure; back to retry 0, one more replay."""
    headers = {k: v for k, v in (entry.get("headers") or {}).items() if k not in FAILURE_HEADERS}
    headers.update({RETRY_QUEUE_HEADER: entry["failed_queue"], RETRY_COUNT_HEADER: 0,
                    REPLAYS_HEADER: int(entry.get("replays", 0)) + 1, "x-replayed-by": by})
    return headers


def public(entry: dict, *, with_body: bool = True) -> dict:
    """An entry as the API answers it (JSON): the body as text, or base64 when it is not UTF-8."""
    out = {k: v for k, v in entry.items() if k not in ("_id", "body", "body_text")}
    out["id"] = entry["_id"]
    for key in ("failed_at", "received_at", "replayed_at", "discarded_at"):
        if isinstance(out.get(key), dt.datetime):
            out[key] = out[key].isoformat()
    out["history"] = [{**h, "at": h["at"].isoformat() if isinstance(h.get("at"), dt.datetime) else h.get("at")}
                      for h in entry.get("history", [])]
    out["headers"] = json.loads(json.dumps(entry.get("headers") or {}, default=str))
    if with_body:
        body = bytes(entry.get("body") or b"")
        if entry.get("body_text") is not None:
            out["body"], out["body_encoding"] = entry["body_text"], "utf-8"
        else:
            out["body"], out["body_encoding"] = base64.b64encode(body).decode(), "base64"
        out["body_size"] = len(body)
    return out


# ---- the store side ------------------------------------------------------------------------


async def ensure_indexes(store: Store) -> None:
    await store.db[COLLECTION].create_index([("state", 1), ("failed_at", -1)])


async def keep(store: Store, entry: dict) -> bool:
    """Store one dead letter with its audit record; False when it was kept before."""

    async def work(uow: UnitOfWork) -> bool:
        if await uow.db[COLLECTION].find_one({"_id": entry["_id"]}, {"_id": 1}, session=uow.session):
            return False
        await uow.db[COLLECTION].insert_one(entry, session=uow.session)
        uow.audit("dead_letter.received", subject_type="dead_letter", subject_id=entry["_id"],
                  actor=f"system:{entry['service']}", origin=f"bus:{entry['dead_letter_queue']}",
                  details={"failed_queue": entry["failed_queue"], "message_id": entry["message_id"],
                           "message_type": entry["message_type"], "reason": entry["reason"][:500]})
        return True

    try:
        return await store.transaction(work)
    except DuplicateKeyError:  # a concurrent replica kept the same one first
        return False


async def list_entries(store: Store, state: str | None = None, limit: int = 200) -> list[dict]:
    query = {"state": state} if state else {}
    rows = await store.db[COLLECTION].find(query, sort=[("failed_at", DESCENDING)], limit=limit).to_list()
    return [public(r, with_body=False) for r in rows]


async def get_entry(store: Store, dead_letter_id: str) -> dict:
    found = await store.db[COLLECTION].find_one({"_id": dead_letter_id})
    if found is None:
        raise DeadLetterProblem(404, f"no dead letter {dead_letter_id}")
    return public(found)


async def _change(store: Store, dead_letter_id: str, state: str, by: str, reason: str,
                  stage=None) -> dict:
    reason = (reason or "").strip()
    if not reason:
        raise DeadLetterProblem(422, "a reason is required")

    async def work(uow: UnitOfWork) -> dict:
        found = await uow.db[COLLECTION].find_one({"_id": dead_letter_id}, session=uow.session)
        if found is None:
            raise DeadLetterProblem(404, f"no dead letter {dead_letter_id}")
        if found["state"] != OPEN:
            raise DeadLetterProblem(409, f"dead letter {dead_letter_id} is {found['state']}, not open")
        now = utcnow()
        extra = await stage(uow, found, now) if stage else {}
        verb = "replayed" if state == REPLAYED else "discarded"
        changes = {"state": state, f"{verb}_at": now, f"{verb}_by": by, f"{verb}_reason": reason, **extra}
        event = {"at": now, "action": verb, "by": by, "reason": reason, **extra}
        await uow.db[COLLECTION].update_one({"_id": dead_letter_id}, {"$set": changes, "$push": {"history": event}},
                                            session=uow.session)
        uow.audit(f"dead_letter.{verb}", subject_type="dead_letter", subject_id=dead_letter_id, actor=by,
                  details={"reason": reason, "failed_queue": found["failed_queue"], "message_id": found["message_id"],
                           "from_state": OPEN, **extra})
        found.update(changes)
        found["history"] = [*found.get("history", []), event]
        return public(found)

    return await store.transaction(work)


async def replay(store: Store, dead_letter_id: str, *, by: str, reason: str, topology: Topology = TOPOLOGY) -> dict:
    """Mark it replayed and stage the original message in the outbox, in one transaction."""

    async def stage(uow: UnitOfWork, found: dict, now: dt.datetime) -> dict:
        queues = {name for spec in topology.queues for name, _lane in spec.lanes}
        if found["failed_queue"] not in queues:
            raise DeadLetterProblem(409, f"queue {found['failed_queue']} is not in the topology: cannot replay")
        outbox_id = f"replay:{found['_id']}"
        body = found["body_text"] if found.get("body_text") is not None else bytes(found["body"])
        await uow.db[OUTBOX].insert_one({
            "_id": outbox_id,
            "message_id": found["message_id"],  # the consumer's de-duplication sees the original id
            "state": "pending",
            "exchange": RETRY_EXCHANGE,
            "routing_key": "",
            "headers": replay_headers(found, by),
            "message_type": found.get("message_type") or "",
            "body": body,
            "correlation_id": found.get("correlation_id"),
            "urgent": found["failed_queue"].endswith(".urgent"),
            "created_at": now,
            "attempts": 0,
        }, session=uow.session)
        return {"outbox_id": outbox_id}

    return await _change(store, dead_letter_id, REPLAYED, by, reason, stage)


async def discard(store: Store, dead_letter_id: str, *, by: str, reason: str) -> dict:
    return await _change(store, dead_letter_id, DISCARDED, by, reason)


async def open_counts(store: Store) -> dict[str, int]:
    rows = await store.db[COLLECTION].aggregate(
        [{"$match": {"state": OPEN}}, {"$group": {"_id": "$queue", "n": {"$sum": 1}}}]
    )
    return {row["_id"]: int(row["n"]) async for row in rows}


# ---- the consumer of the service's own DLQs -------------------------------------------------


class DeadLetterKeeper:
    """Consumes the DLQs of one service's queues into `dead_letters`; refreshes the gauge."""

    def __init__(self, connection: AbstractRobustConnection, store: Store, service: str,
                 topology: Topology = TOPOLOGY, *, prefetch: int = 16) -> None:
        self._connection = connection
        self._store = store
        self._service = service
        self.specs = topology.for_service(service)
        self._prefetch = prefetch
        self._channels: list = []

    async def start(self) -> None:
        for spec in self.specs:
            channel = await self._connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            queue = await channel.get_queue(spec.dead_letter_queue, ensure=True)
            await queue.consume(self._callback(spec))
            self._channels.append(channel)

    async def stop(self) -> None:
        for channel in self._channels:
            if not channel.is_closed:
                await channel.close()
        self._channels.clear()

    def _callback(self, spec: QueueSpec):
        async def on_message(incoming: AbstractIncomingMessage) -> None:
            entry = describe(spec, self._service, body=incoming.body, headers=dict(incoming.headers or {}),
                             message_id=incoming.message_id, message_type=incoming.type,
                             routing_key=incoming.routing_key, correlation_id=incoming.correlation_id)
            delay = 0.5
            while True:  # the store away: hold the message (unacked) and try again; nothing is lost
                try:
                    new = await keep(self._store, entry)
                    break
                except Exception as exc:
                    log.warning("could not keep a dead letter, retrying", queue=spec.dead_letter_queue,
                                error=str(exc), retry_in=delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 15)
            if new:
                log.warning("dead letter kept for the operator", queue=entry["failed_queue"], id=entry["_id"],
                            message_id=entry["message_id"], reason=entry["reason"][:300])
            await incoming.ack()

        return on_message


async def refresh_gauge_forever(store: Store, service: str, topology: Topology = TOPOLOGY,
                                interval: float = GAUGE_REFRESH_SECONDS) -> None:
    """vanthu_dead_letters_open{queue} from the collection (it works while the broker is away)."""
    specs = topology.for_service(service)
    while True:
        try:
            counts = await open_counts(store)
        except Exception as exc:
            log.warning("could not count dead letters", error=str(exc))
        else:
            for spec in specs:
                DEAD_LETTERS_OPEN.labels(queue=spec.name).set(counts.get(spec.name, 0))
        await asyncio.sleep(interval)
