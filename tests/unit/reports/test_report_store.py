"""The reports' queries against the real store (R-12.4, R-12.6): what each service reads from its
own database is what the pure rules need — documents written with the real handling rules, the
moments the store hands back (aware UTC), the period's bounds in UTC — and the figures come out
the same as from the rows in memory."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.archive.adapters import repository as archive_repo
from services.archive.domain import reports as archive_reports
from services.archive.entrypoints import reports_api as archive_api
from services.dispatch.adapters import repository as dispatch_repo
from services.dispatch.domain import reports as dispatch_reports
from services.dispatch.entrypoints import reports_api as dispatch_api
from services.dispatch.handlers.drafts import DRAFTS
from services.intake.adapters import repository as intake_repo
from services.intake.domain import reports as intake_reports
from services.intake.domain.handling import TaskRequest
from services.intake.entrypoints import reports_api as intake_api
from services.signing.adapters import repository as signing_repo
from services.signing.domain import reports as signing_reports
from services.signing.entrypoints import reports_api as signing_api
from shared.clock import UTC
from shared.db import Store
from shared.report_period import Period
from tests.unit.reports.test_incoming_figures import CALENDAR, LATER, assign, complete, document, receive, refused, vn
from tests.unit.reports.test_outgoing_figures import draft, outgoing


@pytest.fixture
async def store(settings):
    store = Store(settings.mongodb_url, f"{settings.database_prefix}_reports")
    yield store
    await store.client.drop_database(store.db.name)
    await store.close()


async def test_intake_reads_the_tasks_and_counts_them_like_the_rules(store):
    await intake_repo.ensure_indexes(store.db)
    on_time = complete(receive(assign(document("a", arrived_at=vn("2026-04-24"), registered_at=vn("2026-04-24")),
                                      vn("2026-04-24", 14)), "cc.tuphap", vn("2026-04-24", 15)), "cc.tuphap", vn("2026-04-28", 23))
    late = complete(receive(assign(document("b", arrived_at=vn("2026-04-24"), registered_at=vn("2026-04-24")),
                                   vn("2026-04-24", 14)), "cc.tuphap", vn("2026-04-24", 15)), "cc.tuphap", vn("2026-04-29", 8))
    waiting = receive(assign(document("c"), vn("2026-04-24", 14)), "cc.tuphap", vn("2026-04-24", 15))
    other = assign(document("d"), vn("2026-04-24", 14), lead=TaskRequest("cc.diachinh", 2))
    # Before 01/04 in Vietnam (31/03 23:00) — stored as 16:00 UTC on 31/03.
    march = assign(document("e", arrived_at=dt.datetime(2026, 3, 31, 16, 0, tzinfo=UTC)), dt.datetime(2026, 3, 31, 16, 0, tzinfo=UTC))
    unassigned = document("f")
    for i, row in enumerate([on_time, late, waiting, other, march, unassigned, refused("r", "signature")]):
        numbered = {"register": {"year": 2026, "number": i + 1}} if row.get("register") else {}
        await store.db[intake_repo.DOCUMENTS].insert_one({**row, **numbered, "package_id": f"p{i}"})
    april = Period(dt.date(2026, 4, 1), dt.date(2026, 4, 30))

    rows = await intake_api.assigned_documents(store.db, ["cc.tuphap"])
    assert sorted(r["_id"] for r in rows) == ["a", "b", "c", "e"]
    stored = await store.db[intake_repo.DOCUMENTS].find_one({"_id": "a"})
    assert stored["assignment"]["tasks"][0]["deadline"] == dt.datetime(2026, 4, 28, 16, 59, 59, tzinfo=UTC)  # 23:59:59 VN
    figures = intake_reports.officer_report(rows, april, now=LATER, calendar=CALENDAR, officers=["cc.tuphap"])["cc.tuphap"]
    assert (figures["received"], figures["on_time"], figures["late"], figures["outstanding"], figures["overdue"]) == (3, 1, 1, 2, 1)  # e is not received: no clock yet
    everyone = intake_reports.officer_report(await intake_api.assigned_documents(store.db, None), april, now=LATER,
                                             calendar=CALENDAR)
    assert set(everyone) == {"cc.tuphap", "cc.diachinh"}

    year = Period.year(2026)
    await store.db[intake_repo.RECALLS].insert_one({"_id": "x", "kind": "recall", "state": "agreed", "received_at": vn("2026-05-01")})
    documents, recalls = await intake_api.year_documents(store.db, year), await intake_api.year_recalls(store.db, year)
    report = intake_reports.yearly_report(documents, recalls, year, now=LATER, calendar=CALENDAR)
    assert report["incoming"]["received"] == 4  # a, b, the March one (16:00 UTC = 23:00 VN), the refused one
    assert report["incoming"]["refused_by_reason"] == {"Chữ ký số": 1}
    assert report["incoming"]["recall_requests"] == {"recall": {"agreed": 1, "refused": 0, "total": 1}}
    assert report["assignments"]["completed_on_time"] == 1 and report["assignments"]["completed_late"] == 1
    last_year = intake_reports.yearly_report(await intake_api.year_documents(store.db, Period.year(2025)), [],
                                             Period.year(2025), now=LATER, calendar=CALENDAR)
    assert last_year["incoming"]["received"] == 0


async def test_dispatch_archive_and_signing_read_their_own_rows(store):
    drafts = [draft("d1", "cc.tuphap", vn("2026-05-04"), approved=vn("2026-05-05")), draft("d2", "cc.diachinh", vn("2026-05-06"))]
    await store.db[DRAFTS].insert_many(drafts)
    await store.db[dispatch_repo.OUTGOING].insert_many([
        outgoing("o1", draft_id="d1", signed=vn("2026-05-05"), issued=vn("2026-05-06", 13)),  # after noon the next morning: late
        outgoing("o2", signed=vn("2026-05-05"), issued=vn("2026-05-05", 15))])
    mine, theirs = await dispatch_api.officer_rows(store.db, ["cc.tuphap"])
    assert [d["_id"] for d in mine] == ["d1"] and [o["_id"] for o in theirs] == ["o1"]
    row = dispatch_reports.officer_report(mine, theirs, Period(dt.date(2026, 5, 1), dt.date(2026, 5, 31)), now=LATER)["cc.tuphap"]
    assert (row["drafts_written"], row["drafts_approved"], row["issued"]) == (1, 1, 1)
    year = Period.year(2026)
    report = dispatch_reports.yearly_report(*(await dispatch_api.year_rows(store.db, year)), year, now=LATER)
    assert (report["outgoing"]["issued"], report["outgoing"]["issued_late"], report["drafts"]["written"]) == (2, 1, 2)

    await store.db[archive_repo.DOSSIERS].insert_many([
        {"_id": "D1", "creator": "cc.tuphap", "state": "submitted", "year": 2026, "opened_at": vn("2026-05-01"),
         "history": [{"at": vn("2026-05-01"), "action": "opened"}, {"at": vn("2026-06-01"), "action": "closed"},
                     {"at": vn("2026-06-02"), "action": "submitted"}]},
        {"_id": "D2", "creator": "cc.diachinh", "state": "open", "year": 2026, "opened_at": vn("2026-05-01"),
         "history": [{"at": vn("2026-05-01"), "action": "opened"}]}])
    await store.db[archive_repo.CATALOGUE].insert_one({"_id": "2026:01.TP", "year": 2026, "state": "approved",
                                                       "history": [{"action": "approved"}]})
    kept = await archive_api.keeper_dossiers(store.db, ["cc.tuphap"])
    assert [d["_id"] for d in kept] == ["D1"]
    june = Period(dt.date(2026, 6, 1), dt.date(2026, 6, 30))
    assert archive_reports.officer_report(kept, june, now=LATER)["cc.tuphap"]["submitted"] == 1
    rows = await archive_api.year_rows(store.db, year, 2026)
    yearly = archive_reports.yearly_report(rows["dossiers"], rows["catalogue"], rows["records"], rows["tombstones"], year,
                                           year=2026, now=LATER)
    assert yearly["dossiers"]["opened"] == 2 and yearly["dossiers"]["submitted"] == 1 and yearly["catalogue"]["planned"] == 1

    await store.db[signing_repo.SIGNATURES].insert_many([
        {"_id": uuid.uuid4().hex, "key_label": "agency", "role": "agency", "outcome": "signed", "level": "B-T",
         "custody": "holder", "at": dt.datetime(2026, 12, 31, 16, 59, tzinfo=UTC)},  # 23:59 on 31/12 in Vietnam
        {"_id": uuid.uuid4().hex, "key_label": "agency", "role": "agency", "outcome": "signed", "level": "B-T",
         "custody": "holder", "at": dt.datetime(2026, 12, 31, 17, 0, tzinfo=UTC)}])  # already 2027 in Vietnam
    signatures = signing_reports.yearly_report(await signing_api.year_signatures(store.db, year), year)["signatures"]
    assert signatures["by_key"]["agency"]["signed"] == 1
