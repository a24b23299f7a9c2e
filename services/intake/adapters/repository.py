"""Intake's collection `documents`: one record per received edoc package, its verification
report, its place in the incoming register and the statuses sent back."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.domain.documents import DocumentState
from shared.db import UnitOfWork

DOCUMENTS = "documents"
RECALLS = "recall_requests"


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[DOCUMENTS].create_index("package_id", unique=True)
    # Gap-free and unique register numbers: a second registration with the same
    # number is impossible even if the counter were ever wrong.
    await db[DOCUMENTS].create_index(
        [("register.year", ASCENDING), ("register.number", ASCENDING)],
        unique=True,
        partialFilterExpression={"register.number": {"$exists": True}},
    )
    await db[DOCUMENTS].create_index([("state", ASCENDING), ("arrived_at", DESCENDING)])
    await db[DOCUMENTS].create_index("same_document_key")
    await db[DOCUMENTS].create_index("statuses.send_id")


async def get_by_package(db: AsyncDatabase, package_id: str) -> dict | None:
    return await db[DOCUMENTS].find_one({"package_id": package_id})


async def get(db: AsyncDatabase, key: str) -> dict | None:
    return await db[DOCUMENTS].find_one({"_id": key})


async def insert(uow: UnitOfWork, record: dict[str, Any]) -> None:
    await uow.db[DOCUMENTS].insert_one(record, session=uow.session)


async def update_if_state(uow: UnitOfWork, key: str, expected: DocumentState, changes: dict[str, Any], push: dict | None = None) -> bool:
    update: dict[str, Any] = {"$set": changes}
    if push:
        update["$push"] = push
    result = await uow.db[DOCUMENTS].update_one({"_id": key, "state": expected.value}, update, session=uow.session)
    return result.modified_count == 1


async def find_same_document(uow: UnitOfWork, same_key: str, exclude_key: str) -> dict | None:
    return await uow.db[DOCUMENTS].find_one(
        {"same_document_key": same_key, "_id": {"$ne": exclude_key}, "state": DocumentState.REGISTERED.value},
        projection={"_id": 1, "register": 1},
        session=uow.session,
    )
