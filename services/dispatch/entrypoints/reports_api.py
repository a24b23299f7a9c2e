"""Reports from dispatch's records (R-9.4, R-12.4, R-12.6, R-4.2a, R-7.5): each officer's drafts and
the documents issued from them for a period, and dispatch's part of the yearly report. Who may
see which: the rule table (`domain/access.py`) and, inside the route, an officer only their own row."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request
from pymongo.asynchronous.database import AsyncDatabase

from services.dispatch.adapters import repository as repo
from services.dispatch.domain import reports
from services.dispatch.handlers.drafts import DRAFTS
from shared.clock import utcnow
from shared.report_period import Period, request_period, request_year_part, visible_officers, officer_report_body
from shared.service import ctx_of
from shared.staff import load_staff

router = APIRouter(tags=["reports"])

DRAFT_PROJECTION = {"author": 1, "created_at": 1, "state": 1, "history.action": 1, "history.at": 1, "outgoing_key": 1}
OUTGOING_PROJECTION = {"state": 1, "type_name": 1, "urgency": 1, "due_date": 1, "draft_id": 1, "created_at": 1,
                       "issued_at": 1, "issue_due_at": 1, "cancellation.at": 1, "format_check.at": 1, "recall": 1,
                       "deliveries.organ_id": 1, "deliveries.channel": 1, "deliveries.paper": 1, "deliveries.replied": 1,
                       "deliveries.recall_state": 1}


async def officer_rows(db: AsyncDatabase, officers: list[str] | None) -> tuple[list[dict], list[dict]]:
    """The drafts of these officers (all when None) and the outgoing documents made from them."""
    query = {"author": {"$in": officers}} if officers is not None else {}
    drafts = await db[DRAFTS].find(query, projection=DRAFT_PROJECTION).to_list()
    ids = [d["_id"] for d in drafts]
    outgoing = await db[repo.OUTGOING].find({"draft_id": {"$in": ids}}, projection=OUTGOING_PROJECTION).to_list() if ids else []
    return drafts, outgoing


async def year_rows(db: AsyncDatabase, period: Period) -> tuple[list[dict], list[dict]]:
    starts, ends = period.utc_bounds()
    within = {"$gte": starts, "$lt": ends}
    drafts = await db[DRAFTS].find({"$or": [{"created_at": within}, {"history.at": within}]},
                                   projection=DRAFT_PROJECTION).to_list()
    outgoing = await db[repo.OUTGOING].find(
        {"$or": [{"issued_at": within}, {"issue_due_at": within}, {"created_at": within}, {"cancellation.at": within},
                 {"recall.requested_at": within}, {"format_check.at": within}]},
        projection=OUTGOING_PROJECTION).to_list()
    return drafts, outgoing


@router.get("/reports/officers")
async def officers_report(request: Request, start: dt.date | None = Query(None, alias="from"),
                          end: dt.date | None = Query(None, alias="to"), officer: str | None = None) -> dict:
    """R-12.4: per officer, drafts written, submitted, returned, approved, documents issued from
    them, and replies still awaited (R-7.5) in the period (whole days, Vietnam time, both included)."""
    ctx = ctx_of(request)
    now = utcnow()
    period = request_period(start, end, now=now)
    staff = load_staff(ctx.settings.staff_file)
    officers = visible_officers(request.state.principal, officer, staff)
    drafts, outgoing = await officer_rows(ctx.store.db, officers)
    rows = reports.officer_report(drafts, outgoing, period, now=now, officers=officers)
    return officer_report_body(period, now, rows, staff, reports.OFFICER_FIGURES, reports.FIGURE_LABELS_VI)


@router.get("/reports/year/{year}")
async def year_report(year: int, request: Request, start: dt.date | None = Query(None, alias="from"),
                      end: dt.date | None = Query(None, alias="to")) -> dict:
    """R-12.6: dispatch's part of the yearly report on how the regulation is applied — the year, or an
    ad-hoc part of it (`from`, `to` within the year)."""
    ctx = ctx_of(request)
    now = utcnow()
    period = request_year_part(year, start, end)
    drafts, outgoing = await year_rows(ctx.store.db, period)
    return {"year": year, "period": period.to_dict(), "as_of": period.as_of(now),
            **reports.yearly_report(drafts, outgoing, period, now=now)}
