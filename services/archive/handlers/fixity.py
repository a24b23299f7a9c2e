"""Scheduled fixity checks (R-4.1, R-9.1, R-11.1): every file every record references is re-read
from GridFS chunk by chunk, re-hashed and compared with the SHA-256 the record kept; a changed,
missing or unreadable file raises an alert (collection `alerts`) and an audit entry, and the
alert stays open until a later run finds the file good again.

Streaming: one GridFS chunk (255 KiB) in memory at a time; records come from a cursor.
The raw chunks are read, not `BlobStore.get`, so a file is hashed without being loaded whole
and a broken chunk sequence is seen as such.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Callable

from prometheus_client import Counter, Gauge
from pymongo import DESCENDING
from pymongo.errors import DuplicateKeyError

from services.archive.adapters import repository as repo
from services.archive.domain import fixity
from services.archive.domain.fixity import FileCheck, RunTally
from shared.clock import utcnow
from shared.logging import get_logger
from shared.service import ServiceContext

log = get_logger(__name__)
ACTOR = "system:archive"
BUCKET = "files"
RUNS = "fixity_runs"
ALERTS = "alerts"
SCHEDULE_CLAIMS = "schedule_claims"  # one replica per scheduled pass (fixity, preservation)

LAST_RUN = Gauge("vanthu_fixity_last_run_timestamp", "Unix time the last fixity run finished")
FAILURES = Gauge("vanthu_fixity_failures", "Files that failed the last fixity run", ["outcome"])
FILES_CHECKED = Counter("vanthu_fixity_files_checked_total", "Files re-read by fixity runs", ["outcome"])
RUN_SECONDS = Gauge("vanthu_fixity_last_run_seconds", "Duration of the last fixity run")


class FixityRunning(Exception):
    """A run is already under way in this process."""


def _lock(ctx: ServiceContext) -> asyncio.Lock:
    return ctx.extras.setdefault("fixity_lock", asyncio.Lock())


async def ensure_indexes(ctx: ServiceContext) -> None:
    db = ctx.store.db
    await db[RUNS].create_index([("started_at", DESCENDING)])
    await db[ALERTS].create_index([("kind", 1), ("key", 1), ("open", 1)])
    await db[ALERTS].create_index([("open", 1), ("last_seen", DESCENDING)])


async def _read_stored(db, sha256: str) -> tuple[bool, str | None, int | None, str]:
    """(stored, actual SHA-256, bytes read, problem) over every GridFS copy of this content; the
    worst copy counts (BlobStore.get may serve any of them)."""
    copies = await db[f"{BUCKET}.files"].find({"filename": sha256}, projection={"_id": 1, "length": 1}).to_list()
    if not copies:
        return False, None, None, ""
    result: tuple[str | None, int | None] = (None, None)
    for copy in copies:
        digest = hashlib.sha256()
        size = 0
        expected_n = 0
        try:
            async for chunk in db[f"{BUCKET}.chunks"].find({"files_id": copy["_id"]}, sort=[("n", 1)]):
                if chunk["n"] != expected_n:  # a lost chunk: the content is not what was stored
                    digest.update(b"\x00gap")
                expected_n = chunk["n"] + 1
                data = bytes(chunk["data"])
                digest.update(data)
                size += len(data)
        except Exception as exc:  # noqa: BLE001 - any read error is reported, never raised
            return True, None, size, f"read failed: {type(exc).__name__}: {exc}"
        result = (digest.hexdigest(), size)
        if result[0] != sha256:  # one bad copy is enough: it may be the one served
            break
    return True, result[0], result[1], ""


async def raise_alert(ctx: ServiceContext, *, kind: str, key: str, severity: str, message: str, details: dict,
                      subject: dict, run_id: str, audit_action: str, subject_type: str, subject_id: str) -> None:
    """Open an alert, or refresh the open one with the same key (first_seen stays), with its audit entry."""
    now = utcnow()

    async def work(uow):
        alerts = uow.db[ALERTS]
        current = await alerts.find_one({"kind": kind, "key": key, "open": True}, session=uow.session)
        if current is None:
            await alerts.insert_one({"_id": uuid.uuid4().hex, "kind": kind, "key": key, "severity": severity,
                                     "message": message, "details": details, "subject": subject, "open": True,
                                     "first_seen": now, "last_seen": now, "first_run": run_id, "last_run": run_id,
                                     "occurrences": 1}, session=uow.session)
        else:
            await alerts.update_one({"_id": current["_id"]}, {
                "$set": {"last_seen": now, "last_run": run_id, "details": details, "severity": severity,
                         "message": message}, "$inc": {"occurrences": 1}}, session=uow.session)
        uow.audit(audit_action, subject_type=subject_type, subject_id=subject_id, actor=ACTOR,
                  details={"run_id": run_id, "alert_new": current is None, **details})

    await ctx.store.transaction(work)


async def close_alert(ctx: ServiceContext, alert: dict, *, run_id: str, resolution: str, audit_action: str,
                      subject_type: str, subject_id: str) -> None:
    now = utcnow()

    async def work(uow):
        result = await uow.db[ALERTS].update_one(
            {"_id": alert["_id"], "open": True},
            {"$set": {"open": False, "closed_at": now, "closed_by_run": run_id, "resolution": resolution}},
            session=uow.session)
        if result.modified_count:
            uow.audit(audit_action, subject_type=subject_type, subject_id=subject_id, actor=ACTOR,
                      details={"run_id": run_id, "alert_id": alert["_id"], "key": alert["key"],
                               "subject": alert.get("subject"), "resolution": resolution})

    await ctx.store.transaction(work)


async def _raise_fixity_alert(ctx: ServiceContext, check: FileCheck, run_id: str) -> None:
    await raise_alert(ctx, kind=fixity.ALERT_KIND, key=check.alert_key, severity=fixity.severity(check),
                      message=fixity.alert_message_vi(check), details=check.to_dict(),
                      subject={"record_id": check.record_id, "sha256": check.sha256, "name": check.name},
                      run_id=run_id, audit_action="fixity.failed", subject_type="record", subject_id=check.record_id)


async def run_fixity(ctx: ServiceContext, *, trigger: str = "schedule") -> dict:
    """Check every kept file once; returns the run document."""
    lock = _lock(ctx)
    if lock.locked():
        raise FixityRunning("a fixity run is already under way")
    async with lock:
        return await _run(ctx, trigger)


async def _run(ctx: ServiceContext, trigger: str) -> dict:
    db = ctx.store.db
    run_id = uuid.uuid4().hex
    started = utcnow()
    clock = time.monotonic()
    await db[RUNS].insert_one({"_id": run_id, "state": "running", "trigger": trigger, "started_at": started})
    # Open alerts are few; knowing them lets this run close the ones whose file is good again.
    open_alerts = {a["key"]: a async for a in db[ALERTS].find({"kind": fixity.ALERT_KIND, "open": True})}
    restored: dict[str, str] = {}
    tally = RunTally()
    # Content shared by several records is read once per run; the outcome is per (record, file).
    seen: dict[str, tuple[bool, str | None, int | None, str]] = {}
    try:
        async for record in db[repo.RECORDS].find({}, projection={"files": 1}, sort=[("_id", 1)]):
            tally.records += 1
            for entry in record.get("files", []):
                key = f"{fixity.ALERT_KIND}:{record['_id']}:{entry['sha256']}"
                if entry.get("destroyed"):  # recalled content is gone on purpose
                    tally.skipped_destroyed += 1
                    if key in open_alerts:
                        restored[key] = "file destroyed on recall"
                    continue
                first_read = entry["sha256"] not in seen
                if first_read:
                    seen[entry["sha256"]] = await _read_stored(db, entry["sha256"])
                stored, actual, size, problem = seen[entry["sha256"]]
                outcome, detail = fixity.classify(entry["sha256"], entry.get("size"), actual, size,
                                                  stored=stored, problem=problem)
                check = FileCheck(record_id=record["_id"], name=entry.get("name", ""), sha256=entry["sha256"],
                                  outcome=outcome, actual_sha256=actual if outcome == "mismatch" else None,
                                  expected_size=entry.get("size"), actual_size=size, detail=detail)
                tally.add(check, size_read=(size or 0) if first_read else 0)
                FILES_CHECKED.labels(outcome).inc()
                if check.failed:
                    log.error("fixity check failed", record_id=check.record_id, file=check.name, sha256=check.sha256,
                              outcome=check.outcome, detail=detail, run_id=run_id)
                    await _raise_fixity_alert(ctx, check, run_id)
                elif key in open_alerts:
                    restored[key] = "file good again"
    except Exception as exc:
        # The run itself broke (store away): recorded as such, nothing concluded about the files.
        await db[RUNS].update_one({"_id": run_id}, {"$set": {
            "state": "error", "finished_at": utcnow(), "error": f"{type(exc).__name__}: {exc}", "counts": tally.counts()}})
        raise
    for key, resolution in restored.items():
        alert = open_alerts[key]
        await close_alert(ctx, alert, run_id=run_id, resolution=resolution, audit_action="fixity.restored",
                          subject_type="record", subject_id=alert["subject"]["record_id"])
    finished = utcnow()
    summary = {
        "state": "finished", "finished_at": finished, "verdict": tally.verdict, "counts": tally.counts(),
        "failures": [f.to_dict() for f in tally.failures], "failures_not_listed": tally.failures_not_listed,
        "alerts_closed": len(restored), "seconds": round(time.monotonic() - clock, 3),
    }
    await db[RUNS].update_one({"_id": run_id}, {"$set": summary})

    async def audit_run(uow):
        uow.audit("fixity.run", subject_type="fixity_run", subject_id=run_id, actor=ACTOR,
                  details={"trigger": trigger, "verdict": tally.verdict, **tally.counts()})

    await ctx.store.transaction(audit_run)
    LAST_RUN.set(finished.timestamp())
    RUN_SECONDS.set(summary["seconds"])
    for outcome in fixity.FAILURES:
        FAILURES.labels(outcome).set(getattr(tally, outcome))
    log.info("fixity run finished", run_id=run_id, verdict=tally.verdict, **tally.counts())
    return {"_id": run_id, "trigger": trigger, "started_at": started, **summary}


async def _claim_pass(ctx: ServiceContext, runs: str, last: dict | None, stale_after: float) -> bool:
    """Several archive replicas run this loop and wake together (same last run, same interval):
    the one whose upsert of the pass's claim — keyed by the run it follows — creates it runs the
    pass. A claim whose pass never recorded a run (it failed before) may be taken again later."""
    now = utcnow()
    key = f"{runs}:after:{last['_id'] if last is not None else 'none'}"
    try:
        await ctx.store.db[SCHEDULE_CLAIMS].update_one(
            {"_id": key, "at": {"$lt": now - dt.timedelta(seconds=stale_after)}}, {"$set": {"at": now}}, upsert=True)
    except DuplicateKeyError:
        return False
    return True


async def _scheduled(ctx: ServiceContext, *, runs: str, interval: Callable[[], float],
                     job: Callable[[ServiceContext], object], name: str) -> None:
    """Run `job` every `interval()` seconds, counted from the last recorded run, so a restart
    neither skips a check nor repeats one; an error is logged and the loop goes on."""
    while True:
        try:
            every = max(interval(), 1.0)
            last = await ctx.store.db[runs].find_one({}, sort=[("started_at", DESCENDING)], projection={"started_at": 1})
            wait = every
            if last is not None:
                wait = every - (utcnow() - last["started_at"]).total_seconds()
            elif every > 300:
                wait = 300  # a system that never checked does so soon after start
            if wait > 0:
                await asyncio.sleep(wait)
            if not await _claim_pass(ctx, runs, last, stale_after=min(every, 600.0)):
                # Another replica took this pass: look again once its run is recorded.
                await asyncio.sleep(min(every, 30.0))
                continue
            await job(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the background loop must never stop the service
            log.error(f"{name} run failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(min(max(interval(), 1.0), 600))


async def fixity_schedule(ctx: ServiceContext) -> None:
    async def job(c: ServiceContext) -> None:
        try:
            await run_fixity(c, trigger="schedule")
        except FixityRunning:
            log.info("fixity run skipped: one is under way")

    await _scheduled(ctx, runs=RUNS, interval=lambda: ctx.settings.fixity_interval_seconds, job=job, name="fixity")
