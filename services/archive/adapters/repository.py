"""The archive's collection `records` (files themselves are in the GridFS bucket `files`)."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.db import UnitOfWork

RECORDS = "records"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[RECORDS].create_index([("source", ASCENDING), ("register.year", ASCENDING), ("register.number", ASCENDING)])
    await db[RECORDS].create_index([("stored_at", DESCENDING)])
    await db[RECORDS].create_index("files.sha256")


async def get(db: AsyncDatabase, rid: str) -> dict | None:
    return await db[RECORDS].find_one({"_id": rid})


async def insert(uow: UnitOfWork, record: dict) -> None:
    await uow.db[RECORDS].insert_one(record, session=uow.session)
