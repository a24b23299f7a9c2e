"""The audit log as a hash chain (R-4.1, R-9.1): sealed after commit, verifiable at any time.

Business transactions insert audit entries unsealed (no `seq`), so the hot path never touches a
shared document. A chainer (one per service process, any number of replicas) then seals them:
in one transaction it reads the chain head `{_id: "audit", seq, hash}` in `audit_head`, takes
up to `batch_size` unsealed entries in a stable order (`at`, then `_id`), gives each the next
`seq`, `prev_hash` (the hash of entry seq-1, `GENESIS` for seq 1) and `hash`, and moves the head
with a compare-and-set on its `seq`. Two chainers racing conflict on the head; the loser's
transaction is retried and sees the winner's head, so no seq is given twice or skipped.

`hash` = SHA-256 (hex) of the canonical serialisation of the stored entry without `hash`:
JSON with sorted keys, no whitespace, UTF-8; datetimes as `{"$date": ISO 8601 UTC with
microseconds}`, other non-JSON BSON values tagged likewise (`canonical_bytes`). `verify_chain`
recomputes every hash and link in `seq` order and names the first broken link.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bson import Decimal128, ObjectId
from pymongo import ASCENDING, UpdateOne
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from shared.db import AUDIT, AUDIT_HEAD, Store
from shared.logging import get_logger

log = get_logger(__name__)

GENESIS = "0" * 64
HEAD_ID = "audit"
# `seq: None` (missing or null; seq is never stored as null) rather than `$exists: false`: the
# embedded store scans the whole collection for `$exists: false` but uses the index for null,
# and the chainer asks after every commit (bench/bench_store_queries.py: 207x raw at 16k rows).
UNSEALED = {"seq": None}
SEALED = {"seq": {"$gt": 0}}  # implies $exists, so the partial unique index on seq serves it


class ChainBroken(Exception):
    """The chain head or an entry is not what sealing expects (another chainer won, or the
    stored chain was altered); the sealing transaction is abandoned."""


# --- canonical form -------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # the store hands back naive UTC unless tz_aware is set
            value = value.replace(tzinfo=dt.timezone.utc)
        return {"$date": value.astimezone(dt.timezone.utc).isoformat(timespec="microseconds")}
    if isinstance(value, dt.date):
        return {"$dateOnly": value.isoformat()}
    if isinstance(value, (bytes, bytearray)):
        return {"$binary": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, ObjectId):
        return {"$oid": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, Decimal128):
        return {"$decimal": str(value)}
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    # Any other BSON type (Regex, Timestamp, …): tagged by type, so sealing never gets stuck.
    return {f"${type(value).__name__}": str(value)}


def canonical_bytes(entry: dict[str, Any]) -> bytes:
    """The bytes hashed for an entry: every field but `hash` (seq and prev_hash included)."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_encode
    ).encode("utf-8")


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(entry)).hexdigest()


# --- sealing --------------------------------------------------------------------------------


class AuditChainer:
    """Seals a service database's unsealed audit entries; safe with several running at once."""

    def __init__(
        self,
        store: Store,
        *,
        batch_size: int = 500,
        interval_seconds: float = 1.0,
        max_backoff_seconds: float = 30.0,
        collection: str = AUDIT,
        head_collection: str = AUDIT_HEAD,
        head_id: str = HEAD_ID,
    ) -> None:
        # The collections are parameters so another append-only log (the gateway's evidence
        # log) is chained by this same code.
        self._store = store
        self._db: AsyncDatabase = store.db
        self._collection, self._head_collection, self._head_id = collection, head_collection, head_id
        self._batch_size = batch_size
        self._interval = interval_seconds
        self._max_backoff = max_backoff_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._head_ready = False
        store.on_commit(self._wake.set)  # seal right after a business commit, not a second later

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def _ensure_head(self) -> None:
        if self._head_ready:
            return
        try:
            await self._db[self._head_collection].update_one(
                {"_id": self._head_id}, {"$setOnInsert": {"seq": 0, "hash": GENESIS}}, upsert=True
            )
        except DuplicateKeyError:
            pass  # another replica created it at the same moment
        self._head_ready = True

    async def seal_once(self) -> int:
        """Seal at most one batch; returns how many entries were sealed (0: none waiting or
        another chainer sealed them first)."""
        sealed = 0

        async def work(session: AsyncClientSession) -> None:
            nonlocal sealed
            sealed = 0
            sealed = await self._seal_batch(session)

        for _ in range(5):
            await self._ensure_head()
            try:
                async with self._store.client.start_session() as session:
                    await session.with_transaction(
                        work, read_concern=ReadConcern("snapshot"), write_concern=WriteConcern("majority")
                    )
                return sealed
            except ChainBroken as exc:  # lost a race the store did not report as a conflict
                log.info("audit sealing retried", reason=str(exc))
                await asyncio.sleep(0.05)
        return 0

    async def seal_all(self) -> int:
        """Seal until nothing is left (tests, tools)."""
        total = 0
        while (count := await self.seal_once()) > 0:
            total += count
        return total

    async def _seal_batch(self, session: AsyncClientSession) -> int:
        head = await self._db[self._head_collection].find_one({"_id": self._head_id}, session=session)
        if head is None:
            self._head_ready = False
            raise ChainBroken("chain head missing")
        cursor = (
            self._db[self._collection]
            .find(UNSEALED, session=session)
            .sort([("at", ASCENDING), ("_id", ASCENDING)])
            .limit(self._batch_size)
        )
        entries = await cursor.to_list(self._batch_size)
        if not entries:
            return 0
        seq, prev_hash = int(head["seq"]), head["hash"]
        head_seq = seq
        updates = []
        for entry in entries:
            seq += 1
            entry["seq"], entry["prev_hash"] = seq, prev_hash
            prev_hash = entry_hash(entry)
            updates.append(
                UpdateOne(
                    {"_id": entry["_id"], **UNSEALED},
                    {"$set": {"seq": seq, "prev_hash": entry["prev_hash"], "hash": prev_hash}},
                )
            )
        # Compare-and-set: only the chainer that read this head may move it.
        moved = await self._db[self._head_collection].update_one(
            {"_id": self._head_id, "seq": head_seq}, {"$set": {"seq": seq, "hash": prev_hash}}, session=session
        )
        if moved.matched_count != 1:
            raise ChainBroken(f"chain head moved from seq {head_seq}")
        result = await self._db[self._collection].bulk_write(updates, ordered=True, session=session)
        if result.matched_count != len(updates):
            raise ChainBroken("an entry was sealed by another chainer")
        return len(updates)

    async def run(self) -> None:
        """Background loop: seal after every commit and at least every `interval_seconds`;
        errors are logged and retried with back-off, never raised."""
        failures = 0
        while not self._stopping:
            self._wake.clear()
            try:
                count = await self.seal_once()
                failures = 0
            except Exception:
                failures += 1
                log.exception("audit chain sealing failed")
                await asyncio.sleep(min(self._max_backoff, 0.5 * 2**failures))
                continue
            if count >= self._batch_size:
                continue  # more waiting
            try:
                await asyncio.wait_for(self._wake.wait(), self._interval)
            except asyncio.TimeoutError:
                pass


