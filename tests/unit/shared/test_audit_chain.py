"""The audit log as a verifiable hash chain (R-4.1, R-9.1; issue 5 item 5), against the real store.

Entries are written unsealed by business transactions and sealed afterwards by chainers; the
verifier recomputes every hash and link and names the first broken one.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from typer.testing import CliRunner

from devstack.cli import app as cli_app
from shared.audit_chain import GENESIS, AuditChainer, entry_hash, verify_chain
from shared.db import AUDIT, AUDIT_HEAD, Store, bind_audit_origin


@pytest.fixture
async def store(settings):
    store = Store(settings.mongodb_url, settings.database_name("archive"))
    await store.ensure_indexes()
    yield store
    await store.client.drop_database(store.db.name)
    await store.close()


async def _write(store: Store, count: int, *, per_transaction: int = 1, origin: str | None = None) -> None:
    for start in range(0, count, per_transaction):

        async def work(uow, start=start):
            for i in range(start, min(count, start + per_transaction)):
                uow.audit(
                    "record.stored", subject_type="record", subject_id=f"r{i}", actor="archive",
                    details={"n": i, "note": "Lưu trữ bản chính"}, origin=origin,
                )

        await store.transaction(work)


async def _sealed(store: Store) -> list[dict]:
    return await store.db[AUDIT].find({"seq": {"$gt": 0}}).sort("seq", 1).to_list(None)


async def test_entries_are_sealed_with_gap_free_seq_and_links(store):
    """R-4.1: entries written through `uow.audit` get seq 1..n, each linked to the one before."""
    await _write(store, 7, per_transaction=3, origin="http:10.0.0.7")

    async def without_origin(uow):  # an existing caller, unchanged; origin from the context
        uow.audit("record.viewed", subject_type="record", subject_id="r0", actor="clerk")

    bind_audit_origin("bus:archive.records")
    try:
        await store.transaction(without_origin)
    finally:
        bind_audit_origin(None)
    assert (await verify_chain(store.db)).unsealed == 8

    assert await AuditChainer(store, batch_size=3).seal_all() == 8
    entries = await _sealed(store)
    assert [e["seq"] for e in entries] == list(range(1, 9))
    assert entries[0]["prev_hash"] == GENESIS
    for before, after in zip(entries, entries[1:]):
        assert after["prev_hash"] == before["hash"]
    assert all(entry_hash(e) == e["hash"] for e in entries)
    assert {e["origin"] for e in entries} == {"http:10.0.0.7", "bus:archive.records"}
    head = await store.db[AUDIT_HEAD].find_one({"_id": "audit"})
    assert (head["seq"], head["hash"]) == (8, entries[-1]["hash"])

    report = await verify_chain(store.db)
    assert report.ok, report.status()
    assert (report.sealed, report.unsealed, report.head_seq) == (8, 0, 8)

    await _write(store, 2)  # later entries continue the same chain
    assert await AuditChainer(store).seal_all() == 2
    report = await verify_chain(store.db)
    assert report.ok and report.sealed == 10


async def test_concurrent_chainers_make_one_chain(store):
    """R-4.1, scale-out: two chainers sealing while entries are written concurrently give one
    valid chain, no seq twice, none missing."""
    first, second = AuditChainer(store, batch_size=25), AuditChainer(store, batch_size=25)
    writing = True

    async def keep_sealing(chainer: AuditChainer) -> None:
        while writing:
            await chainer.seal_once()
            await asyncio.sleep(0)

    sealers = [asyncio.create_task(keep_sealing(first)), asyncio.create_task(keep_sealing(second))]
    await asyncio.gather(*[_write(store, 30, per_transaction=2) for _ in range(8)])
    writing = False
    await asyncio.gather(*sealers)
    await asyncio.gather(first.seal_all(), second.seal_all())

    entries = await _sealed(store)
    assert len(entries) == 240
    assert [e["seq"] for e in entries] == list(range(1, 241))
    report = await verify_chain(store.db)
    assert report.ok, report.status()
    assert (report.sealed, report.unsealed) == (240, 0)


async def test_changed_details_are_detected(store):
    """R-4.1: an entry's details changed in the database is named by seq and id."""
    await _write(store, 5)
    await AuditChainer(store).seal_all()
    victim = (await _sealed(store))[2]
    await store.db[AUDIT].update_one({"_id": victim["_id"]}, {"$set": {"details.n": 999}})

    report = await verify_chain(store.db)
    assert not report.ok
    assert (report.problem, report.broken_seq, report.broken_entry_id) == ("hash_mismatch", 3, victim["_id"])
    assert report.status() == f"BROKEN at seq 3 (entry id {victim['_id']}): content changed: hash mismatch"
    assert report.sealed == 5  # still counted to the end


