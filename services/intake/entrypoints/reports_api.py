"""Reports from intake's records (R-9.4, R-12.4, R-12.6): each officer's figures for a period, and
intake's part of the yearly report on applying the regulation. Who may see which: the rule table
(`domain/access.py`) and, inside the route, an officer sees only their own row."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Query, Request
from pymongo.asynchronous.database import AsyncDatabase

from services.intake.adapters import repository as repo
from services.intake.domain import reports
from shared.clock import utcnow
from shared.report_period import Period, request_period, request_year_part, visible_officers, officer_report_body
from shared.service import ctx_of
from shared.staff import load_staff
from shared.workdays import CalendarError, load_calendar

router = APIRouter(tags=["reports"])

TASK_PROJECTION = {"state": 1, "register": 1, "metadata.code": 1, "metadata.subject": 1, "metadata.due_date": 1,
                   "assignment": 1, "handling": 1}
YEAR_PROJECTION = {"state": 1, "source": 1, "arrived_at": 1, "registered_at": 1, "recalled_at": 1, "register": 1,
                   "urgent": 1, "priority": 1, "metadata.type_name": 1, "metadata.priority": 1, "metadata.due_date": 1,
                   "possible_duplicate_of": 1, "verification.checks.name": 1, "verification.checks.outcome": 1,
                   "verification.checks.label_vi": 1, "assignment": 1, "handling": 1, "state_before_recall": 1}


async def assigned_documents(db: AsyncDatabase, officers: list[str] | None) -> list[dict]:
    """Registered documents with a task for these officers (all when None); the rules count
    each task in the period or not (`domain/reports.py`)."""
    query: dict = {"state": "registered", "assignment.tasks.officer": {"$in": officers} if officers is not None
                   else {"$exists": True}}
    return await db[repo.DOCUMENTS].find(query, projection=TASK_PROJECTION).to_list()


async def year_documents(db: AsyncDatabase, period: Period) -> list[dict]:
    starts, ends = period.utc_bounds()
    in_year = {"$gte": starts, "$lt": ends}
    return await db[repo.DOCUMENTS].find(
        {"$or": [{"arrived_at": in_year}, {"registered_at": in_year}, {"recalled_at": in_year},
                 {"state": "registered", "assignment": {"$exists": True}}]},  # outstanding at the year's end
        projection=YEAR_PROJECTION).to_list()


async def year_recalls(db: AsyncDatabase, period: Period) -> list[dict]:
    starts, ends = period.utc_bounds()
    return await db[repo.RECALLS].find({"received_at": {"$gte": starts, "$lt": ends}},
                                       projection={"kind": 1, "state": 1, "received_at": 1}).to_list()


def _calendar(ctx):
    try:
        return load_calendar(ctx.settings.holiday_calendar_file)
    except CalendarError as exc:
        raise HTTPException(503, f"Lịch ngày nghỉ không dùng được: {exc}") from exc


@router.get("/reports/officers")
async def officers_report(request: Request, start: dt.date | None = Query(None, alias="from"),
                          end: dt.date | None = Query(None, alias="to"), officer: str | None = None) -> dict:
    """R-12.4: per officer, documents given to them, handled on time and late, outstanding (and
    overdue) and replies owed (R-10.3) in the period (whole days, Vietnam time, both included)."""
    ctx = ctx_of(request)
    now = utcnow()
    period = request_period(start, end, now=now)
    staff = load_staff(ctx.settings.staff_file)
    officers = visible_officers(request.state.principal, officer, staff)
    documents = await assigned_documents(ctx.store.db, officers)
    rows = reports.officer_report(documents, period, now=now, calendar=_calendar(ctx), officers=officers)
    return officer_report_body(period, now, rows, staff, reports.OFFICER_FIGURES, reports.FIGURE_LABELS_VI)


@router.get("/reports/year/{year}")
async def year_report(year: int, request: Request, start: dt.date | None = Query(None, alias="from"),
                      end: dt.date | None = Query(None, alias="to")) -> dict:
    """R-12.6: intake's part of the yearly report on how the regulation is applied — the year, or an
    ad-hoc part of it (`from`, `to` within the year)."""
    ctx = ctx_of(request)
    now = utcnow()
    period = request_year_part(year, start, end)
    documents = await year_documents(ctx.store.db, period)
    recalls = await year_recalls(ctx.store.db, period)
    return {"year": year, "period": period.to_dict(), "as_of": period.as_of(now),
            **reports.yearly_report(documents, recalls, period, now=now, calendar=_calendar(ctx))}
