"""The gateway process: polls the axis, sends what is due, serves its records."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request

from services.gateway.adapters import repository as repo
from services.gateway.adapters.vxp_axis import VxpAxisClient
from services.gateway.handlers.link_state import axis_facts, record_poll
from services.gateway.adapters import evidence_store
from services.gateway.entrypoints.evidence_api import router as evidence_router
from services.gateway.handlers.evidence import evidence_chainer, evidence_facts, evidence_sealer
from services.gateway.handlers.receive import poll_once
from services.gateway.handlers.send import accept_send_request, release_stuck_sends, send_due
from shared.contracts.messages import SendRequested
from shared.logging import get_logger
from shared.metrics import refreshed_every
from shared.service import ServiceContext, ServiceDefinition, ctx_of, serve
from services.gateway.domain.access import ACCESS

log = get_logger(__name__)
router = APIRouter(tags=["gateway"])


def _public(doc: dict | None) -> dict:
    if doc is None:
        raise HTTPException(404, "not found")
    return {("id" if k == "_id" else k): v for k, v in doc.items()}


@router.get("/packages")
async def list_packages(request: Request, limit: int = 50) -> list[dict]:
    rows = await ctx_of(request).store.db[repo.PACKAGES].find({}, sort=[("received_at", -1)], limit=min(limit, 500)).to_list()
    return [_public(r) for r in rows]


@router.get("/packages/{package_id}")
async def get_package(package_id: str, request: Request) -> dict:
    return _public(await ctx_of(request).store.db[repo.PACKAGES].find_one({"_id": package_id}))


@router.get("/sends")
async def list_sends(request: Request, state: str | None = None, limit: int = 50) -> list[dict]:
    query = {"state": state} if state else {}
    rows = await ctx_of(request).store.db[repo.SENDS].find(query, sort=[("created_at", -1)], limit=min(limit, 500)).to_list()
    return [_public(r) for r in rows]


@router.get("/sends/{send_id}")
async def get_send(send_id: str, request: Request) -> dict:
    return _public(await ctx_of(request).store.db[repo.SENDS].find_one({"_id": send_id}))


@router.post("/poll", status_code=202)
async def poll_now(request: Request) -> dict:
    """Ask for an immediate poll of the axis (the clerk's "check now" button)."""
    ctx_of(request).extras["poll_wakeup"].set()
    return {"accepted": True}


async def startup(ctx: ServiceContext) -> None:
    await repo.ensure_indexes(ctx.store.db)
    await evidence_store.ensure_indexes(ctx.store.db)
    settings = ctx.settings
    ctx.extras["axis"] = VxpAxisClient(
        settings.axis_url, settings.axis_system_id, settings.axis_secret.get_secret_value(),
        timeout=settings.http_timeout_seconds,
    )
    ctx.extras["poll_wakeup"] = asyncio.Event()
    ctx.extras["send_wakeup"] = asyncio.Event()


async def shutdown(ctx: ServiceContext) -> None:
    await ctx.extras["axis"].close()


async def _wait(event: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), seconds)
    except asyncio.TimeoutError:
        pass
    event.clear()


async def axis_poller(ctx: ServiceContext) -> None:
    while True:
        try:
            await poll_once(ctx, ctx.extras["axis"])
        except Exception as exc:
            log.exception("poll failed")
            record_poll(ctx, outcome="error", error=f"{type(exc).__name__}: {exc}")
        await _wait(ctx.extras["poll_wakeup"], ctx.settings.axis_poll_interval_seconds)


async def axis_sender(ctx: ServiceContext) -> None:
    await release_stuck_sends(ctx)
    rounds = 0
    while True:
        try:
            sent = await send_due(ctx, ctx.extras["axis"])
            rounds += 1
            if rounds % 120 == 0:
                await release_stuck_sends(ctx)
        except Exception:
            log.exception("send round failed")
            sent = 0
        if not sent:
            await _wait(ctx.extras["send_wakeup"], 0.5)


definition = ServiceDefinition(
    name="gateway",
    title="vanthu gateway — exchange with the interconnection axis",
    access=ACCESS,
    handlers={SendRequested: accept_send_request},
    routers=[router, evidence_router],
    background=[axis_poller, axis_sender, refreshed_every(axis_facts), evidence_chainer, evidence_sealer],
    status=[axis_facts, evidence_facts],
    on_startup=[startup],
    on_shutdown=[shutdown],
)


def main() -> None:
    serve(definition)
