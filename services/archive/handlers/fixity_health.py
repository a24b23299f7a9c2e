"""Fixity as the operator watches it (R-13, R-4.1, R-11.1): the last finished run's verdict and
counts, and the fixity alerts still open (a file changed, missing or unreadable until a later
run finds it good). From the store, so the same on every replica; `fixity_facts` feeds the
console (GET /ops/status) and the gauges."""

from __future__ import annotations

from prometheus_client import Gauge
from pymongo import DESCENDING

from services.archive.domain import fixity
from services.archive.handlers.fixity import ALERTS, RUNS
from shared.service import ServiceContext

LAST_FINISHED = Gauge("vanthu_fixity_last_finished_run_timestamp_seconds", "When the last finished fixity run ended (Unix time, from the store)")
LAST_FILES = Gauge("vanthu_fixity_last_run_files", "Files of the last finished fixity run by outcome", ["outcome"])
LAST_FAILED = Gauge("vanthu_fixity_last_run_failed", "1 when the last finished fixity run found a file changed, missing or unreadable")
OPEN_ALERTS = Gauge("vanthu_fixity_open_alerts", "Fixity alerts still open (files not found good again)")
ERRORED_RUNS = Gauge("vanthu_fixity_last_run_errored", "1 when the latest fixity run broke off (store away), nothing concluded")

OUTCOMES = ("ok", *fixity.FAILURES, "skipped_destroyed")


def _iso(at):
    return at.isoformat() if at else None


async def fixity_facts(ctx: ServiceContext) -> dict:
    db = ctx.store.db
    latest = await db[RUNS].find_one({}, sort=[("started_at", DESCENDING)], projection={"failures": 0})
    finished = await db[RUNS].find_one({"state": "finished"}, sort=[("started_at", DESCENDING)], projection={"failures": 0})
    open_alerts = await db[ALERTS].count_documents({"kind": fixity.ALERT_KIND, "open": True})
    OPEN_ALERTS.set(open_alerts)
    ERRORED_RUNS.set(1 if latest and latest.get("state") == "error" else 0)
    counts = (finished or {}).get("counts") or {}
    for outcome in OUTCOMES:
        LAST_FILES.labels(outcome=outcome).set(counts.get(outcome, 0))
    LAST_FAILED.set(1 if finished and finished.get("verdict") == "failed" else 0)
    if finished and finished.get("finished_at"):
        LAST_FINISHED.set(finished["finished_at"].timestamp())
    return {"fixity": {
        "last_run": None if finished is None else {
            "id": finished["_id"], "trigger": finished.get("trigger"), "started_at": _iso(finished.get("started_at")),
            "finished_at": _iso(finished.get("finished_at")), "verdict": finished.get("verdict"), "counts": counts,
            "seconds": finished.get("seconds")},
        "latest_state": latest.get("state") if latest else None,
        "latest_error": latest.get("error") if latest and latest.get("state") == "error" else None,
        "open_alerts": open_alerts,
    }}
