"""Retention and disposal (R-11.1): the archivist sees what has expired and proposes its
destruction; the chairman — a second person — approves or rejects; approved content waits in a
recoverable bin for DISPOSAL_BIN_DAYS and only then is destroyed; a tombstone (what, when, who
proposed, who approved) is kept forever. A legal hold stops all of it."""

from __future__ import annotations

import asyncio
import datetime as dt

from services.archive.adapters import repository as repo
from services.archive.domain import dossiers as rules
from services.archive.domain.catalogue import MIN_YEARS_FOR_SUBMISSION, retention_of
from services.archive.domain.dossiers import DossierError, DossierState
from services.archive.handlers.dossiers import change_dossier
from shared.clock import utcnow, vn_date
from shared.logging import get_logger
from shared.staff import LEADERS, Role

log = get_logger(__name__)
ACTOR = "system:archive"
# Short-term dossiers (under 5 years) are not submitted; they are disposed of from "closed".
DISPOSABLE_FROM = (DossierState.ARCHIVAL, DossierState.CLOSED)


async def expired(ctx, today: dt.date | None = None) -> list[dict]:
    today = today or vn_date(utcnow())
    rows = await ctx.store.db[repo.DOSSIERS].find(
        {"state": {"$in": [s.value for s in DISPOSABLE_FROM]}, "retention.permanent": False},
        projection={"history": 0, "items": 0}).to_list()
    out = []
    for d in rows:
        retention = retention_of(d)
        if d["state"] == DossierState.CLOSED and retention.submitted_to_archive:
            continue  # still owed to the archive: it is disposed of there, after acceptance
        expires = rules.retention_expires(d, retention)
        if expires and expires <= today:
            out.append({**d, "retention_expired_on": expires.isoformat(), "on_hold": bool(d.get("legal_hold"))})
    return sorted(out, key=lambda d: d["retention_expired_on"])


def _records_only_here(dossier: dict, others: dict[str, list[str]]) -> list[str]:
    return [i["record_id"] for i in dossier["items"] if not others.get(i["record_id"])]


async def _other_live_holders(uow, dossier: dict) -> dict[str, list[str]]:
    """For each record of the dossier, the other dossiers that still keep it."""
    ids = [i["record_id"] for i in dossier["items"]]
    rows = await uow.db[repo.DOSSIERS].find(
        {"items.record_id": {"$in": ids}, "_id": {"$ne": dossier["_id"]},
         "state": {"$nin": [DossierState.IN_BIN.value, DossierState.DESTROYED.value]}},
        projection={"items.record_id": 1}, session=uow.session).to_list()
    holders: dict[str, list[str]] = {}
    for row in rows:
        for item in row["items"]:
            if item["record_id"] in ids:
                holders.setdefault(item["record_id"], []).append(row["_id"])
    return holders


async def propose(ctx, code: str, *, by: str, reason: str) -> dict:
    if not reason.strip():
        raise DossierError("Đề nghị hủy phải ghi lý do.")

    async def change(d, uow):
        problems = rules.disposal_problems(d, retention_of(d), vn_date(utcnow()))
        if d["state"] == DossierState.CLOSED and retention_of(d).years and retention_of(d).years >= MIN_YEARS_FOR_SUBMISSION:
            problems.append("Hồ sơ phải được nộp lưu trước khi xét hủy.")
        if problems:
            raise DossierError("Không đề nghị hủy được: " + " ".join(problems), conflict=True)
        return {**d, "state": DossierState.DISPOSAL_PROPOSED.value,
                "disposal": {"proposed_by": by, "proposed_at": utcnow(), "reason": reason, "previous_state": d["state"]}}

    return await change_dossier(ctx, code, by, "disposal_proposed", change, allowed_states=DISPOSABLE_FROM,
                                action_vi="đề nghị hủy hồ sơ", keeper_only=False, roles=(Role.ARCHIVIST,),
                                details={"reason": reason})


