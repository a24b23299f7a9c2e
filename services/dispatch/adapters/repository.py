"""Dispatch's collection `outgoing`: each document, its signatures, number, and one delivery
record per recipient organisation."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.db import UnitOfWork

OUTGOING = "outgoing"


async def ensure_indexes(db: AsyncDatabase) -> None:
    # Numbers never repeat within a year (R-7.2b), guarded by the store as well as the counter.
    await db[OUTGOING].create_index(
        [("register.year", ASCENDING), ("register.number", ASCENDING)],
        unique=True,
        partialFilterExpression={"register.number": {"$exists": True}},
    )
    await db[OUTGOING].create_index("document_id")
    await db[OUTGOING].create_index("deliveries.send_id")
    await db[OUTGOING].create_index([("state", ASCENDING), ("created_at", DESCENDING)])


async def get(db: AsyncDatabase, key: str) -> dict | None:
    return await db[OUTGOING].find_one({"_id": key})


async def insert(uow: UnitOfWork, record: dict[str, Any]) -> None:
    await uow.db[OUTGOING].insert_one(record, session=uow.session)


async def update_if_state(uow: UnitOfWork, key: str, expected: str, changes: dict[str, Any], push: dict | None = None) -> bool:
    update: dict[str, Any] = {"$set": changes}
    if push:
        update["$push"] = push
    result = await uow.db[OUTGOING].update_one({"_id": key, "state": expected}, update, session=uow.session)
    return result.modified_count == 1


async def by_document_id(uow: UnitOfWork, document_id: str) -> dict | None:
    return await uow.db[OUTGOING].find_one({"document_id": document_id}, session=uow.session)


async def by_send_id(uow: UnitOfWork, send_id: str) -> dict | None:
    return await uow.db[OUTGOING].find_one({"deliveries.send_id": send_id}, session=uow.session)
