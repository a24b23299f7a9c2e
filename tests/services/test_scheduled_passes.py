"""Scheduled archive passes with several replicas (issue 7 item 7; R-4.1, R-11.1): the fixity and
preservation loops of two archive processes wake together (same last run, same interval); only
one of them runs each pass — two preservation passes at once would add two document timestamps to
the same record, two fixity passes two alerts for one damaged file. On the real store."""

from __future__ import annotations

import asyncio
import types
import uuid

import pytest

from services.archive.handlers.fixity import SCHEDULE_CLAIMS, _claim_pass, _scheduled
from shared.clock import utcnow
from shared.db import Store

RUNS = "test_runs"


@pytest.fixture
async def replicas(mongodb_url):
    name = f"t{uuid.uuid4().hex[:10]}_archive"
    stores = [Store(mongodb_url, name), Store(mongodb_url, name)]  # two processes, one database
    yield [types.SimpleNamespace(store=s, name=f"archive-{i + 1}") for i, s in enumerate(stores)]
    await stores[0].client.drop_database(name)
    for store in stores:
        await store.close()


async def test_two_replicas_run_each_scheduled_pass_once(replicas):
    passes: list[tuple[str, object]] = []

    def job_of(replica):
        async def job(ctx) -> None:
            # As run_fixity and run_preservation do: the run is recorded when it starts.
            started = utcnow()
            await ctx.store.db[RUNS].insert_one({"_id": uuid.uuid4().hex, "started_at": started, "by": replica.name})
            passes.append((replica.name, started))
            await asyncio.sleep(0.05)
        return job

    loops = [asyncio.create_task(_scheduled(r, runs=RUNS, interval=lambda: 1.0, job=job_of(r), name="test"))
             for r in replicas]
    await asyncio.sleep(6.5)
    for loop in loops:
        loop.cancel()
    await asyncio.gather(*loops, return_exceptions=True)

    starts = sorted(at for _, at in passes)
    assert len(starts) >= 4, passes
    gaps = [(b - a).total_seconds() for a, b in zip(starts, starts[1:])]
    assert min(gaps) > 0.5, f"two replicas ran the same pass: {gaps}"
    assert len(starts) <= 8, passes  # one pass per interval, not one per replica
    assert await replicas[0].store.db[RUNS].count_documents({}) == len(starts)


async def test_a_claim_whose_pass_never_ran_is_taken_again_later(replicas):
    first, second = replicas
    assert await _claim_pass(first, RUNS, None, stale_after=0.5)
    assert not await _claim_pass(second, RUNS, None, stale_after=0.5)  # the same pass, taken
    await asyncio.sleep(0.7)  # its run was never recorded (it failed): the pass is free again
    assert await _claim_pass(second, RUNS, None, stale_after=0.5)
    assert await first.store.db[SCHEDULE_CLAIMS].count_documents({}) == 1
