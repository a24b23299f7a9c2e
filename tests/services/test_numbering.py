"""Register numbering (R-6.3 incoming register, R-7.2b outgoing numbers; NĐ 30 Điều 15, 22):
yearly, from 01, no gaps and no duplicates — also under concurrent transactions on the real
store, and a rolled-back registration does not consume its number."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from services.dispatch.domain import numbering
from services.intake.domain.documents import register_counter, register_year
from shared.clock import VN_TZ
from shared.db import Store


def test_symbol_of_typed_documents_and_official_letters():
    assert numbering.full_code(15, numbering.notation("Quyết định", issuer="UBND")) == "15/QĐ-UBND"
    assert numbering.full_code(3, numbering.notation("Tờ trình", issuer="UBND")) == "03/TTr-UBND"
    assert numbering.full_code(27, numbering.notation("Công văn", issuer="UBND", drafting_unit="VP")) == "27/UBND-VP"
    # quy định (QyĐ) and quyết định (QĐ) are different types
    assert numbering.notation("Quy định", issuer="UBND") == "QyĐ-UBND"


def test_unknown_type_is_refused_and_numbers_start_at_one():
    with pytest.raises(numbering.UnknownDocumentType):
        numbering.notation("Công văn hỏa tốc kiểu mới", issuer="UBND")
    with pytest.raises(ValueError):
        numbering.format_number(0)
    assert numbering.format_number(9) == "09" and numbering.format_number(100) == "100"


def test_the_year_is_the_vietnam_year():
    # 31 Dec 2026 18:30 UTC is already 1 Jan 2027 in Hà Nội: the new register has started.
    moment = dt.datetime(2026, 12, 31, 18, 30, tzinfo=dt.timezone.utc)
    assert register_year(moment) == 2027 == numbering.register_year(moment)
    assert register_year(dt.datetime(2026, 12, 31, 23, 0, tzinfo=VN_TZ)) == 2026


@pytest.fixture
async def store(settings):
    store = Store(settings.mongodb_url, settings.database_name("numbering"))
    await store.db["registrations"].create_index([("year", 1), ("number", 1)], unique=True)
    yield store
    await store.client.drop_database(settings.database_name("numbering"))
    await store.close()


async def test_concurrent_registrations_get_gap_free_unique_numbers(store):
    counter = register_counter(2026)

    async def register(i: int) -> int:
        async def work(uow):
            number = await uow.next_number(counter)
            await uow.db["registrations"].insert_one({"year": 2026, "number": number, "doc": i}, session=uow.session)
            return number

        return await store.transaction(work)

    numbers = await asyncio.gather(*(register(i) for i in range(40)))
    assert sorted(numbers) == list(range(1, 41))
    stored = sorted([d["number"] async for d in store.db["registrations"].find()])
    assert stored == list(range(1, 41))


async def test_a_rolled_back_registration_does_not_consume_a_number(store):
    counter = register_counter(2027)

    async def failing(uow):
        await uow.next_number(counter)
        raise RuntimeError("verification store write failed")

    with pytest.raises(RuntimeError):
        await store.transaction(failing)

    async def ok(uow):
        return await uow.next_number(counter)

    assert await store.transaction(ok) == 1
