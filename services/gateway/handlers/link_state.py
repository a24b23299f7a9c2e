"""The axis link as the operator sees it (R-13): whether the last poll reached the axis, when
one last succeeded, the last error, and the sends still waiting or given up. The same facts feed
the console (GET /ops/status) and the gauges Prometheus scrapes.

Poll results are per process (each replica polls); the send counts come from the store and are
the same on every replica (dashboards take max())."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from services.gateway.adapters import repository as repo
from services.gateway.domain.transport import SendState
from shared.clock import utcnow
from shared.service import ServiceContext

POLLS = Counter("vanthu_axis_polls_total", "Polls of the axis", ["outcome"])  # ok, partial, unavailable, error
AXIS_UP = Gauge("vanthu_axis_up", "1 when the last poll of the axis listed both kinds of package")
LAST_POLL = Gauge("vanthu_axis_last_poll_timestamp_seconds", "Unix time of the last poll of the axis")
LAST_SUCCESS = Gauge("vanthu_axis_last_successful_poll_timestamp_seconds", "Unix time of the last poll that reached the axis")
SENDS = Gauge("vanthu_gateway_sends", "Sends to the axis by state (waiting = ready, sending or waiting for a retry)", ["state"])
OLDEST_WAITING = Gauge("vanthu_gateway_oldest_waiting_send_seconds", "Age of the oldest send not yet accepted by the axis")

WAITING_STATES = (SendState.READY.value, SendState.SENDING.value, SendState.WAITING_FOR_RETRY.value)


@dataclass
class LinkState:
    last_poll_at: dt.datetime | None = None
    last_successful_poll_at: dt.datetime | None = None
    last_error: str | None = None
    reachable: bool = False


def link_state(ctx: ServiceContext) -> LinkState:
    return ctx.extras.setdefault("axis_link", LinkState())


def record_poll(ctx: ServiceContext, *, outcome: str, error: str | None = None) -> None:
    """After each poll. `outcome`: ok (both lists read), partial (listed, some items not taken),
    unavailable (a list failed), error (the poll itself broke)."""
    state = link_state(ctx)
    now = utcnow()
    state.last_poll_at = now
    state.reachable = outcome in ("ok", "partial")
    if state.reachable:
        state.last_successful_poll_at = now
        LAST_SUCCESS.set(now.timestamp())
    state.last_error = error if error else (None if outcome == "ok" else state.last_error)
    POLLS.labels(outcome=outcome).inc()
    AXIS_UP.set(1 if state.reachable else 0)
    LAST_POLL.set(now.timestamp())


def _iso(at: dt.datetime | None) -> str | None:
    return at.isoformat() if at else None


async def axis_facts(ctx: ServiceContext) -> dict:
    """{"axis": {...}} for the operator console; sets the send gauges on the way."""
    sends = ctx.store.db[repo.SENDS]
    waiting = await sends.count_documents({"state": {"$in": list(WAITING_STATES)}})
    failed = await sends.count_documents({"state": SendState.FAILED.value})
    SENDS.labels(state="waiting").set(waiting)
    SENDS.labels(state="failed").set(failed)
    oldest = await sends.find_one({"state": {"$in": list(WAITING_STATES)}}, sort=[("created_at", 1)], projection={"created_at": 1})
    OLDEST_WAITING.set((utcnow() - oldest["created_at"]).total_seconds() if oldest else 0)
    state = link_state(ctx)
    return {"axis": {
        "url": ctx.settings.axis_url,
        "reachable": state.reachable,
        "last_poll_at": _iso(state.last_poll_at),
        "last_successful_poll_at": _iso(state.last_successful_poll_at),
        "last_error": state.last_error,
        "sends_waiting": waiting,
        "sends_failed": failed,
    }}
