"""The signing process: one long-lived token session per key (opened at start), serving
signature requests from the bus, one at a time per key."""

from __future__ import annotations

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


@router.get("/keys")
async def list_keys(request: Request) -> list[dict]:
    """The keys on the token and their certificates (never the keys themselves)."""
    ring: TokenKeyRing = ctx_of(request).extras["ring"]
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
    labels = [settings.agency_key_label, settings.chairman_key_label]
    await ring.open(labels)
    ctx.extras["ring"] = ring
    # Our leaders' certificates chain to the CA that certified the token's keys (the dev CA
    # here, a licensed Vietnamese CA in production): the leader signature is checked against
    # it before the agency signs (R-8.3c).
    ctx.extras["trust"] = TrustSettings.of([own_ca])
    ctx.extras["leader_key_ids"] = [ring.key(settings.chairman_key_label).key_id]
    images = token_dir / "images"
    ctx.extras["images"] = {
        settings.chairman_key_label: (images / "chairman-signature.png").read_bytes(),
        settings.agency_key_label: (images / "agency-seal.png").read_bytes(),
    }
    log.info("token open", keys=labels)


async def shutdown(ctx: ServiceContext) -> None:
    await ctx.extras["ring"].aclose()


async def token_ready(ctx: ServiceContext) -> tuple[str, bool]:
    ring: TokenKeyRing | None = ctx.extras.get("ring")
    return "token", bool(ring and ring.labels)


definition = ServiceDefinition(
    name="signing",
    title="vanthu signing — PAdES signatures with keys on the PKCS#11 token",
    access=ACCESS,
    handlers={SignatureRequested: on_signature_requested},
    routers=[router, delegations_api.router, reports_api.router],
    on_startup=[startup],
    on_shutdown=[shutdown],
    readiness=[token_ready],
    status=[token_facts],
)


# The token check and the certificates' days left refresh their gauges on a schedule (R-13).
definition.background.append(refreshed_every(token_facts))


def main() -> None:
    serve(definition)
