"""The signing process: one long-lived token session per key (opened at start), serving
signature requests from the bus, one at a time per key."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request

from services.signing.adapters import repository as repo
from services.signing.adapters.inspection import TrustSettings
from services.signing.adapters.token import TokenKeyRing
from services.signing.entrypoints import delegations_api, reports_api
from services.signing.handlers.sign import on_signature_requested
from services.signing.handlers.token_health import token_facts
from shared.contracts.messages import SignatureRequested
from shared.logging import get_logger
from shared.metrics import refreshed_every
from shared.service import ServiceContext, ServiceDefinition, ctx_of, serve
from services.signing.domain.access import ACCESS

log = get_logger(__name__)
router = APIRouter(tags=["signing"])
TOKEN_RETRY_SECONDS = 2.0


@router.get("/keys")
async def list_keys(request: Request) -> list[dict]:
    """The keys on the token and their certificates (never the keys themselves)."""
    ctx = ctx_of(request)
    if not ctx.extras.get("token_open"):
        raise HTTPException(503, "token unavailable")
    ring: TokenKeyRing = ctx.extras["ring"]
    return [
        {"label": label, "key_id": ring.key(label).key_id, "subject": ring.key(label).certificate.subject.human_friendly}
        for label in ring.labels
    ]


@router.get("/signatures/{request_id}")
async def get_signature(request_id: str, request: Request) -> dict:
    record = await repo.get(ctx_of(request).store.db, request_id)
    if record is None:
        raise HTTPException(404, "no such signature request")
    return {("id" if k == "_id" else k): v for k, v in record.items()}


async def startup(ctx: ServiceContext) -> None:
    settings = ctx.settings
    await repo.ensure_indexes(ctx.store.db)
    token_dir = settings.token_config_dir
    own_ca = token_dir / "pki" / "ca.crt.pem"
    ring = TokenKeyRing(
        token_label=settings.token_label,
        user_pin=settings.token_pin,
        module_path=settings.token_module,
        chain=[own_ca],
        softhsm_conf=token_dir / "softhsm2.conf",
    )
    ctx.extras["ring"] = ring
    ctx.extras["token_open"] = False
    # Our leaders' certificates chain to the CA that certified the token's keys (the dev CA
    # here, a licensed Vietnamese CA in production): the leader signature is checked against
    # it before the agency signs (R-8.3c).
    ctx.extras["trust"] = TrustSettings.of([own_ca])
    images = token_dir / "images"
    ctx.extras["images"] = {
        settings.chairman_key_label: (images / "chairman-signature.png").read_bytes(),
        settings.agency_key_label: (images / "agency-seal.png").read_bytes(),
    }
    await open_token(ctx)


async def open_token(ctx: ServiceContext) -> bool:
    """Open the keys' sessions. A token that is not there (USB token pulled, R-13) leaves the
    service up saying so (`/readyz` token false, `/keys` 503); signature requests wait (Retry)."""
    settings, ring = ctx.settings, ctx.extras["ring"]
    labels = [settings.agency_key_label, settings.chairman_key_label]
    try:
        await ring.open(labels)
    except Exception as exc:  # noqa: BLE001 - whatever the module says, the token is not usable
        if ctx.extras.get("token_open", True):
            log.warning("token unavailable", error=f"{type(exc).__name__}: {exc}")
        ctx.extras["token_open"] = False
        return False
    ctx.extras["leader_key_ids"] = [ring.key(settings.chairman_key_label).key_id]
    ctx.extras["token_open"] = True
    log.info("token open", keys=labels)
    return True


async def watch_token(ctx: ServiceContext) -> None:
    """Reopen the token once it is back (plugged in again)."""
    while True:
        await asyncio.sleep(TOKEN_RETRY_SECONDS)
        if not ctx.extras.get("token_open") and "ring" in ctx.extras:
            await open_token(ctx)


async def shutdown(ctx: ServiceContext) -> None:
    await ctx.extras["ring"].aclose()


async def token_ready(ctx: ServiceContext) -> tuple[str, bool]:
    return "token", bool(ctx.extras.get("token_open"))


definition = ServiceDefinition(
    name="signing",
    title="vanthu signing — PAdES signatures with keys on the PKCS#11 token",
    access=ACCESS,
    handlers={SignatureRequested: on_signature_requested},
    routers=[router, delegations_api.router, reports_api.router],
    background=[watch_token],
    on_startup=[startup],
    on_shutdown=[shutdown],
    readiness=[token_ready],
    status=[token_facts],
)


# The token check and the certificates' days left refresh their gauges on a schedule (R-13).
definition.background.append(refreshed_every(token_facts))


def main() -> None:
    serve(definition)
