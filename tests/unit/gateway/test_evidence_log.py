"""The gateway's evidence log of the axis exchange (issue 7 item 4, R-13, R-4.1), against the
real store and a real RFC 3161 server (localtsa as its own process): entries chained gap-free
by compare-and-set, sealed in batches with a timestamp token over the chain head, verified
(hashes, links, seals, tokens, raw bytes) with the first broken link named."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from devstack.processes import free_port
from services.gateway.adapters import evidence_store as store_
from services.gateway.adapters import tsa
from services.gateway.domain import evidence as rules
from services.gateway.handlers import evidence
from shared.blobs import BlobStore
from shared.config import REPO_ROOT
from shared.db import Store


# --- pure rules -----------------------------------------------------------------------------


def test_a_batch_is_due_when_full_or_old_enough():
    now = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)
    due = lambda n, age: rules.seal_due(chained_unsealed=n, oldest_unsealed_at=now - dt.timedelta(seconds=age), now=now,
                                        every_entries=100, every_seconds=5)
    assert not due(0, 999)
    assert not due(3, 4.9)
    assert due(3, 5)
    assert due(100, 0)
    assert rules.next_batch(0, 0, 100) is None
    assert rules.next_batch(0, 250, 100) == (1, 100)
    assert rules.next_batch(200, 250, 100) == (201, 250)


def test_the_size_refusal_says_the_limit_in_megabytes():
    assert rules.too_large_reason(50 * 1024 * 1024).startswith("gói tin vượt quá giới hạn 50 MB")
    assert "giới hạn 1.5 MB" in rules.too_large_reason(3 * 512 * 1024)
    # the bounded read lets through exactly what base64 + JSON of a package at the limit takes
    assert rules.encoded_limit(3) == 4 + rules.JSON_OVERHEAD


def test_seals_must_follow_one_another_and_seal_the_entries_hash():
    hashes = {3: "a" * 64, 5: "b" * 64}
    ok = [{"_id": 1, "seq_from": 1, "seq_to": 3, "head_hash": "a" * 64}, {"_id": 4, "seq_from": 4, "seq_to": 5, "head_hash": "b" * 64}]
    assert rules.seal_problems(ok, hashes) == ([], 5)
    gap = [ok[0], {**ok[1], "_id": 5, "seq_from": 5}]
    problems, upto = rules.seal_problems(gap, hashes)
    assert upto == 3 and problems[0].seq == 4 and "gap" in problems[0].what
    changed = [ok[0], {**ok[1], "head_hash": "c" * 64}]
    problems, upto = rules.seal_problems(changed, hashes)
    assert upto == 3 and problems[0].seq == 5 and "sealed hash differs" in problems[0].what


# --- against the store and a TSA ----------------------------------------------------------


@pytest.fixture(scope="module")
def tsa_server(tmp_path_factory):
    data = tmp_path_factory.mktemp("tsa")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "localtsa", "--port", str(port), "--data-dir", str(data)],
                            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    yield url, data / "ca.crt.pem"
    proc.terminate()
    proc.wait(10)


def _switch(url: str, available: bool) -> None:
    httpx.post(url + "_control", json={"available": available}, timeout=5).raise_for_status()


@pytest.fixture
async def log_store(settings, tsa_server):
    url, ca = tsa_server
    _switch(url, True)
    settings = settings.model_copy(update={"tsa_url": url, "tsa_trust_roots": [ca], "evidence_seal_entries": 4,
                                           "evidence_seal_seconds": 0.0})
    db_store = Store(settings.mongodb_url, settings.database_name("gateway"))
    await db_store.ensure_indexes()
    await store_.ensure_indexes(db_store.db)
    yield db_store, settings
    await db_store.client.drop_database(db_store.db.name)
    await db_store.close()


async def _exchange(db_store: Store, count: int, *, direction: str = "received") -> list[bytes]:
    """Packages kept the way the gateway keeps them: raw bytes in GridFS, entry in the same transaction."""
    blobs = BlobStore(db_store, "gateway")
    raws = []
    for i in range(count):
        raw = f"<edXML n='{i}' id='{uuid.uuid4().hex}'>Công văn số {i}</edXML>".encode()
        ref = await blobs.put(raw, media_type="application/xml", name=f"{i}.edxml")

        async def work(uow, raw=raw, ref=ref, i=i):
            await uow.db["packages"].insert_one({"_id": f"p{i}-{ref.sha256[:8]}"}, session=uow.session)
            await store_.insert(uow, rules.entry(
                direction=direction, kind="edoc", axis_doc_id=f"axis-{i}", sender="000.01.00.H56", recipients=["000.24.26.H56"],
                document_id=f"000.01.00.H56,2026/12/01,{i}/UBND", status_code=None, sha256=hashlib.sha256(raw).hexdigest(),
                size=len(raw), raw={"bucket": "blobs", "sha256": ref.sha256}, ref={"package_id": f"p{i}"}))

        await db_store.transaction(work)
        raws.append(raw)
    return raws


async def test_entries_are_chained_sealed_with_a_tsa_token_and_verify(log_store):
    db_store, settings = log_store
    await _exchange(db_store, 10)
    assert await evidence.chainer(db_store).seal_all() == 10
    assert await evidence.seal_all(db_store.db, settings) == 10
    seals = await store_.all_seals(db_store.db)
    assert [(s["seq_from"], s["seq_to"]) for s in seals] == [(1, 4), (5, 8), (9, 10)]
    last = await store_.entry_at(db_store.db, 10)
    assert seals[-1]["head_hash"] == last["hash"]
    token_problem = await tsa.check_token(seals[-1]["tsa"]["token"], bytes.fromhex(last["hash"]), tsa.load_roots(evidence.tsa_roots(settings)))
    assert token_problem is None
    report = await evidence.verify(db_store.db, settings)
    assert report.ok, report.problems
    assert (report.entries, report.sealed_up_to, report.unsealed, report.seals) == (10, 10, 0, 3)
    facts = (await evidence.status_facts(db_store.db, settings))["evidence"]
    assert facts["entries"] == 10 and facts["sealed_up_to"] == 10 and facts["unsealed"] == 0 and facts["last_seal_at"]


async def test_a_changed_entry_is_named_by_its_seq(log_store):
    db_store, settings = log_store
    await _exchange(db_store, 6)
    await evidence.chainer(db_store).seal_all()
    await evidence.seal_all(db_store.db, settings)
    await db_store.db[store_.EVIDENCE].update_one({"seq": 3}, {"$set": {"sender": "000.99.00.H56"}})
    report = await evidence.verify(db_store.db, settings)
    assert not report.ok and report.first.seq == 3 and "content changed" in report.first.what


async def test_a_rewritten_chain_is_caught_by_the_timestamp(log_store):
    """Whoever recomputes every hash after a change still cannot make the TSA's token fit."""
    db_store, settings = log_store
    await _exchange(db_store, 4)
    await evidence.chainer(db_store).seal_all()
    await evidence.seal_all(db_store.db, settings)
    seal = (await store_.all_seals(db_store.db))[0]
    forged = "f" * 64
    await db_store.db[store_.EVIDENCE].update_one({"seq": 4}, {"$set": {"hash": forged}})
    await db_store.db["evidence_head"].update_one({"_id": "evidence"}, {"$set": {"hash": forged}})
    await db_store.db[store_.SEALS].update_one({"_id": seal["_id"]}, {"$set": {"head_hash": forged}})
    report = await evidence.verify(db_store.db, settings)
    assert not report.ok
    assert any(p.seq == 4 and "message imprint differs" in p.what for p in report.problems)
    assert report.first.seq == 4


