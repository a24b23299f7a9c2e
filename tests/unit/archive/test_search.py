"""Full-text search in the archive (issue 5 item 6), against the real store: Vietnamese folding,
ranking, filters, access, the change-stream follower and its resume token, hostile queries."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sqlite3
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import Depends, FastAPI, HTTPException

from services.archive.adapters.search_index import SearchIndex, index_path
from services.archive.domain.access import ACCESS
from services.archive.domain import search as rules
from services.archive.entrypoints.search_api import follow_records, router, run_search, search_index, search_shutdown
from shared.auth import PORTAL_ISSUER, TokenIssuer, authorizer
from shared.db import Store
from shared.service import ServiceContext

AGENCY = {"organ_id": "000.00.00.H56", "name": "UBND tỉnh Thanh Hóa"}
DOSSIER = "000.24.26.H56.2026.01.VP"


def record(key: str, subject: str, *, source: str = "incoming", year: int | None = 2026, type_name: str = "Quyết định",
           code: str = "15/QĐ-UBND", sender: dict | None = AGENCY, dossiers: list[str] | None = None,
           restricted: bool = False, users: list[str] | None = None, state: str | None = "kept",
           issued_date: str = "2026-03-02") -> dict:
    doc = {"_id": f"{source}:{key}", "source": source, "code": code, "type_name": type_name, "subject": subject,
           "issued_date": issued_date, "signer": "Lê Văn Thành", "dossiers": dossiers or [],
           "access": {"restricted": restricted, "users": users or []}, "stored_at": datetime.now(UTC)}
    if year is not None:
        doc["year"] = year
    if state is not None:
        doc["state"] = state
    if sender is not None and source == "incoming":
        doc["sender"] = sender
    return doc


@pytest.fixture
async def ctx(settings):
    store = Store(settings.mongodb_url, settings.database_name("archive"))
    context = ServiceContext("archive", settings, store, blobs=None, blob_client=None)  # type: ignore[arg-type]
    yield context
    await search_shutdown(context)
    await store.client.drop_database(store.db.name)
    await store.close()


@contextlib.asynccontextmanager
async def following(ctx: ServiceContext):
    task = asyncio.create_task(follow_records(ctx))
    try:
        index = search_index(ctx)
        await eventually(lambda: index.started_with is not None)
        yield index
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def eventually(check, timeout: float = 15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


async def ids(ctx, q=None, user="chutich", **filters) -> list[str]:
    found = await run_search(ctx, q=q, user=user, **filters)
    return [r["id"] for r in found["results"]]


async def indexed(ctx, *docs: dict, texts: dict[str, str] | None = None) -> SearchIndex:
    if docs:
        await ctx.store.db["records"].insert_many(list(docs))
    if texts:
        await ctx.store.db["record_texts"].insert_many([{"_id": k, "text": v} for k, v in texts.items()])
    index = search_index(ctx)
    await index.start(ctx.store.db)
    return index


# --- pure rules --------------------------------------------------------------------------------


def test_queries_become_quoted_tokens_only():
    assert rules.parse_terms('Quyết định "ban hành quy chế" 15/QĐ-UBND') == [
        ["quyet"], ["dinh"], ["ban", "hanh", "quy", "che"], ["15", "qd", "ubnd"]]
    for hostile in ['"', "*", "NEAR(a b", "a OR b", "-x", "subject:x", "tags : y2026", "{body}: x", "^a", "a AND NOT b", ")(("]:
        expression = rules.match_expression(rules.SearchQuery(terms=rules.parse_terms(hostile)))
        if expression:
            assert expression.startswith("(") and expression.endswith(")"), expression
            assert all(re.fullmatch(r'"[a-z0-9 ]+"', part) for part in expression[1:-1].split(" AND ")), expression


def test_folding_handles_d_with_stroke_and_composed_forms():
    assert rules.words("ĐƯỜNG Đê điều") == ["duong", "de", "dieu"]
    assert rules.words("Quye\u0301t đi\u0323nh") == ["quyet", "dinh"]  # decomposed input


def test_missing_fields_take_their_defaults():
    old = {"_id": "incoming:1", "register": {"year": 2024}, "subject": "x"}
    row = rules.index_row(old)
    assert (row.year, row.state, row.restricted, row.source) == (2024, "kept", False, "incoming")
    assert rules.record_year({"_id": "x", "issued_date": "2023-05-01"}) == 2023
    assert not rules.is_searchable({"state": "in_bin"}) and not rules.is_searchable({"withdrawn": {"at": 1}})


# --- against the store -------------------------------------------------------------------------


async def test_diacritics_do_not_matter_either_way(ctx):
    await indexed(ctx, record("a", "Quyết định ban hành quy chế làm việc"), record("b", "quyet dinh khong dau ve de dieu"),
                  record("c", "Công văn về việc khác", type_name="Công văn", code="3/CV-UBND"))
    assert set(await ids(ctx, "quyet dinh ban hanh")) == {"incoming:a"}
    assert set(await ids(ctx, "quyet dinh")) == {"incoming:a", "incoming:b"}
    assert set(await ids(ctx, "Quyết định")) == {"incoming:a", "incoming:b"}
    assert set(await ids(ctx, "ĐÊ ĐIỀU")) == {"incoming:b"}
    assert set(await ids(ctx, '"ban hanh quy che"')) == {"incoming:a"}
    assert set(await ids(ctx, '"quy che ban hanh"')) == set()  # a phrase keeps its order
    assert set(await ids(ctx, "15/QĐ-UBND")) == {"incoming:a", "incoming:b"}


async def test_d_with_stroke(ctx):
    await indexed(ctx, record("a", "Về việc nâng cấp đường giao thông nông thôn"), record("b", "Về việc đo đạc địa chính"))
    assert await ids(ctx, "duong giao thong") == ["incoming:a"]
    assert await ids(ctx, "ĐƯỜNG") == ["incoming:a"]
    assert await ids(ctx, "do dac dia chinh") == ["incoming:b"]


async def test_a_subject_match_ranks_above_a_body_match(ctx):
    await indexed(ctx, record("body", "Về việc báo cáo tình hình"), record("subject", "Về việc tu bổ công trình thủy lợi"),
                  record("other", "Về việc khác"), record("another", "Về việc khác nữa"),
                  texts={"incoming:body": "Nội dung dài nói về công trình thủy lợi của xã và nhiều việc khác nữa."})
    found = await run_search(ctx, q="thuy loi", user="chutich")
    assert [r["id"] for r in found["results"]] == ["incoming:subject", "incoming:body"]
    assert found["results"][0]["score"] > found["results"][1]["score"]
    assert found["results"][0]["subject"] == "Về việc tu bổ công trình thủy lợi"  # the original, not the folded text
    assert "[thuy] [loi]" in found["results"][1]["snippet"]
    assert found["total"] == 2


async def test_each_filter(ctx):
    other_agency = {"organ_id": "000.00.12.H56", "name": "Sở Tài chính tỉnh Thanh Hóa"}
    await indexed(
        ctx,
        record("q26", "Kế hoạch phòng chống lụt bão", dossiers=[DOSSIER]),
        record("q25", "Kế hoạch phòng chống lụt bão", year=2025, issued_date="2025-06-01"),
        record("cv", "Kế hoạch phòng chống lụt bão", type_name="Công văn", sender=other_agency),
        record("out", "Kế hoạch phòng chống lụt bão", source="outgoing"),
        record("old", "Kế hoạch phòng chống lụt bão", year=None, state=None, issued_date="2024-01-05"),
    )
    q = "phong chong lut bao"
    assert len(await ids(ctx, q)) == 5
    for with_q in (q, None):
        assert set(await ids(ctx, with_q, year=2025)) == {"incoming:q25"}
        assert set(await ids(ctx, with_q, year=2024)) == {"incoming:old"}  # year from issued_date
        assert set(await ids(ctx, with_q, type_name="cong van")) == {"incoming:cv"}
        assert set(await ids(ctx, with_q, sender="000.00.12.H56")) == {"incoming:cv"}
        assert set(await ids(ctx, with_q, dossier=DOSSIER)) == {"incoming:q26"}
        assert set(await ids(ctx, with_q, source="outgoing")) == {"outgoing:out"}
        assert len(await ids(ctx, with_q, state="kept")) == 5  # a missing state is "kept"
        assert set(await ids(ctx, with_q, year=2026, source="incoming", type_name="Quyết định")) == {"incoming:q26"}
    listing = await ids(ctx, None)
    assert listing[-2:] == ["incoming:q25", "incoming:old"]  # newest first


async def test_a_snippet_shows_the_words_never_the_filter_tokens(ctx):
    await indexed(ctx, record("a", "Chỉ thị về phòng cháy", type_name="Chỉ thị", dossiers=[DOSSIER],
                              restricted=True, users=["cc.tuphap"]))
    found = await run_search(ctx, q="chay", user="cc.tuphap", year=2026, type_name="chi thi", dossier=DOSSIER,
                             sender=AGENCY["organ_id"], source="incoming")
    [hit] = found["results"]
    assert hit["snippet"] == "chi thi ve phong [chay]"  # more filter tokens than words matched in `tags`


async def test_access_follows_the_role_and_the_named_users(ctx):
    await indexed(ctx, record("open", "Thông báo lịch tiếp công dân"),
                  record("closed", "Thông báo kết quả thanh tra", restricted=True, users=["cc.tuphap"]))
    assert set(await ids(ctx, "thong bao", user="chutich")) == {"incoming:open", "incoming:closed"}
    assert set(await ids(ctx, "thong bao", user="luutru")) == {"incoming:open", "incoming:closed"}
    assert set(await ids(ctx, "thong bao", user="cc.vanphong")) == {"incoming:open"}
    assert set(await ids(ctx, "thong bao", user="cc.tuphap")) == {"incoming:open", "incoming:closed"}
    assert set(await ids(ctx, None, user="cc.vanphong")) == {"incoming:open"}
    assert set(await ids(ctx, "thanh tra", user="cc.vanphong")) == set()
    # Words carry no column filter; a word that is an access token still cannot undo the rule.
    for token in (rules.RESTRICTED_TAG, rules.user_tag("cc.tuphap"), rules.user_tag("cc.vanphong")):
        assert await ids(ctx, f"thong bao {token}", user="cc.vanphong") == []
    assert await ids(ctx, rules.RESTRICTED_TAG, user="cc.tuphap") == ["incoming:closed"]
    with pytest.raises(HTTPException) as refused:
        await ids(ctx, "thong bao", user="nobody")
    assert refused.value.status_code == 403 and "không" in refused.value.detail


async def test_the_follower_picks_up_inserts_updates_and_removals(ctx):
    db = ctx.store.db
    await db["records"].insert_one(record("before", "Tờ trình xin chủ trương đầu tư"))
    async with following(ctx) as index:
        assert index.started_with == "rebuild"
        assert await ids(ctx, "to trinh") == ["incoming:before"]

        async def insert(uow):  # the way the archive's handlers write: in a transaction
            await uow.db["records"].insert_one(record("after", "Giấy mời họp giao ban tháng 3", type_name="Giấy mời"),
                                               session=uow.session)

        await ctx.store.transaction(insert)
        await eventually(lambda: ids(ctx, "giay moi hop"))
        await db["records"].update_one({"_id": "incoming:after"}, {"$set": {"subject": "Giấy mời dự hội nghị tổng kết"}})
        await eventually(lambda: ids(ctx, "hoi nghi tong ket"))
        assert await ids(ctx, "giao ban") == []
        await db["record_texts"].insert_one({"_id": "incoming:after", "text": "Kính mời đồng chí tham dự đúng giờ."})
        await eventually(lambda: ids(ctx, "dong chi tham du"))

        for change in ({"$set": {"state": "in_bin"}}, {"$set": {"state": "destroyed"}}, {"$set": {"withdrawn": {"reason": "x"}}}):
            await db["records"].update_one({"_id": "incoming:after"}, {"$set": {"state": "kept"}, "$unset": {"withdrawn": ""}})
            await eventually(lambda: ids(ctx, "dong chi tham du"))  # back, with its text fetched again
            await db["records"].update_one({"_id": "incoming:after"}, change)
            await eventually(lambda: _none(ids(ctx, "hoi nghi tong ket")))
        await db["records"].delete_one({"_id": "incoming:before"})
        await eventually(lambda: _none(ids(ctx, "to trinh")))


async def _none(found) -> bool:
    return not await found


async def test_a_restart_resumes_from_its_token(ctx):
    db = ctx.store.db
    await db["records"].insert_many([record(f"r{i}", f"Báo cáo số {i} về công tác dân số") for i in range(30)])
    async with following(ctx) as index:
        assert index.started_with == "rebuild"
        await db["records"].insert_one(record("live", "Báo cáo nhanh về thiệt hại do mưa lớn"))
        await eventually(lambda: ids(ctx, "mua lon"))
    await search_shutdown(ctx)
    await db["records"].insert_one(record("offline", "Kế hoạch tiêm chủng mở rộng"))  # written while stopped
    async with following(ctx) as index:
        assert index.started_with == "resume"
        await eventually(lambda: ids(ctx, "tiem chung"))
        assert index.applied == 1  # only what happened while it was away
        assert index.count() == 32
    await search_shutdown(ctx)
    assert stored_state(ctx)["rebuilds"] == "1"


def stored_state(ctx) -> dict[str, str]:
    conn = sqlite3.connect(index_path(ctx.settings.var_dir, ctx.store.db.name))
    try:
        return dict(conn.execute("SELECT key, value FROM state").fetchall())
    finally:
        conn.close()


async def test_an_unusable_token_makes_a_rebuild(ctx):
    await indexed(ctx, record("a", "Báo cáo kết quả"))
    index = search_index(ctx)
    index.apply([], {"_data": "aa"})  # a token the store cannot read
    await search_shutdown(ctx)
    await ctx.store.db["records"].insert_one(record("b", "Báo cáo tổng hợp"))
    async with following(ctx) as index:
        await eventually(lambda: index.count() == 2)
    await search_shutdown(ctx)
    state = stored_state(ctx)
    assert state["rebuilds"] == "2" and json.loads(state["resume_token"]) != {"_data": "aa"}


async def test_the_route_answers_hostile_queries_and_refuses_bad_input(ctx):
    await indexed(ctx, record("a", "Quyết định về việc ban hành quy chế"))
    app = FastAPI()
    app.include_router(router, dependencies=[Depends(authorizer(ACCESS, ctx.settings.auth_keys_dir))])
    app.state.ctx = ctx
    token = TokenIssuer(ctx.settings.auth_keys_dir, PORTAL_ISSUER).mint("chutich", "chairman")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://archive",
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for q in ['"', "*", "NEAR(", "NEAR(quyet dinh, 2)", "quyet OR dinh", "-quyet", "subject:quyet", ":", "quyet*",
                  '"quyet', "{code}: x", "AND", "NOT", "(", "^", "'; DROP TABLE docs; --"]:
            answer = await client.get("/search", params={"q": q, "user": "chutich"})
            assert answer.status_code == 200, (q, answer.text)
        answer = await client.get("/search", params={"q": "quyet dinh", "user": "chutich", "year": 2026, "type": "Quyết định"})
        assert answer.status_code == 200 and answer.json()["results"][0]["id"] == "incoming:a"
        assert answer.json()["results"][0]["code"] == "15/QĐ-UBND"
        assert (await client.get("/search", params={"q": "x", "user": "ai-do"})).status_code == 403
        for bad in ({"year": 1800}, {"year": "nam"}, {"source": "paper"}, {"limit": 1000}, {"offset": -1}, {"q": "x" * 501}):
            answer = await client.get("/search", params={"user": "chutich", **bad})
            assert answer.status_code == 422, (bad, answer.text)


# --- year partitions ---------------------------------------------------------------------------


def test_a_year_is_a_partition_not_a_token():
    assert rules.partition_of(2026) == 2026 and rules.partition_of(None) is None and rules.partition_of(1850) is None
    row = rules.index_row(record("a", "x", year=2026))
    assert row.partition == 2026 and rules.year_tag(2026) not in row.tags.split()
    odd = rules.index_row(record("b", "x", year=1850))  # outside the partition years: kept with its token
    assert odd.partition is None and rules.year_tag(1850) in odd.tags.split()
    query = rules.SearchQuery(terms=[["de"]], filters=rules.Filters(year=2026, type_name="Công văn"))
    assert rules.year_tag(2026) not in rules.match_expression(query, partition=2026)
    assert rules.type_tag("Công văn") in rules.match_expression(query, partition=2026)
    assert rules.year_tag(2026) in rules.match_expression(query)  # the partition None keeps the token
    assert rules.partitions_for(query, [2024, None, 2026]) == [2026]
    assert rules.partitions_for(query, [2024, None]) == []
    assert rules.partitions_for(rules.SearchQuery(terms=[["de"]]), [2024, None, 2026, 2025]) == [2026, 2025, 2024, None]


async def test_a_year_filter_reads_only_its_partition_and_a_changed_year_moves_the_record(ctx):
    index = await indexed(ctx, record("a", "Kế hoạch tu bổ đê điều", year=2025, issued_date="2025-04-01"),
                          record("b", "Báo cáo tu bổ đê điều", year=2026), record("c", "Tu bổ đê điều", year=None, issued_date=""),
                          texts={"incoming:a": "Nội dung về kè đá hộ chân"})
    assert set(index.partitions()) == {2025, 2026, None}
    assert await ids(ctx, "de dieu", year=2025) == ["incoming:a"]
    assert await ids(ctx, "de dieu", year=2026) == ["incoming:b"]
    assert await ids(ctx, "de dieu", year=2023) == []  # no partition at all
    assert set(await ids(ctx, "de dieu")) == {"incoming:a", "incoming:b", "incoming:c"}
    # The store changes the record's year: it leaves 2025 for 2026 and keeps its PDF text.
    moved = await ctx.store.db["records"].find_one_and_update({"_id": "incoming:a"}, {"$set": {"year": 2026}},
                                                              return_document=True)
    index.apply([("records", "incoming:a", moved, None)], None)
    assert await ids(ctx, "de dieu", year=2025) == []
    assert set(await ids(ctx, "de dieu", year=2026)) == {"incoming:a", "incoming:b"}
    assert await ids(ctx, "ke da ho chan", year=2026) == ["incoming:a"]
    assert index.count() == 3
    with sqlite3.connect(index.path) as conn:  # the old partition's row is gone, not just hidden
        assert conn.execute("SELECT count(*) FROM docs_2025").fetchone()[0] == 0


async def test_without_a_year_every_partition_is_ranked_and_paged_together(ctx):
    await indexed(ctx, record("body", "Về việc báo cáo tình hình", year=2026),
                  record("subject", "Về việc tu bổ công trình thủy lợi", year=2024, issued_date="2024-02-01"),
                  record("other", "Về việc khác", year=2025), record("another", "Về việc khác nữa", year=2024),
                  texts={"incoming:body": "Nội dung dài nói về công trình thủy lợi của xã và nhiều việc khác nữa."})
    found = await run_search(ctx, q="thuy loi", user="chutich")
    assert [r["id"] for r in found["results"]] == ["incoming:subject", "incoming:body"]  # 2024 above 2026
    assert found["total"] == 2 and found["total_exact"]
    assert "[thuy] [loi]" in found["results"][1]["snippet"]  # from the row's own partition
    pages = [await ids(ctx, "viec", limit=1, offset=o) for o in range(5)]
    assert sorted(p[0] for p in pages[:4]) == ["incoming:another", "incoming:body", "incoming:other", "incoming:subject"]
    assert pages[4] == []
    assert (await run_search(ctx, q="viec", user="chutich", limit=1, offset=3))["total"] == 4


async def test_totals_beyond_the_rank_window_are_counted_and_capped(ctx, monkeypatch):
    from services.archive.adapters import search_index as adapter

    await indexed(ctx, *(record(f"r{i}", f"Thông báo số {i} về lịch tiếp công dân", year=2020 + i % 3)
                         for i in range(12)))
    monkeypatch.setattr(adapter, "RANK_WINDOW", 5)
    found = await run_search(ctx, q="tiep cong dan", user="chutich", limit=3)
    assert (found["total"], found["total_exact"], len(found["results"])) == (12, True, 3)
    found = await run_search(ctx, q="tiep cong dan", user="chutich", year=2021, limit=2)
    assert (found["total"], found["total_exact"]) == (4, True)
    monkeypatch.setattr(adapter, "COUNT_LIMIT", 7)
    found = await run_search(ctx, q="tiep cong dan", user="chutich")
    assert (found["total"], found["total_exact"]) == (7, False)  # at least 7: an estimate
    assert len(found["results"]) == 5  # the window: the newest partition first, then the next


async def test_an_index_of_the_older_layout_is_rebuilt(ctx):
    path = index_path(ctx.settings.var_dir, ctx.store.db.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:  # schema 2: one FTS5 table with the year as a token
        conn.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.executemany("INSERT INTO state VALUES (?, ?)", [("schema", "2"), ("resume_token", '{"_data": "00"}')])
        conn.execute("CREATE VIRTUAL TABLE docs USING fts5(subject, code, meta, body, tags)")
        conn.execute("INSERT INTO docs VALUES ('stale', '', '', '', 'y2026')")
    await ctx.store.db["records"].insert_one(record("a", "Giấy mời họp"))
    async with following(ctx) as index:
        assert index.started_with == "rebuild"
        assert await ids(ctx, "giay moi", year=2026) == ["incoming:a"]
        assert await ids(ctx, "stale") == []
    with sqlite3.connect(path) as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL%'")}
    assert tables == {"docs_2026"}