async def approve(ctx, code: str, *, by: str) -> dict:
    bin_until = utcnow() + dt.timedelta(days=ctx.settings.disposal_bin_days)

    async def change(d, uow):
        problems = rules.approval_problems(d, by)
        if problems:
            raise DossierError("Không duyệt hủy được: " + " ".join(problems), conflict=True)
        only_here = _records_only_here(d, await _other_live_holders(uow, d))
        await uow.db[repo.RECORDS].update_many({"_id": {"$in": only_here}}, {"$set": {"state": "in_bin"}}, session=uow.session)
        return {**d, "state": DossierState.IN_BIN.value, "bin_until": bin_until,
                "disposal": {**d["disposal"], "approved_by": by, "approved_at": utcnow(), "records_in_bin": only_here}}

    return await change_dossier(ctx, code, by, "disposal_approved", change, allowed_states=(DossierState.DISPOSAL_PROPOSED,),
                                action_vi="duyệt hủy hồ sơ", keeper_only=False, roles=(Role.CHAIRMAN,),
                                details={"bin_until": bin_until.isoformat()})


async def reject(ctx, code: str, *, by: str, reason: str) -> dict:
    if not reason.strip():
        raise DossierError("Không duyệt hủy phải ghi lý do.")

    async def change(d, uow):
        return {**d, "state": d["disposal"]["previous_state"],
                "disposal": None, "disposal_history": [*d.get("disposal_history", []),
                                                       {**d["disposal"], "rejected_by": by, "rejected_at": utcnow(), "rejection": reason}]}

    return await change_dossier(ctx, code, by, "disposal_rejected", change, allowed_states=(DossierState.DISPOSAL_PROPOSED,),
                                action_vi="từ chối hủy hồ sơ", keeper_only=False, roles=LEADERS, details={"reason": reason})


async def restore(ctx, code: str, *, by: str, reason: str) -> dict:
    """Out of the bin before the period ends: nothing was destroyed, everything is back."""
    if not reason.strip():
        raise DossierError("Khôi phục phải ghi lý do.")

    async def change(d, uow):
        await uow.db[repo.RECORDS].update_many({"_id": {"$in": d["disposal"].get("records_in_bin", [])}},
                                               {"$set": {"state": "kept"}}, session=uow.session)
        return {**d, "state": d["disposal"]["previous_state"], "bin_until": None, "disposal": None,
                "disposal_history": [*d.get("disposal_history", []),
                                     {**d["disposal"], "restored_by": by, "restored_at": utcnow(), "restoration": reason}]}

    return await change_dossier(ctx, code, by, "restored_from_bin", change, allowed_states=(DossierState.IN_BIN,),
                                action_vi="khôi phục hồ sơ", keeper_only=False, roles=(Role.ARCHIVIST, Role.CHAIRMAN),
                                details={"reason": reason})


async def set_hold(ctx, code: str, *, by: str, reason: str, hold: bool) -> dict:
    """A legal hold (e.g. an inspection or a dispute): no proposal, approval or destruction
    while it stands."""
    if not reason.strip():
        raise DossierError("Phải ghi lý do phong tỏa hoặc gỡ phong tỏa.")

    async def change(d, uow):
        if hold and d.get("legal_hold"):
            raise DossierError("Hồ sơ đã đang bị phong tỏa.", conflict=True)
        if not hold and not d.get("legal_hold"):
            raise DossierError("Hồ sơ không bị phong tỏa.", conflict=True)
        return {**d, "legal_hold": {"by": by, "at": utcnow(), "reason": reason} if hold else None}

    states = [s for s in DossierState if s != DossierState.DESTROYED]
    return await change_dossier(ctx, code, by, "hold_placed" if hold else "hold_released", change, allowed_states=states,
                                action_vi="phong tỏa hồ sơ", keeper_only=False, roles=(Role.ARCHIVIST, *LEADERS),
                                details={"reason": reason})


async def destroy_due(ctx, now: dt.datetime | None = None) -> list[str]:
    """Destroys the content of dossiers whose bin period is over; returns their codes."""
    now = now or utcnow()
    due = await ctx.store.db[repo.DOSSIERS].find(
        {"state": DossierState.IN_BIN.value, "bin_until": {"$lte": now}, "legal_hold": None}).to_list()
    done = []
    for dossier in due:
        await _destroy(ctx, dossier)
        done.append(dossier["_id"])
    # Bytes whose deletion a crash interrupted after the destruction was committed.
    async for record in ctx.store.db[repo.RECORDS].find({"state": "destroyed"}, projection={"files": 1}):
        for entry in record.get("files", []):
            if entry.get("destroyed") and await ctx.extras["files"].exists(entry["sha256"]):
                await ctx.extras["files"].delete(entry["sha256"])
    return done