async def test_changed_raw_bytes_are_named(log_store):
    db_store, settings = log_store
    await _exchange(db_store, 3)
    await evidence.chainer(db_store).seal_all()
    await evidence.seal_all(db_store.db, settings)
    entry = await store_.entry_at(db_store.db, 2)
    files = await db_store.db["blobs.files"].find_one({"filename": entry["raw"]["sha256"]})
    chunk = await db_store.db["blobs.chunks"].find_one({"files_id": files["_id"], "n": 0})
    data = bytearray(chunk["data"])
    data[5] ^= 0x01
    await db_store.db["blobs.chunks"].update_one({"_id": chunk["_id"]}, {"$set": {"data": bytes(data)}})
    report = await evidence.verify(db_store.db, settings)
    assert not report.ok and report.first.seq == 2 and "no longer hash" in report.first.what


async def test_a_token_from_an_untrusted_tsa_is_refused(log_store, tmp_path):
    db_store, settings = log_store
    await _exchange(db_store, 2)
    await evidence.chainer(db_store).seal_all()
    await evidence.seal_all(db_store.db, settings)
    from shared import devpki

    other = devpki.make_ca("Một CA khác", "không tin cậy")
    devpki.save(other, tmp_path, "other")
    report = await evidence.verify(db_store.db, settings.model_copy(update={"tsa_trust_roots": [tmp_path / "other.crt.pem"]}))
    assert not report.ok and report.first.seq == 2 and "does not chain" in report.first.what
    assert report.sealed_up_to == 0


