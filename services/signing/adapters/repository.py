"""The signing service's collection `signatures`: one record per request, i.e. every use of
every key (R-8.2, R-8.3a: who asked, which key, on what, when)."""

from __future__ import annotations

import datetime as dt

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from services.signing.domain.custody import Delegation
from shared.db import UnitOfWork

SIGNATURES = "signatures"
DELEGATIONS = "delegations"  # the chairman's written delegations to use a key (R-8.3a)


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[SIGNATURES].create_index([("document_key", 1), ("at", DESCENDING)])
    await db[DELEGATIONS].create_index([("user", 1), ("key_label", 1)])


async def get(db: AsyncDatabase, request_id: str) -> dict | None:
    return await db[SIGNATURES].find_one({"_id": request_id})


async def insert(uow: UnitOfWork, record: dict) -> None:
    await uow.db[SIGNATURES].insert_one(record, session=uow.session)


async def delegations_for(db: AsyncDatabase, user: str, key_label: str) -> list[Delegation]:
    rows = await db[DELEGATIONS].find({"user": user, "key_label": key_label}).to_list()
    return [delegation_of(r) for r in rows]


def delegation_of(row: dict) -> Delegation:
    def aware(value):
        return value if value is None or value.tzinfo else value.replace(tzinfo=dt.timezone.utc)

    return Delegation(delegation_id=row["_id"], user=row["user"], key_label=row["key_label"],
                      valid_from=aware(row["valid_from"]), valid_until=aware(row["valid_until"]), document=row["document"],
                      granted_by=row["granted_by"], revoked_at=aware(row.get("revoked_at")))
