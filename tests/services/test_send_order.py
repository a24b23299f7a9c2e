"""Packages about one document reach a recipient in the order they were requested (01 before
02 before 04 …, R-3.4), even when the requests reach the gateway the other way round — found by
the malformed-stream test, where a 02 overtook its 01 and then both waited for each other."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from services.gateway.adapters import repository as repo
from services.gateway.domain.transport import SendState
from shared.db import Store

UTC = dt.timezone.utc


def send(sequence, created_at, state=SendState.READY, document_id="doc-1"):
    return {"_id": uuid.uuid4().hex, "document_id": document_id, "recipients": ["000.12.00.H56"], "sequence": sequence,
            "state": state.value, "created_at": created_at, "next_attempt_at": created_at, "urgent": False}


@pytest.fixture
async def db(mongodb_url):
    store = Store(mongodb_url, f"t{uuid.uuid4().hex[:10]}_gateway")
    yield store.db
    await store.client.drop_database(store.db.name)
    await store.close()


async def test_a_later_package_that_arrived_first_waits_for_the_earlier_one(db):
    t0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    refused = send(1, t0)  # 02 reached the gateway first
    await db[repo.SENDS].insert_one(refused)
    assert await repo.has_earlier_unfinished(db, refused)  # its 01 is not even here yet
    arrived = send(0, t0 + dt.timedelta(seconds=1))
    await db[repo.SENDS].insert_one(arrived)
    assert not await repo.has_earlier_unfinished(db, arrived)  # 01 goes first…
    assert await repo.has_earlier_unfinished(db, refused)
    await db[repo.SENDS].update_one({"_id": arrived["_id"]}, {"$set": {"state": SendState.ACCEPTED.value}})
    assert not await repo.has_earlier_unfinished(db, refused)  # …then 02


async def test_other_documents_and_unsequenced_packages_are_not_held(db):
    t0 = dt.datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
    other = send(3, t0, document_id="doc-2")
    await db[repo.SENDS].insert_many([send(0, t0), other])
    assert await repo.has_earlier_unfinished(db, other)  # doc-2's 0…2 are missing
    edoc = send(None, t0, document_id="doc-3")
    await db[repo.SENDS].insert_one(edoc)
    assert not await repo.has_earlier_unfinished(db, edoc)