async def _destroy(ctx, dossier: dict) -> None:
    records = await ctx.store.db[repo.RECORDS].find(
        {"_id": {"$in": dossier["disposal"].get("records_in_bin", [])}}).to_list()
    hashes = {f["sha256"] for r in records for f in r.get("files", [])}
    still_used = await ctx.store.db[repo.RECORDS].find(
        {"files.sha256": {"$in": list(hashes)}, "_id": {"$nin": [r["_id"] for r in records]}, "state": "kept"},
        projection={"files.sha256": 1}).to_list()
    keep = {f["sha256"] for r in still_used for f in r["files"]}
    destroyed_files = sorted(hashes - keep)
    now = utcnow()
    tombstone = {
        "_id": dossier["_id"], "kind": "dossier", "title": dossier["title"], "retention": dossier["maintenance"],
        "closed_at": dossier.get("closed_at"), "doc_total": dossier.get("doc_total"), "page_total": dossier.get("page_total"),
        "documents": [{"record_id": r["_id"], "code": r.get("code"), "subject": r.get("subject"),
                       "issued_date": r.get("issued_date"), "files": [{"name": f["name"], "sha256": f["sha256"]}
                                                                       for f in r.get("files", [])]} for r in records],
        "proposed_by": dossier["disposal"]["proposed_by"], "proposed_at": dossier["disposal"]["proposed_at"],
        "reason": dossier["disposal"]["reason"], "approved_by": dossier["disposal"]["approved_by"],
        "approved_at": dossier["disposal"]["approved_at"], "destroyed_at": now, "destroyed_files": destroyed_files,
    }

    async def work(uow):
        current = await uow.db[repo.DOSSIERS].find_one({"_id": dossier["_id"]}, session=uow.session)
        if current is None or current["state"] != DossierState.IN_BIN or current.get("legal_hold"):
            return False  # restored or held meanwhile
        await uow.db[repo.TOMBSTONES].insert_one(tombstone, session=uow.session)
        ids = [r["_id"] for r in records]
        await uow.db[repo.RECORD_TEXTS].delete_many({"_id": {"$in": ids}}, session=uow.session)
        for record in records:
            await uow.db[repo.RECORDS].update_one({"_id": record["_id"]}, {"$set": {
                "state": "destroyed", "destroyed_at": now,
                "files": [{**f, "destroyed": f["sha256"] in destroyed_files} for f in record.get("files", [])]}},
                session=uow.session)
        await uow.db[repo.DOSSIERS].update_one({"_id": dossier["_id"]}, {
            "$set": {"state": DossierState.DESTROYED.value, "destroyed_at": now},
            "$inc": {"version": 1},
            "$push": {"history": {"at": now, "by": ACTOR, "action": "destroyed"}}}, session=uow.session)
        uow.audit("dossier.destroyed", subject_type="dossier", subject_id=dossier["_id"], actor=ACTOR,
                  details={"records": ids, "destroyed_sha256": destroyed_files,
                           "proposed_by": tombstone["proposed_by"], "approved_by": tombstone["approved_by"]})
        return True

    if await ctx.store.transaction(work):
        # The bytes go after the tombstone and state are committed; deleting again is harmless,
        # and a crash here leaves files the next pass (or fixity) finds orphaned, never a record
        # pointing at nothing without saying so.
        for digest in destroyed_files:
            await ctx.extras["files"].delete(digest)
        log.warning("dossier destroyed after its bin period", dossier=dossier["_id"], files=len(destroyed_files))


async def disposal_schedule(ctx) -> None:
    while True:
        try:
            await destroy_due(ctx)
        except Exception as exc:  # noqa: BLE001 - the loop must outlive one bad pass
            log.error("disposal pass failed", error=str(exc))
        await asyncio.sleep(ctx.settings.disposal_check_seconds)
