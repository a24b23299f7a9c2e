"""The intake process: consumes incoming packages, serves the incoming register."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from services.intake.adapters import repository as repo
from services.intake.entrypoints import digitise_api, handling_api, register_api, reports_api
from services.intake.handlers import digitise
from services.intake.handlers.health import handling_facts
from services.intake.handlers.followups import on_recall_notice, on_record_archived, on_send_state_changed
from services.intake.handlers.receive import on_package_received
from shared.contracts.messages import (
    PackageReceived,
    RecordArchived,
    SendStateChanged,
    SignatureApplied,
    SignatureRefused,
    StatusReceived,
)
from shared.audit_chain import entries_about
from shared.metrics import refreshed_every
from shared.service import ServiceContext, ServiceDefinition, ctx_of, serve
from services.intake.domain.access import ACCESS

router = APIRouter(tags=["incoming"])


def _public(doc: dict | None) -> dict:
    if doc is None:
        raise HTTPException(404, "no such incoming document")
    return {("id" if k == "_id" else k): v for k, v in doc.items()}


@router.get("/documents")
async def list_documents(request: Request, state: str | None = None, limit: int = 50, skip: int = 0) -> list[dict]:
    """Incoming documents, urgent first, then newest first (R-4.2c: urgent ones presented first);
    `skip` pages through the rest."""
    query = {"state": state} if state else {}
    rows = await ctx_of(request).store.db[repo.DOCUMENTS].find(
        query, sort=[("priority", -1), ("arrived_at", -1), ("_id", 1)], limit=min(max(limit, 1), 500), skip=max(skip, 0)
    ).to_list()
    return [_public(r) for r in rows]


@router.get("/documents/{key}")
async def get_document(key: str, request: Request) -> dict:
    """One document with its metadata, files, verification report and statuses sent."""
    return _public(await repo.get(ctx_of(request).store.db, key))


@router.get("/documents/{key}/audit")
async def document_audit(key: str, request: Request, limit: int = 500) -> list[dict]:
    """The audit entries about one incoming document (R-4.1), oldest first: what the portal shows
    on the document's page."""
    return [_public(r) for r in await entries_about(ctx_of(request).store.db, "incoming", key, limit=limit)]


@router.get("/documents/by-package/{package_id}")
async def get_by_package(package_id: str, request: Request) -> dict:
    return _public(await repo.get_by_package(ctx_of(request).store.db, package_id))


@router.get("/register/{year}")
async def incoming_register(year: int, request: Request) -> list[dict]:
    """Sổ đăng ký văn bản đến (NĐ 30 Phụ lục IV) for one year, in number order."""
    rows = await ctx_of(request).store.db[repo.DOCUMENTS].find(
        {"register.year": year}, sort=[("register.number", 1)],
        projection={"register": 1, "arrived_at": 1, "metadata.sender": 1, "metadata.code": 1, "metadata.issued_date": 1,
                    "metadata.type_name": 1, "metadata.subject": 1, "possible_duplicate_of": 1},
    ).to_list()
    return [_public(r) for r in rows]


async def startup(ctx: ServiceContext) -> None:
    await repo.ensure_indexes(ctx.store.db)


definition = ServiceDefinition(
    name="intake",
    title="vanthu intake — verifying and registering incoming documents",
    access=ACCESS,
    handlers={
        PackageReceived: on_package_received,
        SendStateChanged: on_send_state_changed,
        RecordArchived: on_record_archived,
        StatusReceived: on_recall_notice,
        SignatureApplied: digitise.on_signature_applied,
        SignatureRefused: digitise.on_signature_refused,
    },
    routers=[router, register_api.router, handling_api.router, digitise_api.router, reports_api.router],
    on_startup=[startup],
    background=[refreshed_every(handling_facts)],
    status=[handling_facts],
)


def main() -> None:
    serve(definition)
