"""Reports from the archive's records (R-9.4, R-12.4, R-12.6): each keeper's dossiers for a period,
and the archive's part of the yearly report. Who may see which: the rule table
(`domain/access.py`) and, inside the route, an officer only their own row."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request
from pymongo.asynchronous.database import AsyncDatabase

from services.archive.adapters import repository as repo
from services.archive.domain import reports
from shared.clock import utcnow
from shared.report_period import Period, request_period, request_year_part, visible_officers, officer_report_body
from shared.service import ctx_of
from shared.staff import load_staff

router = APIRouter(tags=["reports"])

DOSSIER_PROJECTION = {"creator": 1, "state": 1, "year": 1, "archived_at": 1, "history.action": 1, "history.at": 1}


async def keeper_dossiers(db: AsyncDatabase, officers: list[str] | None) -> list[dict]:
    query = {"creator": {"$in": officers}} if officers is not None else {}
    return await db[repo.DOSSIERS].find(query, projection=DOSSIER_PROJECTION).to_list()


async def year_rows(db: AsyncDatabase, period: Period, year: int) -> dict:
    starts, ends = period.utc_bounds()
    within = {"$gte": starts, "$lt": ends}
    return {
        "dossiers": await db[repo.DOSSIERS].find({"$or": [{"history.at": within}, {"opened_at": {"$lt": ends}}]},
                                                 projection=DOSSIER_PROJECTION).to_list(),
        "catalogue": await db[repo.CATALOGUE].find({"year": year}, projection={"year": 1, "state": 1, "history.action": 1}).to_list(),
        "records": await db[repo.RECORDS].find({"stored_at": within}, projection={"source": 1, "stored_at": 1}).to_list(),
        "tombstones": await db[repo.TOMBSTONES].find({"destroyed_at": within}, projection={"destroyed_at": 1}).to_list(),
    }


@router.get("/reports/officers")
async def officers_report(request: Request, start: dt.date | None = Query(None, alias="from"),
                          end: dt.date | None = Query(None, alias="to"), officer: str | None = None) -> dict:
    """R-12.4: per keeper, dossiers opened, documents filed, dossiers closed (R-10.5), submitted,
    accepted and returned by the agency archive (R-11.3) in the period, and those still open."""
    ctx = ctx_of(request)
    now = utcnow()
    period = request_period(start, end, now=now)
    staff = load_staff(ctx.settings.staff_file)
    officers = visible_officers(request.state.principal, officer, staff)
    rows = reports.officer_report(await keeper_dossiers(ctx.store.db, officers), period, now=now, officers=officers)
    return officer_report_body(period, now, rows, staff, reports.OFFICER_FIGURES, reports.FIGURE_LABELS_VI)


@router.get("/reports/year/{year}")
async def year_report(year: int, request: Request, start: dt.date | None = Query(None, alias="from"),
                      end: dt.date | None = Query(None, alias="to")) -> dict:
    """R-12.6: the archive's part of the yearly report: the year's catalogue, and dossiers, disposals,
    records kept in the year or an ad-hoc part of it (`from`, `to` within the year)."""
    ctx = ctx_of(request)
    now = utcnow()
    period = request_year_part(year, start, end)
    rows = await year_rows(ctx.store.db, period, year)
    return {"year": year, "period": period.to_dict(), "as_of": period.as_of(now),
            **reports.yearly_report(rows["dossiers"], rows["catalogue"], rows["records"], rows["tombstones"], period,
                                    year=year, now=now)}