async def test_without_the_tsa_entries_wait_unsealed_and_are_sealed_later(log_store, tsa_server):
    url, _ = tsa_server
    db_store, settings = log_store
    _switch(url, False)
    await _exchange(db_store, 5)
    await evidence.chainer(db_store).seal_all()
    with pytest.raises(tsa.TsaUnavailable):
        await evidence.seal_once(db_store.db, settings)
    facts = await evidence.refresh_gauges(db_store.db)
    assert facts["unsealed"] == 5 and facts["sealed_up_to"] == 0 and facts["oldest_unsealed_at"] is not None
    assert evidence.UNSEALED_ENTRIES._value.get() == 5
    report = await evidence.verify(db_store.db, settings)
    assert report.ok and report.unsealed == 5  # waiting is not broken
    _switch(url, True)
    sealer = asyncio.create_task(evidence.run_sealer(db_store.db, settings, interval=0.2))
    try:
        for _ in range(100):
            if (await store_.facts(db_store.db))["unsealed"] == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        sealer.cancel()
    assert (await store_.facts(db_store.db))["sealed_up_to"] == 5
    assert (await evidence.verify(db_store.db, settings)).ok


async def test_two_sealers_never_seal_overlapping_batches(log_store):
    """Two gateway replicas: chainers race on the head (compare-and-set), sealers on the
    seal's first seq (a unique _id): one chain, seals back to back."""
    db_store, settings = log_store
    await _exchange(db_store, 13)
    chainers = [evidence.chainer(db_store), evidence.chainer(Store(settings.mongodb_url, settings.database_name("gateway")))]
    await asyncio.gather(*(c.seal_all() for c in chainers))
    await asyncio.gather(evidence.seal_all(db_store.db, settings), evidence.seal_all(db_store.db, settings))
    seals = await store_.all_seals(db_store.db)
    spans = [(s["seq_from"], s["seq_to"]) for s in seals]
    assert spans[0][0] == 1 and spans[-1][1] == 13
    assert all(b[0] == a[1] + 1 for a, b in zip(spans, spans[1:]))
    assert (await evidence.verify(db_store.db, settings)).ok


async def test_the_cli_passes_then_names_the_broken_seq(log_store, tsa_server):
    """`vanthu evidence verify` reads the store the environment names; exit 1 naming the seq."""
    from typer.testing import CliRunner

    from devstack.cli import app as cli_app

    _, ca = tsa_server
    db_store, settings = log_store
    await _exchange(db_store, 3)
    await evidence.chainer(db_store).seal_all()
    await evidence.seal_all(db_store.db, settings)
    env = {"MONGODB_URL": settings.mongodb_url, "DATABASE_PREFIX": settings.database_prefix, "COLUMNS": "250",
           "TRUST_ROOTS": "[]", "TSA_TRUST_ROOTS": "[]", "VAR_DIR": str(settings.var_dir)}

    def run(*args: str):
        return CliRunner().invoke(cli_app, ["evidence", "verify", *args], env=env)

    result = await asyncio.to_thread(run, "--tsa-ca", str(ca))
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    result = await asyncio.to_thread(run)  # no TSA root anywhere: the seals cannot be trusted
    assert result.exit_code == 1 and "no TSA trust roots" in result.output, result.output
    await db_store.db[store_.EVIDENCE].update_one({"seq": 2}, {"$set": {"document_id": "đã sửa"}})
    result = await asyncio.to_thread(run, "--tsa-ca", str(ca))
    assert result.exit_code == 1 and "BROKEN at seq 2" in result.output, result.output
