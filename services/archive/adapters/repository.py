"""The archive's collections. Files themselves are in the GridFS bucket `files`.

records       one per kept document (incoming, outgoing, related material)
record_texts  the text of a record's PDF, for search (kept apart: records stay small)
catalogue     entries of the yearly dossier catalogue (R-10.1)
dossiers      dossiers by their code (R-10.4)
tombstones    what was destroyed, when, who proposed, who approved — kept forever (R-11.1)
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from shared.db import UnitOfWork

RECORDS = "records"
RECORD_TEXTS = "record_texts"
CATALOGUE = "catalogue"
DOSSIERS = "dossiers"
TOMBSTONES = "tombstones"


class ConcurrentChange(Exception):
    """Someone else changed the dossier since it was read."""


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[RECORDS].create_index([("source", ASCENDING), ("register.year", ASCENDING), ("register.number", ASCENDING)])
    await db[RECORDS].create_index([("stored_at", DESCENDING)])
    await db[RECORDS].create_index("files.sha256")
    await db[RECORDS].create_index("dossiers")
    await db[CATALOGUE].create_index([("year", ASCENDING), ("state", ASCENDING)])
    await db[DOSSIERS].create_index([("year", ASCENDING), ("state", ASCENDING)])
    await db[DOSSIERS].create_index([("state", ASCENDING), ("bin_until", ASCENDING)])
    await db[DOSSIERS].create_index("creator")
    await db[DOSSIERS].create_index("items.record_id")


async def get(db: AsyncDatabase, rid: str) -> dict | None:
    return await db[RECORDS].find_one({"_id": rid})


async def insert(uow: UnitOfWork, record: dict) -> None:
    await uow.db[RECORDS].insert_one(record, session=uow.session)


async def get_dossier(db: AsyncDatabase, code: str) -> dict | None:
    return await db[DOSSIERS].find_one({"_id": code})


async def replace_dossier(uow: UnitOfWork, dossier: dict) -> dict:
    """Optimistic concurrency: the write succeeds only if nobody changed the dossier since it
    was read (its `version`)."""
    new = {**dossier, "version": dossier["version"] + 1}
    result = await uow.db[DOSSIERS].find_one_and_replace(
        {"_id": dossier["_id"], "version": dossier["version"]}, new, session=uow.session,
        return_document=ReturnDocument.AFTER)
    if result is None:
        raise ConcurrentChange(dossier["_id"])
    return result
