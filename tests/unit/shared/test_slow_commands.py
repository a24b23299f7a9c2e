"""A store command slower than STORE_SLOW_COMMAND_MS is logged with its collection and the shape
of its filter, values left out (R-13: how the operator finds a query that scans)."""

from __future__ import annotations

import uuid

from structlog.testing import capture_logs

from shared.db import Store, query_shape


def test_the_shape_keeps_fields_and_operators_and_drops_values():
    shape = query_shape({"state": "pending", "lease_until": {"$not": {"$gt": "2026-12-02"}},
                         "$or": [{"a": 1}, {"b": "Nguyễn Văn A"}]})
    assert shape == {"state": "?", "lease_until": {"$not": {"$gt": "?"}}, "$or": [{"a": "?"}, {"b": "?"}]}
    assert "Nguyễn" not in str(shape)


async def test_a_slow_command_is_logged_with_its_collection_and_shape(mongodb_url):
    database = f"slow{uuid.uuid4().hex[:8]}"
    store = Store(mongodb_url, database, app_name="test", slow_command_ms=0.001)  # every command is "slow"
    quiet = Store(mongodb_url, database, app_name="test")  # 0: off
    try:
        with capture_logs() as logs:
            await store.db["records"].insert_one({"_id": "r1", "subject": "Về việc Nguyễn Văn A"})
            await store.db["records"].find_one({"subject": "Về việc Nguyễn Văn A", "year": {"$gte": 2026}})
            await quiet.db["records"].find_one({"_id": "r1"})
        slow = [entry for entry in logs if entry["event"] == "slow store command"]
        found = [entry for entry in slow if entry["command"] == "find"]
        assert len(found) == 1, slow  # the quiet client logged nothing
        assert found[0]["target"] == f"{database}.records" and found[0]["outcome"] == "ok"
        assert found[0]["shape"] == str({"subject": "?", "year": {"$gte": "?"}})
        assert all("Nguyễn" not in str(entry) for entry in slow)
        assert any(entry["command"] == "insert" for entry in slow)
    finally:
        await store.client.drop_database(database)
        await store.close()
        await quiet.close()


async def test_a_change_stream_waiting_for_news_is_not_a_slow_command(mongodb_url):
    database = f"slow{uuid.uuid4().hex[:8]}"
    store = Store(mongodb_url, database, app_name="test", slow_command_ms=0.001)
    try:
        with capture_logs() as logs:
            async with await store.db.watch([]) as stream:
                await stream.try_next()  # a getMore that waits for news (none comes)
                await stream.try_next()
            await store.db["records"].find_one({"_id": "r1"})
        slow = [entry for entry in logs if entry["event"] == "slow store command"]
        assert not [entry for entry in slow if entry["command"] == "getMore"], slow
        assert [entry for entry in slow if entry["command"] == "find"]  # the listener was on
    finally:
        await store.client.drop_database(database)
        await store.close()
