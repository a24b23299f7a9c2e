"""The signing service's collection `signatures`: one record per request, i.e. every use of
every key (R-8.2, R-8.3a: who asked, which key, on what, when)."""

from __future__ import annotations

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.db import UnitOfWork

SIGNATURES = "signatures"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[SIGNATURES].create_index([("document_key", 1), ("at", DESCENDING)])


async def get(db: AsyncDatabase, request_id: str) -> dict | None:
    return await db[SIGNATURES].find_one({"_id": request_id})


async def insert(uow: UnitOfWork, record: dict) -> None:
    await uow.db[SIGNATURES].insert_one(record, session=uow.session)
