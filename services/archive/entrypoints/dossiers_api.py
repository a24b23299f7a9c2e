"""HTTP API of the catalogue, dossiers, the archive's acceptance and disposal (R-10.1 … R-11.3).
Who is calling comes in the request (`by`, `user`) until signed-in accounts arrive (issue 6)."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from pydantic import BaseModel, Field

from services.archive.adapters import repository as repo
from services.archive.adapters.repository import ConcurrentChange
from services.archive.domain.catalogue import CatalogueError
from services.archive.domain.dossiers import STATE_LABELS_VI, DossierError, DossierState, submission_due
from services.archive.handlers import catalogue, disposal, dossiers, review
from shared.clock import utcnow, vn_date
from shared.service import ctx_of
from shared.auth import acting_user

router = APIRouter(tags=["dossiers"])
MAX_MATERIAL_BYTES = 50 * 1024 * 1024


def _public(doc: dict) -> dict:
    out = {("code" if k == "_id" else k): v for k, v in doc.items()}
    if "state" in out and out["state"] in DossierState.__members__.values():
        out["state_vi"] = STATE_LABELS_VI[DossierState(out["state"])]
    return out


async def _run(coroutine):
    try:
        return await coroutine
    except LookupError as exc:
        raise HTTPException(404, "Không có hồ sơ này.") from exc
    except DossierError as exc:
        raise HTTPException(403 if exc.forbidden else 409 if exc.conflict else 422, exc.message_vi) from exc
    except CatalogueError as exc:
        raise HTTPException(409 if exc.conflict else 422, exc.message_vi) from exc
    except ConcurrentChange as exc:
        raise HTTPException(409, "Hồ sơ vừa được người khác cập nhật; hãy tải lại và thử lại.") from exc


class EntryIn(BaseModel):
    notation: str = Field(description="số và ký hiệu hồ sơ, ví dụ 01.VP")
    title: str = Field(min_length=1, max_length=500)
    retention: str = Field(description="«Vĩnh viễn» hoặc số năm, ví dụ «10 năm»")
    keeper: str = Field(description="người lập hồ sơ")
    heading: str = Field("", max_length=200, description="đề mục")
    note: str = Field("", max_length=500)


class CatalogueIn(BaseModel):
    by: str | None = None  # the token's user when omitted
    entries: list[EntryIn] = Field(min_length=1, max_length=2000)


class ProposalIn(BaseModel):
    by: str | None = None  # the token's user when omitted
    notation: str
    title: str = Field(min_length=1, max_length=500)
    retention: str
    heading: str = ""
    note: str = Field("", max_length=500)


class DecisionIn(BaseModel):
    by: str | None = None  # the token's user when omitted
    approve: bool
    reason: str = Field("", max_length=2000)


class Actor(BaseModel):
    by: str | None = None  # the token's user when omitted


class WithReason(BaseModel):
    by: str | None = None  # the token's user when omitted
    reason: str = Field(min_length=1, max_length=2000)


class OpenIn(BaseModel):
    by: str | None = None  # the token's user when omitted
    year: int
    notation: str
    rights: str = "Công khai"
    language: str = "Tiếng Việt"
    description: str = Field("", max_length=500)


class FieldsIn(BaseModel):
    by: str | None = None  # the token's user when omitted
    title: str | None = Field(None, max_length=500)
    rights: str | None = None
    language: str | None = Field(None, max_length=50)
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    description: str | None = Field(None, max_length=500)
    retention: str | None = None


class ItemIn(BaseModel):
    by: str | None = None  # the token's user when omitted
    record_id: str


class ReturnIn(BaseModel):
    by: str | None = None  # the token's user when omitted
    reasons: str = Field(min_length=1, max_length=4000)


# --- catalogue (R-10.1) --------------------------------------------------------------------

@router.get("/catalogue/{year}")
async def get_catalogue(year: int, request: Request) -> list[dict]:
    return [{("id" if k == "_id" else k): v for k, v in e.items()} for e in await catalogue.entries(ctx_of(request), year)]


@router.post("/catalogue/{year}/entries", status_code=201)
async def add_catalogue_entries(year: int, body: CatalogueIn, request: Request) -> dict:
    docs = await _run(catalogue.add_entries(ctx_of(request), year, [e.model_dump() for e in body.entries], by=acting_user(request, body.by)))
    return {"added": [d["_id"] for d in docs]}


@router.post("/catalogue/{year}/proposals", status_code=201)
async def propose_entry(year: int, body: ProposalIn, request: Request) -> dict:
    doc = await _run(catalogue.propose(ctx_of(request), year, by=acting_user(request, body.by), notation=body.notation, title=body.title,
                                       retention=body.retention, heading=body.heading, note=body.note))
    return {"id": doc["_id"], "state": doc["state"]}


@router.post("/catalogue/{year}/proposals/{notation}/decision")
async def decide_entry(year: int, notation: str, body: DecisionIn, request: Request) -> dict:
    doc = await _run(catalogue.decide(ctx_of(request), year, notation, by=acting_user(request, body.by), approve=body.approve, reason=body.reason))
    return {"id": doc["_id"], "state": doc["state"]}


# --- dossiers (R-10.1 …) ----------------------------------------------------------------

@router.get("/dossiers")
async def list_dossiers(request: Request, user: str | None = None, year: int | None = None, state: str | None = None) -> list[dict]:
    return [_public(d) for d in await _run(dossiers.list_visible(ctx_of(request), acting_user(request, user), year=year, state=state))]


@router.get("/dossiers/due-for-submission")
async def due_for_submission(request: Request, within_days: int = 30) -> list[dict]:
    """Closed dossiers owed to the archive within `within_days` (NĐ 30 Phụ lục VI: notified 30 days ahead)."""
    rows = await ctx_of(request).store.db[repo.DOSSIERS].find({"state": DossierState.CLOSED.value},
                                                              projection={"history": 0}).to_list()
    horizon = vn_date(utcnow()) + dt.timedelta(days=within_days)
    out = []
    for d in rows:
        due = submission_due(d)
        if due and due <= horizon and (d["retention"]["permanent"] or (d["retention"].get("years") or 0) >= 5):
            out.append({**_public(d), "submission_due": due.isoformat()})
    return sorted(out, key=lambda d: d["submission_due"])


@router.get("/dossiers/expired")
async def expired_dossiers(request: Request) -> list[dict]:
    """R-11.1: dossiers whose retention has run out, for the archivist."""
    return [_public(d) for d in await disposal.expired(ctx_of(request))]


@router.get("/tombstones")
async def tombstones(request: Request, limit: int = 100) -> list[dict]:
    rows = await ctx_of(request).store.db[repo.TOMBSTONES].find({}, sort=[("destroyed_at", -1)], limit=min(limit, 1000)).to_list()
    return [_public(t) for t in rows]


@router.get("/dossiers/{code}")
async def get_dossier(code: str, request: Request, user: str | None = None) -> dict:
    return _public(await _run(dossiers.get_visible(ctx_of(request), code, acting_user(request, user))))


@router.post("/dossiers", status_code=201)
async def open_dossier(body: OpenIn, request: Request) -> dict:
    return _public(await _run(dossiers.open_dossier(ctx_of(request), year=body.year, notation=body.notation, by=acting_user(request, body.by),
                                                    rights=body.rights, language=body.language,
                                                    description=body.description)))


@router.patch("/dossiers/{code}")
async def update_dossier(code: str, body: FieldsIn, request: Request) -> dict:
    fields = body.model_dump(exclude_unset=True, exclude={"by"})
    return _public(await _run(dossiers.update_fields(ctx_of(request), code, by=acting_user(request, body.by), fields=fields)))


@router.post("/dossiers/{code}/items")
async def add_item(code: str, body: ItemIn, request: Request) -> dict:
    return _public(await _run(dossiers.add_item(ctx_of(request), code, record_id=body.record_id, by=acting_user(request, body.by))))


@router.delete("/dossiers/{code}/items/{record_id}")
async def remove_item(code: str, record_id: str, request: Request, by: str | None = None) -> dict:
    return _public(await _run(dossiers.remove_item(ctx_of(request), code, record_id=record_id, by=acting_user(request, by))))


@router.post("/dossiers/{code}/materials")
async def add_material(code: str, request: Request, file: UploadFile = File(...), by: str | None = Form(None),
                       title: str = Form(..., min_length=1, max_length=500),
                       kind: str = Form("Tài liệu liên quan", max_length=100)) -> dict:
    data = await file.read(MAX_MATERIAL_BYTES + 1)
    if len(data) > MAX_MATERIAL_BYTES:
        raise HTTPException(413, "Tệp lớn hơn 50 MB.")
    return _public(await _run(dossiers.add_material(ctx_of(request), code, by=acting_user(request, by), data=data,
                                                    filename=file.filename or "tai-lieu", title=title, kind=kind)))


@router.post("/dossiers/{code}/close")
async def close_dossier(code: str, body: Actor, request: Request) -> dict:
    return _public(await _run(dossiers.close(ctx_of(request), code, by=acting_user(request, body.by))))


@router.post("/dossiers/{code}/reopen")
async def reopen_dossier(code: str, body: WithReason, request: Request) -> dict:
    return _public(await _run(dossiers.reopen(ctx_of(request), code, by=acting_user(request, body.by), reason=body.reason)))


@router.post("/dossiers/{code}/submit")
async def submit_dossier(code: str, body: Actor, request: Request) -> dict:
    return _public(await _run(dossiers.submit(ctx_of(request), code, by=acting_user(request, body.by))))


# --- the agency archive (R-11.3) ---------------------------------------------------------------

@router.post("/dossiers/{code}/review")
async def review_dossier(code: str, body: Actor, request: Request) -> dict:
    return _public(await _run(review.review(ctx_of(request), code, by=acting_user(request, body.by))))


@router.post("/dossiers/{code}/accept")
async def accept_dossier(code: str, body: Actor, request: Request) -> dict:
    return _public(await _run(review.accept(ctx_of(request), code, by=acting_user(request, body.by))))


@router.post("/dossiers/{code}/return")
async def return_dossier(code: str, body: ReturnIn, request: Request) -> dict:
    return _public(await _run(review.return_to_officer(ctx_of(request), code, by=acting_user(request, body.by), reasons=body.reasons)))


# --- retention and disposal (R-11.1) --------------------------------------------------------------

@router.post("/dossiers/{code}/disposal/propose")
async def propose_disposal(code: str, body: WithReason, request: Request) -> dict:
    return _public(await _run(disposal.propose(ctx_of(request), code, by=acting_user(request, body.by), reason=body.reason)))


@router.post("/dossiers/{code}/disposal/approve")
async def approve_disposal(code: str, body: Actor, request: Request) -> dict:
    return _public(await _run(disposal.approve(ctx_of(request), code, by=acting_user(request, body.by))))


@router.post("/dossiers/{code}/disposal/reject")
async def reject_disposal(code: str, body: WithReason, request: Request) -> dict:
    return _public(await _run(disposal.reject(ctx_of(request), code, by=acting_user(request, body.by), reason=body.reason)))


@router.post("/dossiers/{code}/disposal/restore")
async def restore_dossier(code: str, body: WithReason, request: Request) -> dict:
    return _public(await _run(disposal.restore(ctx_of(request), code, by=acting_user(request, body.by), reason=body.reason)))


@router.post("/dossiers/{code}/hold")
async def place_hold(code: str, body: WithReason, request: Request) -> dict:
    return _public(await _run(disposal.set_hold(ctx_of(request), code, by=acting_user(request, body.by), reason=body.reason, hold=True)))


@router.post("/dossiers/{code}/hold/release")
async def release_hold(code: str, body: WithReason, request: Request) -> dict:
    return _public(await _run(disposal.set_hold(ctx_of(request), code, by=acting_user(request, body.by), reason=body.reason, hold=False)))
