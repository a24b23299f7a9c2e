"""The gateway's own collections: `packages` (everything received, raw copy in GridFS) and
`sends` (everything to send, with its transport state and history)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.gateway.domain.transport import DUE_STATES, SendState, check_transition
from shared.clock import utcnow
from shared.db import UnitOfWork

PACKAGES = "packages"
SENDS = "sends"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[PACKAGES].create_index("dedup_key", unique=True)
    await db[PACKAGES].create_index("axis_doc_id", unique=True)
    await db[PACKAGES].create_index([("received_at", DESCENDING)])
    await db[SENDS].create_index([("state", ASCENDING), ("urgent", DESCENDING), ("next_attempt_at", ASCENDING)])


async def find_package_by_axis_id(db: AsyncDatabase, axis_doc_id: str) -> dict | None:
    return await db[PACKAGES].find_one({"axis_doc_id": axis_doc_id})


async def find_package_by_dedup_key(db: AsyncDatabase, dedup_key: str) -> dict | None:
    return await db[PACKAGES].find_one({"dedup_key": dedup_key})


async def insert_package(uow: UnitOfWork, package: dict[str, Any]) -> None:
    await uow.db[PACKAGES].insert_one(package, session=uow.session)


async def note_duplicate(db: AsyncDatabase, package_id: str, axis_doc_id: str, *, session=None, once: bool = False) -> bool:
    """Count another axis item carrying a package already taken; `once`: not when that axis
    item was counted before (offered again after a lost acknowledgement). True if counted."""
    query = {"_id": package_id, **({"duplicate_axis_doc_ids": {"$ne": axis_doc_id}} if once else {})}
    result = await db[PACKAGES].update_one(
        query,
        {"$inc": {"duplicates": 1}, "$push": {"duplicate_axis_doc_ids": axis_doc_id}, "$set": {"last_duplicate_at": utcnow()}},
        session=session,
    )
    return result.matched_count == 1


async def insert_send(uow: UnitOfWork, send: dict[str, Any]) -> None:
    await uow.db[SENDS].insert_one(send, session=uow.session)


async def due_sends(db: AsyncDatabase, now: dt.datetime, limit: int) -> list[dict]:
    return await db[SENDS].find(
        {"state": {"$in": [s.value for s in DUE_STATES]}, "next_attempt_at": {"$lte": now}},
        sort=[("urgent", DESCENDING), ("created_at", ASCENDING)],
        limit=limit,
    ).to_list()


async def has_earlier_unfinished(db: AsyncDatabase, send: dict) -> bool:
    """Packages about one document go to one recipient in the order they were requested
    (01 before 03), so a later one waits while an earlier one is still on its way."""
    if not send.get("document_id"):
        return False
    same = {"document_id": send["document_id"], "recipients": send["recipients"]}
    sequence = send.get("sequence")
    earlier_query = {**same, "sequence": {"$lt": sequence}} if sequence is not None else {
        **same, "created_at": {"$lt": send["created_at"]}}
    unfinished = [SendState.READY.value, SendState.SENDING.value, SendState.WAITING_FOR_RETRY.value]
    if await db[SENDS].find_one({**earlier_query, "state": {"$in": unfinished}}, projection={"_id": 1}) is not None:
        return True
    # Requests can reach the gateway out of order (concurrent consumers): n waits until 0…n-1 are here.
    return sequence is not None and len(await db[SENDS].distinct("sequence", earlier_query)) < sequence


async def transition_send(uow: UnitOfWork, send: dict, new_state: SendState, **fields: Any) -> dict:
    """Move a send to a new state if nobody moved it meanwhile; returns the updated record."""
    current = SendState(send["state"])
    check_transition(current, new_state)
    now = utcnow()
    history_entry = {"state": new_state.value, "at": now, **{k: v for k, v in fields.items() if k in ("error", "axis_doc_id")}}
    updated = await uow.db[SENDS].find_one_and_update(
        {"_id": send["_id"], "state": current.value},
        {"$set": {"state": new_state.value, "updated_at": now, **fields}, "$push": {"history": history_entry}},
        session=uow.session,
        return_document=True,
    )
    if updated is None:
        raise StaleSend(send["_id"])
    return updated


class StaleSend(Exception):
    """Another worker moved this send first."""


async def stuck_sending(db: AsyncDatabase, older_than: dt.datetime) -> list[dict]:
    return await db[SENDS].find({"state": SendState.SENDING.value, "updated_at": {"$lt": older_than}}).to_list()
