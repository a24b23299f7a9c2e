"""The operator's page: each service's readiness (`/readyz`). The full console is a later issue."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.portal.adapters.services import SERVICE_NAMES_VI
from services.portal.entrypoints.web import PortalRoute, render, services

router = APIRouter(route_class=PortalRoute, tags=["operator"])
WATCHED = ("gateway", "intake", "dispatch", "signing", "archive")


@router.get("/van-hanh")
async def status(request: Request) -> Response:
    client = services(request)
    answers = await asyncio.gather(*(client.readiness(name) for name in WATCHED))
    rows = [{"name": name, "label": SERVICE_NAMES_VI[name], "ready": ready, "detail": detail}
            for name, (ready, detail) in zip(WATCHED, answers)]
    return render(request, "operator.html", title="Tình trạng hệ thống", rows=rows, all_ready=all(r["ready"] for r in rows))
