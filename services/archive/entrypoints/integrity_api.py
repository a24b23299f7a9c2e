"""Integrity of the archive over HTTP: fixity runs (R-4.1, R-9.1), B-LTA preservation runs, alerts."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pymongo import DESCENDING

from services.archive.handlers import fixity as fixity_handler
from services.archive.handlers import preservation as preservation_handler
from services.archive.handlers.fixity import ALERTS, FixityRunning, run_fixity
from services.archive.handlers.preservation import PreservationRunning, run_preservation, status_of
from shared.service import ServiceContext, ctx_of

router = APIRouter(tags=["archive integrity"])


def _public(doc: dict) -> dict:
    return {("id" if k == "_id" else k): v for k, v in doc.items()}


async def ensure_indexes(ctx: ServiceContext) -> None:
    """Startup hook: indexes of fixity runs, preservation runs and alerts."""
    await fixity_handler.ensure_indexes(ctx)
    await preservation_handler.ensure_indexes(ctx)


@router.post("/fixity/run")
async def post_fixity_run(request: Request) -> dict:
    try:
        return _public(await run_fixity(ctx_of(request), trigger="api"))
    except FixityRunning:
        raise HTTPException(409, "Đang có một lượt kiểm tra tính toàn vẹn chạy; vui lòng thử lại sau.") from None


@router.get("/fixity/runs")
async def list_fixity_runs(request: Request, limit: int = 20) -> list[dict]:
    rows = await ctx_of(request).store.db[fixity_handler.RUNS].find(
        {}, projection={"failures": 0}, sort=[("started_at", DESCENDING)], limit=max(1, min(limit, 200))).to_list()
    return [_public(r) for r in rows]


@router.get("/fixity/runs/{run_id}")
async def get_fixity_run(run_id: str, request: Request) -> dict:
    row = await ctx_of(request).store.db[fixity_handler.RUNS].find_one({"_id": run_id})
    if row is None:
        raise HTTPException(404, "no such fixity run")
    return _public(row)


@router.get("/alerts")
async def list_alerts(request: Request, open: bool | None = True, kind: str | None = None, limit: int = 100) -> list[dict]:
    query: dict = {}
    if open is not None:
        query["open"] = open
    if kind:
        query["kind"] = kind
    rows = await ctx_of(request).store.db[ALERTS].find(
        query, sort=[("last_seen", DESCENDING)], limit=max(1, min(limit, 500))).to_list()
    return [_public(r) for r in rows]


@router.post("/preservation/run")
async def post_preservation_run(request: Request) -> dict:
    try:
        return _public(await run_preservation(ctx_of(request), trigger="api"))
    except PreservationRunning:
        raise HTTPException(409, "Đang có một lượt gia hạn chữ ký số lưu trữ chạy; vui lòng thử lại sau.") from None


@router.get("/preservation/runs")
async def list_preservation_runs(request: Request, limit: int = 20) -> list[dict]:
    rows = await ctx_of(request).store.db[preservation_handler.RUNS].find(
        {}, projection={"items": 0}, sort=[("started_at", DESCENDING)], limit=max(1, min(limit, 200))).to_list()
    return [_public(r) for r in rows]


@router.get("/preservation/runs/{run_id}")
async def get_preservation_run(run_id: str, request: Request) -> dict:
    row = await ctx_of(request).store.db[preservation_handler.RUNS].find_one({"_id": run_id})
    if row is None:
        raise HTTPException(404, "no such preservation run")
    return _public(row)


@router.get("/preservation/records/{rid}")
async def get_record_preservation(rid: str, request: Request) -> dict:
    status = await status_of(ctx_of(request), rid)
    if status is None:
        raise HTTPException(404, "no such record")
    return status
