"""The signing service's part of the yearly report (R-12.6): signatures made per key."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request
from pymongo.asynchronous.database import AsyncDatabase

from services.signing.adapters import repository as repo
from services.signing.domain import reports
from shared.clock import utcnow
from shared.report_period import Period, request_year_part
from shared.service import ctx_of

router = APIRouter(tags=["reports"])


async def year_signatures(db: AsyncDatabase, period: Period) -> list[dict]:
    starts, ends = period.utc_bounds()
    return await db[repo.SIGNATURES].find(
        {"at": {"$gte": starts, "$lt": ends}},
        projection={"key_label": 1, "role": 1, "outcome": 1, "level": 1, "custody": 1, "at": 1}).to_list()


@router.get("/reports/year/{year}")
async def year_report(year: int, request: Request, start: dt.date | None = Query(None, alias="from"),
                      end: dt.date | None = Query(None, alias="to")) -> dict:
    """R-12.6: signatures per key in the year, or an ad-hoc part of it (`from`, `to` within the year)."""
    period = request_year_part(year, start, end)
    rows = await year_signatures(ctx_of(request).store.db, period)
    return {"year": year, "period": period.to_dict(), "as_of": period.as_of(utcnow()), **reports.yearly_report(rows, period)}