# --- verification ---------------------------------------------------------------------------


@dataclass
class ChainReport:
    sealed: int = 0
    unsealed: int = 0
    head_seq: int | None = None
    broken_seq: int | None = None
    broken_entry_id: str | None = None
    problem: str | None = None  # hash_mismatch, link_broken, gap, duplicate, head_mismatch, head_missing
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def status(self) -> str:
        if self.ok:
            return "ok"
        where = f"seq {self.broken_seq}" if self.broken_seq is not None else "the head"
        entry = f" (entry id {self.broken_entry_id})" if self.broken_entry_id else ""
        return f"BROKEN at {where}{entry}: {self.reason}"


async def verify_chain(
    db: AsyncDatabase, *, batch_size: int = 1000, collection: str = AUDIT, head_collection: str = AUDIT_HEAD,
    head_id: str = HEAD_ID, on_entry: Callable[[dict[str, Any]], None] | None = None,
) -> ChainReport:
    """Recompute every hash and link in seq order (streamed); report the first broken link.
    `on_entry` sees every sealed entry in seq order (the evidence log checks its raw bytes)."""
    report = ChainReport()

    def broken(problem: str, seq: int | None, entry_id: Any, reason: str) -> None:
        if report.ok:
            report.problem, report.broken_seq, report.reason = problem, seq, reason
            report.broken_entry_id = None if entry_id is None else str(entry_id)

    expected, prev_hash = 1, GENESIS
    cursor = db[collection].find(SEALED).sort("seq", ASCENDING).batch_size(batch_size)
    async for entry in cursor:
        report.sealed += 1
        if on_entry is not None:
            on_entry(entry)
        if not report.ok:
            continue  # keep counting; the first break is what matters
        seq = entry.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool):
            broken("gap", expected, entry["_id"], f"entry has a non-integer seq {seq!r}")
            continue
        if seq < expected:
            broken("duplicate", seq, entry["_id"], f"seq {seq} appears more than once")
            continue
        if seq > expected:
            missing = f"seq {expected}" if seq == expected + 1 else f"seq {expected}..{seq - 1}"
            broken("gap", expected, None, f"{missing} missing (entry deleted or its seq altered); next is {entry['_id']}")
            continue
        if entry.get("prev_hash") != prev_hash:
            broken(
                "link_broken", seq, entry["_id"],
                "link broken: prev_hash does not match the hash of the previous entry"
                + (" (genesis)" if seq == 1 else f" (seq {seq - 1})"),
            )
            continue
        if entry_hash(entry) != entry.get("hash"):
            broken("hash_mismatch", seq, entry["_id"], "content changed: hash mismatch")
            continue
        prev_hash = entry["hash"]
        expected += 1
    report.unsealed = await db[collection].count_documents(UNSEALED)

    head = await db[head_collection].find_one({"_id": head_id})
    last_seq = expected - 1
    if head is None:
        if report.sealed:
            broken("head_missing", None, None, "chain head document missing")
        return report
    report.head_seq = int(head.get("seq", 0))
    if report.ok:
        # The tail: deleting the newest entries leaves no gap, but the head remembers them.
        if report.head_seq > last_seq:
            missing = f"seq {last_seq + 1}" if report.head_seq == last_seq + 1 else f"seq {last_seq + 1}..{report.head_seq}"
            broken("gap", last_seq + 1, None, f"{missing} missing (entries deleted); the head is at seq {report.head_seq}")
        elif report.head_seq < last_seq or head.get("hash") != prev_hash:
            broken("head_mismatch", None, None, f"chain head (seq {report.head_seq}) does not match the last entry (seq {last_seq})")
    return report


async def entries_about(db, subject_type: str, subject_id: str, *, limit: int = 500) -> list[dict]:
    """The audit entries about one thing (R-4.1), oldest first, at most 2000: what a document's
    page shows."""
    return await db[AUDIT].find({"subject_type": subject_type, "subject_id": subject_id},
                                sort=[("at", 1), ("_id", 1)], limit=min(max(limit, 1), 2000)).to_list()