async def test_deleted_entries_are_detected(store):
    """R-4.1: a deleted entry leaves a gap in seq; deleting the newest is caught by the head."""
    await _write(store, 5)
    await AuditChainer(store).seal_all()
    entries = await _sealed(store)
    await store.db[AUDIT].delete_one({"_id": entries[1]["_id"]})
    report = await verify_chain(store.db)
    assert (report.problem, report.broken_seq) == ("gap", 2)
    assert "seq 2 missing" in report.reason

    await store.db[AUDIT].insert_one(entries[1])  # put it back, delete the newest instead
    assert (await verify_chain(store.db)).ok
    await store.db[AUDIT].delete_one({"_id": entries[4]["_id"]})
    report = await verify_chain(store.db)
    assert (report.problem, report.broken_seq) == ("gap", 5)


async def test_changed_prev_hash_is_detected(store):
    """R-4.1: an entry whose link was rewritten (even with its own hash recomputed) is found."""
    await _write(store, 4)
    await AuditChainer(store).seal_all()
    victim = (await _sealed(store))[3]
    forged = {**victim, "prev_hash": "f" * 64}
    forged["hash"] = entry_hash(forged)
    await store.db[AUDIT].replace_one({"_id": victim["_id"]}, forged)

    report = await verify_chain(store.db)
    assert (report.problem, report.broken_seq, report.broken_entry_id) == ("link_broken", 4, victim["_id"])


async def test_cli_exits_1_on_a_tampered_database(settings, store):
    """R-4.1: `vanthu audit verify` prints each service's chain and exits 1 when one is broken."""
    await _write(store, 3)
    await AuditChainer(store).seal_all()
    await _write(store, 1)  # one left unsealed: counted, not an error
    runner = CliRunner()
    env = {"MONGODB_URL": settings.mongodb_url, "DATABASE_PREFIX": settings.database_prefix, "COLUMNS": "250"}

    def run(*args: str):
        return runner.invoke(cli_app, ["audit", "verify", *args], env=env)

    result = await asyncio.to_thread(run)
    assert result.exit_code == 0, result.output
    assert "ok" in result.output and "gateway" in result.output

    victim = (await _sealed(store))[0]
    await store.db[AUDIT].update_one({"_id": victim["_id"]}, {"$set": {"actor": "someone-else"}})
    result = await asyncio.to_thread(run, "--service", "archive", "--service", "intake")
    assert result.exit_code == 1, result.output
    assert f"BROKEN at seq 1 (entry id {victim['_id']})" in result.output
    assert "gateway" not in result.output


async def test_chainer_loop_seals_after_commit(store):
    """R-4.1: the background loop every service runs seals right after a commit."""
    chainer = AuditChainer(store, interval_seconds=30)  # only the commit wake-up can seal in time
    task = asyncio.create_task(chainer.run())
    try:
        await asyncio.sleep(0.1)
        await _write(store, 3, per_transaction=3, origin=f"test:{uuid.uuid4().hex[:6]}")
        for _ in range(100):
            if (report := await verify_chain(store.db)).sealed == 3:
                break
            await asyncio.sleep(0.05)
        assert report.ok and report.sealed == 3 and report.unsealed == 0
    finally:
        chainer.stop()
        await task

