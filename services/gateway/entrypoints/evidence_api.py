"""The evidence log for the operator (R-13): its entries in seq order, with the seals that
cover them, and a full verification (the same as `vanthu evidence verify`)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request

from services.gateway.adapters import evidence_store as store
from services.gateway.handlers import evidence
from shared.service import ctx_of

router = APIRouter(tags=["evidence"])


def _public(row: dict) -> dict:
    return {("id" if k == "_id" else k): v for k, v in row.items()}


def _seal(row: dict) -> dict:
    tsa = row.get("tsa") or {}
    return {"seq_from": row["seq_from"], "seq_to": row["seq_to"], "head_hash": row["head_hash"], "sealed_at": row["sealed_at"],
            "tsa_time": tsa.get("gen_time"), "tsa_serial": tsa.get("serial"), "tsa_subject": tsa.get("subject"),
            "token_bytes": len(tsa.get("token") or b"")}


@router.get("/evidence")
async def list_evidence(request: Request, after_seq: int = Query(0, ge=0), limit: int = Query(100, ge=1, le=1000)) -> dict:
    """Chained entries after `after_seq`, oldest first; page on with `next_after_seq`."""
    db = ctx_of(request).store.db
    rows = await store.page(db, after_seq=after_seq, limit=limit)
    seals = []
    if rows:
        first, last = rows[0]["seq"], rows[-1]["seq"]
        seals = await db[store.SEALS].find({"seq_to": {"$gte": first}, "seq_from": {"$lte": last}},
                                           sort=[("seq_from", 1)]).to_list()
    facts = await store.facts(db)
    return {"entries": [_public(r) for r in rows], "seals": [_seal(s) for s in seals],
            "next_after_seq": rows[-1]["seq"] if rows else after_seq, "total": facts.pop("entries"), **facts}


@router.get("/evidence/verify")
async def verify_evidence(request: Request) -> dict:
    ctx = ctx_of(request)
    return (await evidence.verify(ctx.store.db, ctx.settings)).as_dict()
