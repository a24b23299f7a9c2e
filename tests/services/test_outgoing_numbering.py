"""Outgoing numbering through dispatch's own use case on the real store (issue 4 point 2;
R-7.2b): 200 documents numbered at once get 200 distinct consecutive numbers, each written
with its symbol, date and its issuing deadline (R-4.2a), and each with its agency-signature
request in the outbox — none lost, none twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import types
import uuid

import pytest

from services.dispatch.adapters import repository as repo
from services.dispatch.domain import outgoing
from services.dispatch.domain.outgoing import OutgoingState
from services.dispatch.handlers.signatures import _number_and_request_agency_signature
from shared.clock import VN_TZ, utcnow
from shared.config import Settings
from shared.contracts.messages import BlobRef
from shared.db import Store
from shared.workdays import WorkCalendar, load_calendar

N = 200


@pytest.fixture
async def ctx(mongodb_url):
    settings = Settings(mongodb_url=mongodb_url)
    store = Store(mongodb_url, f"t{uuid.uuid4().hex[:10]}_dispatch")
    await repo.ensure_indexes(store.db)
    yield types.SimpleNamespace(settings=settings, store=store, extras={})
    await store.client.drop_database(store.db.name)
    await store.close()


async def test_200_concurrent_numberings_are_distinct_and_consecutive(ctx):
    keys = [uuid.uuid4().hex for _ in range(N)]
    await ctx.store.db[repo.OUTGOING].insert_many([
        {"_id": k, "state": OutgoingState.LEADER_SIGNING.value, "code_notation": "QĐ-UBND", "created_by": "vanthu",
         "urgency": 0, "signatures": [], "signature_requests": []} for k in keys])
    signed = BlobRef(sha256="0" * 64, size=1, media_type="application/pdf", name="x.pdf", service="dispatch")
    signature = {"role": "leader", "signer_subject": "Chủ tịch", "signed_at": utcnow()}
    records = {k: await repo.get(ctx.store.db, k) for k in keys}
    await asyncio.gather(*(_number_and_request_agency_signature(ctx, records[k], signed, signature) for k in keys))

    rows = await ctx.store.db[repo.OUTGOING].find({}).to_list()
    numbers = sorted(r["register"]["number"] for r in rows)
    assert numbers == list(range(1, N + 1))
    assert all(r["state"] == OutgoingState.AGENCY_SIGNING and r["code"] == f"{r['register']['number']:02d}/QĐ-UBND"
               for r in rows)
    assert all(r["issue_due_at"] for r in rows)
    requests = await ctx.store.db["outbox"].count_documents({"message_type": "dispatch.SignatureRequested.v1"})
    assert requests == N


def test_issue_deadline_is_the_next_working_morning():
    friday_evening = dt.datetime(2026, 11, 27, 17, 0, tzinfo=VN_TZ)
    assert outgoing.issue_deadline(friday_evening, WorkCalendar()) == dt.datetime(2026, 11, 30, 12, 0, tzinfo=VN_TZ)
    before_tet = dt.datetime(2026, 2, 13, 9, 0, tzinfo=VN_TZ)  # the Friday before the Tết holiday
    assert outgoing.issue_deadline(before_tet, load_calendar(Settings().holiday_calendar_file)).date() == dt.date(2026, 2, 23)


def test_issue_standing_flags_late_and_overdue_documents():
    due = dt.datetime(2026, 11, 30, 12, 0, tzinfo=VN_TZ)
    after = due + dt.timedelta(minutes=1)
    assert outgoing.issue_standing({"issue_due_at": due, "issued_at": due}, after) == "on_time"
    assert outgoing.issue_standing({"issue_due_at": due, "issued_at": after}, after) == "late"
    assert outgoing.issue_standing({"issue_due_at": due, "state": "agency_signing"}, after) == "overdue"
    assert outgoing.issue_standing({"issue_due_at": due, "state": "agency_signing"}, due) == "due"
    assert outgoing.issue_standing({"state": "leader_signing"}, after) is None


def test_who_gets_a_document_again():
    t0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.timezone.utc)
    after = dt.timedelta(hours=2)
    silent = {"transport_state": "accepted", "transport_at": t0, "business_statuses": []}
    assert not outgoing.needs_redelivery(silent, t0 + dt.timedelta(hours=1), after=after, max_times=3)
    assert outgoing.needs_redelivery(silent, t0 + dt.timedelta(hours=2), after=after, max_times=3)
    again = {**silent, "redeliveries": [{"at": t0 + dt.timedelta(hours=2)}]}
    assert not outgoing.needs_redelivery(again, t0 + dt.timedelta(hours=3), after=after, max_times=3)  # wait again
    assert not outgoing.needs_redelivery({**silent, "business_statuses": [{"code": "01"}]}, t0 + after, after=after, max_times=3)
    assert not outgoing.needs_redelivery({**again, "redeliveries": [{"at": t0}] * 3}, t0 + 9 * after, after=after, max_times=3)
    assert not outgoing.needs_redelivery({**silent, "transport_state": "sending"}, t0 + after, after=after, max_times=3)
    assert not outgoing.needs_redelivery({"channel": "outside"}, t0 + after, after=after, max_times=3)
