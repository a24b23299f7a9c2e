"""The archive process: stores records and serves them."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

from services.archive.adapters import repository as repo
from services.archive.entrypoints import dossiers_api, integrity_api, package_api
from services.archive.entrypoints import reports_api, search_api
from services.archive.handlers.disposal import disposal_schedule
from services.archive.handlers.fixity import fixity_schedule
from services.archive.handlers.fixity_health import fixity_facts
from services.archive.handlers.preservation import preservation_schedule
from services.archive.handlers.store_records import (
    on_incoming_recalled,
    on_incoming_registered,
    on_outgoing_issued,
)
from shared.blobs import BlobIntegrityError, BlobNotFound, BlobStore
from shared.contracts.messages import (
    IncomingDocumentRecalled,
    IncomingDocumentRegistered,
    OutgoingDocumentIssued,
)
from shared.metrics import refreshed_every
from shared.service import ServiceContext, ServiceDefinition, ctx_of, serve
from services.archive.domain.access import ACCESS

router = APIRouter(tags=["archive"])


def _public(doc: dict | None) -> dict:
    if doc is None:
        raise HTTPException(404, "no such record")
    return {("id" if k == "_id" else k): v for k, v in doc.items()}


@router.get("/records")
async def list_records(request: Request, source: str | None = None, year: int | None = None, limit: int = 50) -> list[dict]:
    query: dict = {}
    if source:
        query["source"] = source
    if year:
        query["register.year"] = year
    rows = await ctx_of(request).store.db[repo.RECORDS].find(query, sort=[("stored_at", -1)], limit=min(limit, 500)).to_list()
    return [_public(r) for r in rows]


@router.get("/records/{rid}")
async def get_record(rid: str, request: Request) -> dict:
    return _public(await repo.get(ctx_of(request).store.db, rid))


@router.get("/records/{rid}/files/{sha256}")
async def get_record_file(rid: str, sha256: str, request: Request) -> Response:
    ctx = ctx_of(request)
    record = await repo.get(ctx.store.db, rid)
    entry = next((f for f in (record or {}).get("files", []) if f["sha256"] == sha256), None)
    if entry is None:
        raise HTTPException(404, "no such file in this record")
    if entry.get("destroyed"):
        raise HTTPException(410, "Tệp đã được hủy vì cơ quan gửi thu hồi văn bản (R-6.2).")
    try:
        data = await ctx.extras["files"].get(sha256)
    except BlobNotFound:
        raise HTTPException(410, "the file is missing from the archive store") from None
    except BlobIntegrityError as exc:
        raise HTTPException(500, str(exc)) from exc
    return Response(data, media_type=entry["media_type"],
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(entry['name'])}"})


async def startup(ctx: ServiceContext) -> None:
    await repo.ensure_indexes(ctx.store.db)
    files = BlobStore(ctx.store, "archive", bucket="files")
    await files.ensure_indexes()
    ctx.extras["files"] = files


definition = ServiceDefinition(
    name="archive",
    title="vanthu archive — records, files and their hashes",
    access=ACCESS,
    handlers={IncomingDocumentRegistered: on_incoming_registered, OutgoingDocumentIssued: on_outgoing_issued,
              IncomingDocumentRecalled: on_incoming_recalled},
    routers=[router, dossiers_api.router, integrity_api.router, package_api.router, search_api.router, reports_api.router],
    background=[disposal_schedule, fixity_schedule, preservation_schedule, search_api.follow_records,
                refreshed_every(fixity_facts)],
    status=[fixity_facts],
    on_startup=[startup, integrity_api.ensure_indexes],
)


def main() -> None:
    serve(definition)
