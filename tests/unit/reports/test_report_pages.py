"""The report pages of the portal in process (R-9.4, R-12.4, R-12.6, R-15.5): real accounts and
sessions on the real store, the other services replaced by their recorded answers. Who opens
which page; an officer's page asks the services for her own row whatever the address says; a
silent service leaves its columns empty; the exports are attachments that open."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from services.portal.adapters.services import ServiceError
from tests.portal.portal_client import running_portal, signed_in

OFFICERS = {
    "intake": {"as_of": "2026-04-30T17:00:00+07:00", "officers": [
        {"officer": "cc.tuphap", "name": "Hoàng Thị Lan", "received": 3, "on_time": 2, "late": 1, "outstanding": 0, "overdue": 0,
         "replies_owed": 0, "replies_overdue": 0,
         "overdue_items": []},
        {"officer": "cc.diachinh", "name": "Đỗ Văn Nam", "received": 1, "on_time": 0, "late": 0, "outstanding": 1, "overdue": 1,
         "replies_owed": 1, "replies_overdue": 1,
         "overdue_items": [{"id": "doc-9", "code": "9/UBND", "subject": "Về việc đo đạc đất", "role": "lead",
                            "deadline": "2026-04-20T23:59:59+07:00"}]}]},
    "dispatch": {"officers": [{"officer": "cc.tuphap", "drafts_written": 2, "issued": 1, "replies_awaited": 0}]},
}


class RecordedServices:
    """Stands for the other services: answers by (service, path), records who asked what."""

    def __init__(self, silent: tuple[str, ...] = ()) -> None:
        self.calls: list[tuple[str, str, str, dict]] = []
        self.silent = silent

    async def get(self, caller, service: str, path: str, **kwargs):
        self.calls.append((caller.user, service, path, kwargs.get("params") or {}))
        if service in self.silent:
            raise ServiceError(service, 503, f"Hệ thống {service} không trả lời; hãy thử lại sau.")
        if path == "/reports/officers":
            officer = (kwargs.get("params") or {}).get("officer")
            answer = OFFICERS.get(service, {"officers": []})
            return {**answer, "officers": [r for r in answer["officers"] if officer in (None, r["officer"])]}
        if path.startswith("/reports/year/"):
            return None
        raise AssertionError(f"unexpected call {service} {path}")

    async def close(self) -> None:
        pass


@pytest.fixture
async def portal(settings):
    async with running_portal(settings.model_copy(update={"portal_cookie_secure": False})) as app:
        app.state.ctx.extras["services"] = RecordedServices()
        yield app


async def test_leaders_see_every_officer_with_totals_charts_and_the_overdue_documents(portal):
    async with signed_in(portal, "chutich") as chairman:
        page = await chairman.get("/bao-cao?tu=2026-04-01&den=2026-04-30")
    assert page.status_code == 200, page.text
    html = page.text
    assert 'id="officer-cc.tuphap"' in html and 'id="officer-cc.diachinh"' in html and 'id="officer-cc.vanphong"' in html
    assert 'id="officer-totals"' in html and html.count("<svg") == 2 and 'id="nav-reports"' in html
    assert "Về việc đo đạc đất" in html and 'href="/van-ban-den/doc-9"' in html  # to steer
    assert 'id="can_bo"' in html  # leaders choose an officer
    asked = [(s, p["from"], p["to"]) for _, s, path, p in portal.state.ctx.extras["services"].calls if path == "/reports/officers"]
    assert sorted(asked) == [(s, "2026-04-01", "2026-04-30") for s in ("archive", "dispatch", "intake")]


async def test_an_officer_is_shown_and_asks_for_her_own_row_only(portal):
    async with signed_in(portal, "cc.tuphap") as officer:
        page = await officer.get("/bao-cao?tu=2026-04-01&den=2026-04-30&can_bo=cc.diachinh")
        assert page.status_code == 200
        assert 'id="officer-cc.tuphap"' in page.text and 'id="officer-cc.diachinh"' not in page.text
        assert 'id="can_bo"' not in page.text and 'id="nav-year-report"' not in page.text
        assert (await officer.get("/bao-cao/nam")).status_code == 403
        export = await officer.get("/bao-cao/xuat.xlsx?tu=2026-04-01&den=2026-04-30&can_bo=cc.diachinh")
    officers = {p.get("officer") for user, _, path, p in portal.state.ctx.extras["services"].calls if path == "/reports/officers"}
    assert officers == {"cc.tuphap"}  # never another's, whatever the address asked
    rows = [[c.value for c in r] for r in load_workbook(io.BytesIO(export.content)).active.iter_rows()]
    assert [r[1] for r in rows if r[1] not in (None, "Cán bộ")] == ["Hoàng Thị Lan", "Tổng cộng"]


@pytest.mark.parametrize(("user", "officers", "year"), [("vanthu", 403, 200), ("luutru", 403, 200), ("vanhanh", 403, 403),
                                                        ("phochutich", 200, 200)])
async def test_who_opens_which_report(portal, user, officers, year):
    async with signed_in(portal, user) as client:
        assert (await client.get("/bao-cao")).status_code == officers
        assert (await client.get("/bao-cao/xuat.pdf")).status_code == officers
        assert (await client.get("/bao-cao/nam?nam=2026")).status_code == year
        assert (await client.get("/bao-cao/nam/xuat.xlsx?nam=2026")).status_code == year


async def test_a_silent_service_leaves_its_columns_empty_and_bad_input_is_refused_in_vietnamese(portal):
    portal.state.ctx.extras["services"] = RecordedServices(silent=("archive",))
    async with signed_in(portal, "chutich") as chairman:
        page = await chairman.get("/bao-cao?tu=2026-04-01&den=2026-04-30")
        assert page.status_code == 200 and 'id="report-missing"' in page.text and "lưu trữ" in page.text
        assert 'class="num dossiers_closed">—<' in page.text and 'class="num received">3<' in page.text
        backwards = await chairman.get("/bao-cao?tu=2026-05-01&den=2026-04-01")
        assert backwards.status_code == 422 and "trước ngày đầu kỳ" in backwards.text
        assert (await chairman.get("/bao-cao?tu=01/04/2026")).status_code == 422
        assert (await chairman.get("/bao-cao/xuat.docx")).status_code == 404
        assert (await chairman.get("/bao-cao/nam?nam=hai-nghin")).status_code == 422
        pdf = await chairman.get("/bao-cao/xuat.pdf?tu=2026-04-01&den=2026-04-30")
        part = await chairman.get("/bao-cao/nam?nam=2026&tu=2026-04-01&den=2026-06-30")  # an ad-hoc report
        assert part.status_code == 200 and "từ ngày 01/04/2026 đến ngày 30/06/2026" in part.text
        assert (await chairman.get("/bao-cao/nam?nam=2026&tu=2025-12-01")).status_code == 422
    asked = {p.get("from") for _, _, path, p in portal.state.ctx.extras["services"].calls if path == "/reports/year/2026"}
    assert asked == {"2026-04-01"}
    assert pdf.status_code == 200 and pdf.content[:5] == b"%PDF-"
    assert 'filename="bao-cao-can-bo-2026-04-01-2026-04-30.pdf"' in pdf.headers["content-disposition"]
