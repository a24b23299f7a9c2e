"""The chairman's written delegations to use a key (R-8.3a): recorded with who, from when until
when and by which document; revocable; every change audited. Until signed-in accounts arrive
(issue 6) the chairman is named in the request."""

from __future__ import annotations

import datetime as dt
import uuid

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from services.signing.adapters import repository as repo
from services.signing.domain import custody
from shared.clock import utcnow
from shared.service import ctx_of
from shared.staff import load_staff
from shared.auth import acting_user

router = APIRouter(tags=["key custody"])


class DelegationIn(BaseModel):
    user: str = Field(min_length=1, description="cán bộ được ủy quyền")
    key_label: str = Field(min_length=1)
    valid_from: dt.datetime
    valid_until: dt.datetime
    document: str = Field(min_length=1, max_length=200, description="số, ký hiệu văn bản ủy quyền")
    granted_by: str | None = Field(None, min_length=1, description="Chủ tịch UBND xã (the caller)")


class RevokeIn(BaseModel):
    revoked_by: str | None = Field(None, min_length=1)
    reason: str = Field("", max_length=1000)


def _public(row: dict) -> dict:
    return {("id" if k == "_id" else k): v for k, v in row.items()}


@router.post("/delegations", status_code=201)
async def grant(body: DelegationIn, request: Request) -> dict:
    ctx = ctx_of(request)
    body.granted_by = acting_user(request, custody.user_of(body.granted_by) if body.granted_by else None)
    if body.valid_from.tzinfo is None or body.valid_until.tzinfo is None:
        raise HTTPException(422, {"problems": ["Thời điểm phải ghi múi giờ (ví dụ +07:00)."]})
    problems = custody.check_delegation(user=body.user, key_label=body.key_label, granted_by=body.granted_by,
                                        valid_from=body.valid_from, valid_until=body.valid_until, document=body.document,
                                        staff=load_staff(ctx.settings.staff_file), holders=ctx.settings.holders_of_keys())
    if problems:
        raise HTTPException(422, {"problems": problems})
    row = {"_id": uuid.uuid4().hex, "user": custody.user_of(body.user), "key_label": body.key_label,
           "valid_from": body.valid_from, "valid_until": body.valid_until, "document": body.document.strip(),
           "granted_by": custody.user_of(body.granted_by), "granted_at": utcnow(), "revoked_at": None}

    async def work(uow):
        await uow.db[repo.DELEGATIONS].insert_one(row, session=uow.session)
        uow.audit("key.delegated", subject_type="key", subject_id=body.key_label, actor=f"user:{row['granted_by']}",
                  details={"delegation": row["_id"], "user": row["user"], "until": body.valid_until.isoformat(),
                           "document": row["document"]})

    await ctx.store.transaction(work)
    return _public(row)


@router.get("/delegations")
async def list_delegations(request: Request, key_label: str | None = None) -> list[dict]:
    query = {"key_label": key_label} if key_label else {}
    rows = await ctx_of(request).store.db[repo.DELEGATIONS].find(query, sort=[("granted_at", -1)]).to_list()
    return [_public(r) for r in rows]


@router.post("/delegations/{delegation_id}/revoke")
async def revoke(delegation_id: str, body: RevokeIn, request: Request) -> dict:
    ctx = ctx_of(request)
    body.revoked_by = acting_user(request, custody.user_of(body.revoked_by) if body.revoked_by else None)
    revoker = load_staff(ctx.settings.staff_file).get(custody.user_of(body.revoked_by))
    if revoker is None or revoker.role.value != "chairman":
        raise HTTPException(422, {"problems": ["Chỉ Chủ tịch UBND xã được thu hồi ủy quyền."]})

    async def work(uow):
        result = await uow.db[repo.DELEGATIONS].find_one_and_update(
            {"_id": delegation_id, "revoked_at": None},
            {"$set": {"revoked_at": utcnow(), "revoked_by": revoker.user, "revoke_reason": body.reason}},
            session=uow.session, return_document=True)
        if result is None:
            return None
        uow.audit("key.delegation_revoked", subject_type="key", subject_id=result["key_label"], actor=f"user:{revoker.user}",
                  details={"delegation": delegation_id, "reason": body.reason})
        return result

    row = await ctx.store.transaction(work)
    if row is None:
        raise HTTPException(404, "Không có ủy quyền này, hoặc đã thu hồi.")
    return _public(row)
