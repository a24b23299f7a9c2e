"""The report pages (R-9.4, R-12.4, R-12.6): "Báo cáo" — per officer and per period, tables and
bar charts, XLSX and PDF — and the yearly report on applying the regulation with its export.

Each service computes its own figures from its own database; the portal asks them as the
signed-in user (their token, R-15.5) and puts them side by side (`domain/reports.py`). Who may
open which page is `ACCESS` below (merged into the portal's table by the app); each service
checks again, and an officer asking for someone else's row is refused by the service itself.

- leaders (chairman, vice-chairman) steer the work of everyone (R-9.4): every officer's figures;
- an officer sees their own row only (R-12.4 is also their yearly evaluation; R-15.5);
- the yearly report (R-12.6) is the agency's: compiled by the clerk (Văn phòng – Thống kê) for the
  leaders, read by the archivist for the archive's part; it names no officer;
- the operator runs the system and reports on its operation (R-13), not on documents: neither.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.portal.adapters.report_files import officer_report_file, year_report_file
from services.portal.domain import reports as rules
from services.portal.domain.menu import MenuEntry
from services.portal.entrypoints.web import PageError, PortalRoute, caller, render, try_get
from shared.auth import roles
from shared.clock import utcnow, vn_date
from shared.register_files import FORMATS
from shared.report_period import Period, PeriodError, period_of, year_part
from shared.service import ctx_of
from shared.staff import Role, load_staff

router = APIRouter(route_class=PortalRoute, tags=["reports"])

LEADERS = roles(Role.CHAIRMAN, Role.VICE_CHAIRMAN)
OFFICER_REPORT = LEADERS | roles(Role.OFFICER)
YEAR_REPORT = LEADERS | roles(Role.CLERK, Role.ARCHIVIST)

ACCESS = {
    ("GET", "/bao-cao"): OFFICER_REPORT,
    ("GET", "/bao-cao/xuat.{fmt}"): OFFICER_REPORT,
    ("GET", "/bao-cao/nam"): YEAR_REPORT,
    ("GET", "/bao-cao/nam/xuat.{fmt}"): YEAR_REPORT,
}
MENU = [MenuEntry("reports", "Báo cáo", "/bao-cao"), MenuEntry("year-report", "Báo cáo năm", "/bao-cao/nam")]
HANDLERS = (Role.OFFICER, Role.CLERK)  # who is given documents to handle and drafts (listed even with nothing)


def _date(text: str, what: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PageError(422, f"{what} «{text}» không đúng dạng ngày (năm-tháng-ngày).") from None


def _period(tu: str, den: str) -> Period:
    try:
        return period_of(_date(tu, "Ngày đầu kỳ"), _date(den, "Ngày cuối kỳ"), today=vn_date(utcnow()))
    except PeriodError as exc:
        raise PageError(422, str(exc)) from exc


def _month_end(year: int, month: int) -> dt.date:
    return (dt.date(year, month, 28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)


def shortcuts(today: dt.date) -> list[tuple[str, str, Period]]:
    """Periods one click away: this month, this quarter, this year, last year."""
    quarter = (today.month - 1) // 3 * 3 + 1
    return [("month", "Tháng này", Period(today.replace(day=1), _month_end(today.year, today.month))),
            ("quarter", "Quý này", Period(dt.date(today.year, quarter, 1), _month_end(today.year, quarter + 2))),
            ("year", "Năm nay", Period.year(today.year)),
            ("last-year", "Năm trước", Period.year(today.year - 1))]


async def _officer_report(request: Request, tu: str, den: str, can_bo: str):
    who = caller(request)
    period = _period(tu, den)
    if who.role == Role.OFFICER:
        can_bo = who.user  # their own row (the services refuse anyone else's)
    params = {"from": period.start.isoformat(), "to": period.end.isoformat(), **({"officer": can_bo} if can_bo else {})}
    (intake, e1), (dispatch, e2), (archive, e3) = await asyncio.gather(
        try_get(request, "intake", "/reports/officers", params=params),
        try_get(request, "dispatch", "/reports/officers", params=params),
        try_get(request, "archive", "/reports/officers", params=params))
    # The staff list the accounts are seeded from (shared/staff.py): who is listed even with nothing.
    members = [m.model_dump() for m in load_staff(ctx_of(request).settings.staff_file).members.values()]
    names = {m["user"]: m["name"] for m in members}
    if can_bo:
        listed = [can_bo]
    else:
        listed = [m["user"] for m in members if m.get("role") in HANDLERS]
    table = rules.officer_table({"intake": intake, "dispatch": dispatch, "archive": archive}, names, officers=listed)
    if can_bo:
        table.rows = [r for r in table.rows if r["officer"] == can_bo]
    errors = [e for e in (e1, e2, e3) if e]
    overdue = [{**item, "officer_name": row.get("name") or row["officer"]}
               for row in (intake or {}).get("officers", []) for item in row.get("overdue_items", [])]
    as_of = next((a.get("as_of") for a in (intake, dispatch, archive) if a), None)
    choices = [m for m in members if m.get("role") in HANDLERS] if who.role in LEADERS else []
    return period, can_bo, table, errors, overdue, as_of, choices, names


@router.get("/bao-cao")
async def officers_page(request: Request, tu: str = "", den: str = "", can_bo: str = "") -> Response:
    """R-12.4: per officer and per period — received, on time, late, outstanding and overdue,
    replies owed, drafts, documents issued, dossiers closed and submitted."""
    period, can_bo, table, errors, overdue, as_of, choices, names = await _officer_report(request, tu, den, can_bo)
    query = f"tu={period.start.isoformat()}&den={period.end.isoformat()}" + (f"&can_bo={can_bo}" if can_bo else "")
    return render(request, "reports.html", title="Báo cáo theo cán bộ", period=period, table=table,
                  charts=rules.officer_charts(table), errors=errors, overdue=overdue, as_of=as_of, choices=choices,
                  officer=can_bo, query=query, shortcuts=shortcuts(vn_date(utcnow())),
                  missing=[rules.SERVICE_LABELS_VI[s] for s in table.missing])


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise PageError(404, f"Không có định dạng «{fmt}»: chọn xlsx hoặc pdf.")
    return fmt


def _attachment(body: bytes, media: str, filename: str) -> Response:
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                                     "Cache-Control": "no-store"})


@router.get("/bao-cao/xuat.{fmt}")
async def officers_export(fmt: str, request: Request, tu: str = "", den: str = "", can_bo: str = "") -> Response:
    fmt = _format(fmt)
    period, can_bo, table, errors, overdue, as_of, _, names = await _officer_report(request, tu, den, can_bo)
    if len(errors) == len(rules.OFFICER_SERVICES):
        raise PageError(503, errors[0])
    body, media = officer_report_file(fmt, table, period, as_of=_moment(as_of),
                                      officer_name=names.get(can_bo, can_bo) if can_bo else None, overdue=overdue)
    suffix = f"-{can_bo}" if can_bo else ""
    return _attachment(body, media, f"bao-cao-can-bo-{period.start.isoformat()}-{period.end.isoformat()}{suffix}.{fmt}")


def _moment(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _year(nam: str) -> int:
    if not nam:
        return vn_date(utcnow()).year
    try:
        year = int(nam)
        Period.year(year)
        return year
    except (ValueError, PeriodError):
        raise PageError(422, f"Năm báo cáo «{nam}» không hợp lệ.") from None


def _year_part(year: int, tu: str, den: str) -> Period:
    """The whole year, or an ad-hoc part of it (R-12.6: yearly and ad-hoc reports)."""
    try:
        return year_part(year, _date(tu, "Ngày đầu kỳ"), _date(den, "Ngày cuối kỳ"))
    except PeriodError as exc:
        raise PageError(422, str(exc)) from exc


async def _year_report(request: Request, year: int, period: Period):
    path = f"/reports/year/{year}"
    params = {} if period == Period.year(year) else {"from": period.start.isoformat(), "to": period.end.isoformat()}
    found = await asyncio.gather(*(try_get(request, service, path, params=params)
                                   for service in ("intake", "dispatch", "archive", "signing")))
    answers = dict(zip(("intake", "dispatch", "archive", "signing"), (data for data, _ in found)))
    errors = [error for _, error in found if error]
    as_of = next((a.get("as_of") for a in answers.values() if a), None)
    return rules.year_sections(answers), errors, as_of


@router.get("/bao-cao/nam")
async def year_page(request: Request, nam: str = "", tu: str = "", den: str = "") -> Response:
    """R-12.6: the yearly report on how the regulation is applied, or for a part of the year."""
    year = _year(nam)
    period = _year_part(year, tu, den)
    sections, errors, as_of = await _year_report(request, year, period)
    charts = {s.heading: rules.section_chart(s) for s in sections}
    whole = period == Period.year(year)
    query = f"nam={year}" + ("" if whole else f"&tu={period.start.isoformat()}&den={period.end.isoformat()}")
    return render(request, "reports_year.html", title=f"Báo cáo năm {year}", year=year, period=period, whole=whole,
                  sections=sections, charts=charts, errors=errors, as_of=as_of, query=query)


@router.get("/bao-cao/nam/xuat.{fmt}")
async def year_export(fmt: str, request: Request, nam: str = "", tu: str = "", den: str = "") -> Response:
    fmt = _format(fmt)
    year = _year(nam)
    period = _year_part(year, tu, den)
    sections, errors, as_of = await _year_report(request, year, period)
    if len(errors) == 4:
        raise PageError(503, errors[0])
    whole = period == Period.year(year)
    body, media = year_report_file(fmt, year, sections, as_of=_moment(as_of), period=None if whole else period)
    name = f"bao-cao-nam-{year}" if whole else f"bao-cao-{period.start.isoformat()}-{period.end.isoformat()}"
    return _attachment(body, media, f"{name}.{fmt}")
