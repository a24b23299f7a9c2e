"""The evidence log's collections: `evidence` (entries, chained by `shared.audit_chain`'s
chainer into `evidence_head`), `evidence_seals` (one per sealed batch, `_id` = its first seq,
so two replicas can never seal overlapping batches: the second insert fails)."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from typing import Any

from gridfs.asynchronous import AsyncGridFSBucket
from gridfs.errors import NoFile
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from shared.audit_chain import UNSEALED
from shared.clock import utcnow
from shared.db import UnitOfWork

EVIDENCE = "evidence"
EVIDENCE_HEAD = "evidence_head"
HEAD_ID = "evidence"
SEALS = "evidence_seals"
BUCKET = "blobs"  # the gateway's BlobStore bucket: raw packages, sent and received


def chain_options() -> dict[str, str]:
    """Where `AuditChainer` / `verify_chain` find this log."""
    return {"collection": EVIDENCE, "head_collection": EVIDENCE_HEAD, "head_id": HEAD_ID}


async def ensure_indexes(db: AsyncDatabase) -> None:
    await db[EVIDENCE].create_index(
        [("seq", 1)], name="chain_seq", unique=True, partialFilterExpression={"seq": {"$exists": True}})
    await db[EVIDENCE].create_index([("seq", 1), ("at", 1), ("_id", 1)], name="chain_unsealed")
    await db[SEALS].create_index([("seq_to", DESCENDING)])


async def insert(uow: UnitOfWork, entry: dict[str, Any]) -> None:
    """Write an entry in the caller's transaction: it exists iff the exchange was recorded.
    The time is cut to milliseconds (what the store keeps) so the hash covers what is stored."""
    at = utcnow()
    stored = {"_id": uuid.uuid4().hex, "at": at.replace(microsecond=at.microsecond // 1000 * 1000), **entry}
    await uow.db[EVIDENCE].insert_one(stored, session=uow.session)


async def last_seal(db: AsyncDatabase) -> dict | None:
    return await db[SEALS].find_one({}, sort=[("seq_to", DESCENDING)])


async def head_seq(db: AsyncDatabase) -> int:
    head = await db[EVIDENCE_HEAD].find_one({"_id": HEAD_ID})
    return int(head["seq"]) if head else 0


async def entry_at(db: AsyncDatabase, seq: int) -> dict | None:
    return await db[EVIDENCE].find_one({"seq": seq})


async def insert_seal(db: AsyncDatabase, seal: dict[str, Any]) -> None:
    await db[SEALS].insert_one(seal)


async def all_seals(db: AsyncDatabase) -> list[dict]:
    return await db[SEALS].find({}, sort=[("seq_from", ASCENDING)]).to_list()


async def facts(db: AsyncDatabase) -> dict[str, Any]:
    """Counts for the operator: entries, how far sealed, how many not yet, the oldest waiting.
    From the chain head and the seals, not a scan: it is read every second."""
    seal = await last_seal(db)
    sealed_up_to = int(seal["seq_to"]) if seal else 0
    chained = await head_seq(db)
    unchained = await db[EVIDENCE].count_documents(UNSEALED)
    candidates = [await oldest_chained_unsealed(db, sealed_up_to)]
    if unchained:
        row = await db[EVIDENCE].find_one(UNSEALED, sort=[("at", ASCENDING)], projection={"at": 1})
        candidates.append(row["at"] if row else None)
    waiting = [at for at in candidates if at is not None]
    return {
        "entries": chained + unchained,
        "sealed_up_to": sealed_up_to,
        "unsealed": chained - sealed_up_to + unchained,
        "oldest_unsealed_at": min(waiting) if waiting else None,
        "last_seal_at": seal["sealed_at"] if seal else None,
    }


async def oldest_chained_unsealed(db: AsyncDatabase, sealed_up_to: int) -> dt.datetime | None:
    row = await db[EVIDENCE].find_one({"seq": {"$gt": sealed_up_to}}, sort=[("seq", ASCENDING)], projection={"at": 1})
    return row["at"] if row else None


async def page(db: AsyncDatabase, *, after_seq: int, limit: int) -> list[dict]:
    return await db[EVIDENCE].find({"seq": {"$gt": after_seq}}, sort=[("seq", ASCENDING)], limit=limit).to_list()


async def unchained(db: AsyncDatabase, limit: int) -> list[dict]:
    return await db[EVIDENCE].find(UNSEALED, sort=[("at", ASCENDING), ("_id", ASCENDING)], limit=limit).to_list()


async def raw_digest(db: AsyncDatabase, sha256: str, bucket: str = BUCKET) -> tuple[str, int] | None:
    """SHA-256 and size of the kept raw bytes, read in chunks; None when they are gone."""
    grid = AsyncGridFSBucket(db, bucket_name=bucket)
    try:
        stream = await grid.open_download_stream_by_name(sha256)
    except NoFile:
        return None
    digest, size = hashlib.sha256(), 0
    while chunk := await stream.readchunk():
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size
