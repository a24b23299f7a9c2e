"""The operator's API, mounted by `create_app` in every service (R-13; the portal's console
reads it): the process's status and the dead letters its queues produced.

- `GET /ops/status`: name, version (package + git commit), since when, which replica, pid,
  readiness (store, broker, the service's own checks), recent error-level log events, and the
  facts of the service's `status` hooks (the axis link, the token…), each called tolerantly.
- `GET /ops/dead-letters[?state=open]`, `GET /ops/dead-letters/{id}`,
  `POST /ops/dead-letters/{id}/replay {reason}`, `POST /ops/dead-letters/{id}/discard {reason}`
  (shared/bus/dead_letters.py). A reason is required for both; each change is audited.
Only the operator's role may call them (`OPS_RULES`, added to every service's rules).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import importlib.metadata
import os
import socket
import subprocess
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from shared.auth import acting_user, roles
from shared.bus import dead_letters
from shared.config import REPO_ROOT
from shared.logging import get_logger, recent_errors
from shared.staff import Role

if TYPE_CHECKING:
    from shared.service import ServiceContext, ServiceDefinition

log = get_logger(__name__)

OPERATOR = roles(Role.OPERATOR)
OPS_RULES = {
    ("GET", "/ops/status"): OPERATOR,
    ("GET", "/ops/dead-letters"): OPERATOR,
    ("GET", "/ops/dead-letters/{dead_letter_id}"): OPERATOR,
    ("POST", "/ops/dead-letters/{dead_letter_id}/replay"): OPERATOR,
    ("POST", "/ops/dead-letters/{dead_letter_id}/discard"): OPERATOR,
}
HOOK_TIMEOUT_SECONDS = 25.0  # the token check alone may take 20 s (signing)


class Reason(BaseModel):
    reason: str = ""


@functools.lru_cache(maxsize=1)
def version() -> dict[str, str | None]:
    """The package version and, when known, the commit (VANTHU_COMMIT, else the git checkout)."""
    try:
        package = importlib.metadata.version("vanthu")
    except importlib.metadata.PackageNotFoundError:
        package = "unknown"
    commit = os.environ.get("VANTHU_COMMIT") or None
    if commit is None:
        try:
            found = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short=12", "HEAD"],
                                   capture_output=True, text=True, timeout=3)
            commit = found.stdout.strip() or None if found.returncode == 0 else None
        except (OSError, subprocess.SubprocessError):
            commit = None
    return {"package": package, "commit": commit}


async def _tolerant(name: str, call, errors: list[str]) -> Any:
    try:
        return await asyncio.wait_for(call, HOOK_TIMEOUT_SECONDS)
    except Exception as exc:  # one broken fact never hides the others
        errors.append(f"{name}: {type(exc).__name__}: {exc}")
        return None


async def status_of(ctx: "ServiceContext", definition: "ServiceDefinition") -> dict[str, Any]:
    """What GET /ops/status answers; the portal calls it in process for itself."""
    errors: list[str] = []
    store_ok = bool(await _tolerant("store", ctx.store.ping(), errors))
    broker_ok = bool(ctx.connection and not ctx.connection.is_closed and ctx.topology_ready)
    ready: dict[str, Any] = {"store": store_ok, "broker": broker_ok}
    for check in definition.readiness:
        found = await _tolerant(getattr(check, "__name__", "readiness"), check(ctx), errors)
        if found:
            ready[str(found[0])] = bool(found[1])
    answer: dict[str, Any] = {
        "service": definition.name,
        "version": version(),
        "started_at": ctx.extras.get("started_at"),
        "replica": int(os.environ.get("SERVICE_REPLICA") or 1),
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "ready": ready,
        "all_ready": all(bool(v) for v in ready.values()),
        "recent_errors": recent_errors(),
    }
    if store_ok:
        counts = await _tolerant("dead_letters", dead_letters.open_counts(ctx.store), errors)
        answer["dead_letters_open"] = counts if counts is not None else None
    for hook in definition.status:
        facts = await _tolerant(getattr(hook, "__name__", "status"), hook(ctx), errors)
        if isinstance(facts, dict):
            answer.update({k: v for k, v in facts.items() if k not in answer})
    answer["status_errors"] = errors
    return answer


def _problem(exc: dead_letters.DeadLetterProblem) -> HTTPException:
    return HTTPException(exc.status, exc.message)


def router_for(definition: "ServiceDefinition") -> APIRouter:
    router = APIRouter(prefix="/ops", tags=["ops"])

    @router.get("/status")
    async def ops_status(request: Request) -> dict:
        return await status_of(request.app.state.ctx, definition)

    @router.get("/dead-letters")
    async def list_dead_letters(request: Request, state: str | None = None, limit: int = 200) -> list[dict]:
        if state is not None and state not in dead_letters.STATES:
            raise HTTPException(422, f"state must be one of {', '.join(dead_letters.STATES)}")
        return await dead_letters.list_entries(request.app.state.ctx.store, state, max(1, min(limit, 1000)))

    @router.get("/dead-letters/{dead_letter_id}")
    async def get_dead_letter(dead_letter_id: str, request: Request) -> dict:
        try:
            return await dead_letters.get_entry(request.app.state.ctx.store, dead_letter_id)
        except dead_letters.DeadLetterProblem as exc:
            raise _problem(exc)

    @router.post("/dead-letters/{dead_letter_id}/replay")
    async def replay_dead_letter(dead_letter_id: str, body: Reason, request: Request) -> dict:
        by = f"user:{acting_user(request)}"
        try:
            done = await dead_letters.replay(request.app.state.ctx.store, dead_letter_id, by=by, reason=body.reason)
        except dead_letters.DeadLetterProblem as exc:
            raise _problem(exc)
        log.info("dead letter replayed", id=dead_letter_id, by=by, queue=done["failed_queue"])
        return done

    @router.post("/dead-letters/{dead_letter_id}/discard")
    async def discard_dead_letter(dead_letter_id: str, body: Reason, request: Request) -> dict:
        by = f"user:{acting_user(request)}"
        try:
            done = await dead_letters.discard(request.app.state.ctx.store, dead_letter_id, by=by, reason=body.reason)
        except dead_letters.DeadLetterProblem as exc:
            raise _problem(exc)
        log.info("dead letter discarded", id=dead_letter_id, by=by, queue=done["failed_queue"])
        return done

    return router


def started_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
