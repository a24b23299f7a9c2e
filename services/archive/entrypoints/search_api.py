"""`GET /search`: full text over the archive's records, Vietnamese-aware, filtered, ranked, and
limited to what the user may see (issue 5 item 6). The index is the archive's own SQLite FTS5
file, kept current by `follow_records` (a background task) from the store's change stream."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Query, Request

from services.archive.adapters.search_index import SearchIndex, index_path
from services.archive.domain import search as rules
from shared.logging import get_logger
from shared.service import ServiceContext, ctx_of
from shared.staff import load_staff
from shared.auth import acting_user

log = get_logger(__name__)
router = APIRouter(tags=["search"])
INDEX = "search_index"


def search_index(ctx: ServiceContext) -> SearchIndex:
    index = ctx.extras.get(INDEX)
    if index is None:
        index = ctx.extras[INDEX] = SearchIndex(index_path(ctx.settings.var_dir, ctx.store.db.name))
    return index


async def search_startup(ctx: ServiceContext) -> None:
    await asyncio.to_thread(search_index, ctx)


async def search_shutdown(ctx: ServiceContext) -> None:
    index = ctx.extras.pop(INDEX, None)
    if index is not None:
        index.close()


async def follow_records(ctx: ServiceContext) -> None:
    """Background task: rebuild or resume, then follow `records` and `record_texts`."""
    index = await asyncio.to_thread(search_index, ctx)
    while True:
        try:
            await index.follow(ctx.store.db)
        except asyncio.CancelledError:
            raise
        except Exception:  # never let the index take the archive down; start again
            log.exception("search index follower failed, restarting")
            await asyncio.sleep(5)


async def run_search(ctx: ServiceContext, *, q: str | None, user: str | None, year: int | None = None,
                     type_name: str | None = None, sender: str | None = None, dossier: str | None = None,
                     state: str | None = None, source: str | None = None, limit: int = 20, offset: int = 0) -> dict:
    """The route's work, callable without HTTP."""
    member = load_staff(ctx.settings.staff_file).get(user)
    if member is None:
        raise HTTPException(403, "Người dùng không có trong danh sách cán bộ của xã; không được tra cứu hồ sơ lưu trữ.")
    try:
        filters = rules.validate_filters(rules.Filters(year=year, type_name=_blank(type_name), sender=_blank(sender),
                                                       dossier=_blank(dossier), state=_blank(state), source=_blank(source)))
        terms = rules.parse_terms(q)
    except rules.BadQuery as exc:
        raise HTTPException(422, str(exc)) from exc
    query = rules.SearchQuery(terms=terms, filters=filters, visible_to=rules.visible_to(member), limit=limit, offset=offset)
    found = await asyncio.to_thread(search_index(ctx).search, query)
    return {"q": q or "", "terms": [" ".join(t) for t in terms], "total": found.total, "total_exact": found.total_exact,
            "limit": limit, "offset": offset,
            "results": found.results}


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@router.get("/search")
async def search(request: Request, q: str | None = Query(None, max_length=rules.MAX_QUERY_CHARS), user: str | None = None,
                 year: int | None = None, type: str | None = None, sender: str | None = None, dossier: str | None = None,
                 state: str | None = None, source: str | None = None,
                 limit: int = Query(20, ge=1, le=100), offset: int = Query(0, ge=0, le=10_000)) -> dict:
    return await run_search(ctx_of(request), q=q, user=acting_user(request, user), year=year, type_name=type, sender=sender, dossier=dossier,
                            state=state, source=source, limit=limit, offset=offset)
