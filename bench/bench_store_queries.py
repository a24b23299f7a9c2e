"""The two queries every service runs after each commit or batch, as the data grows (issue 7: the
10-minute load run's latency drifted upward with the data).

- the audit chainer's "entries not yet sealed" (shared/audit_chain.py `UNSEALED`), and
- the outbox relay's "pending rows without a live lease" (shared/bus/outbox.py `free_rows`).

Each on a fresh SecantusDB holding N sealed audit entries / N sent outbox rows plus 20 waiting
ones, with the services' own indexes (shared.db.Store.ensure_indexes). Three timings per size:
`before` (the shapes used until 2026-12-02: `$exists: false`, and an `$or` with it), `now` (the
shapes the code uses) and `raw` (PyMongo fetching the same 20 rows by `_id`, the floor). The
rows found are checked to be the same. Median of 7 runs, in ms; the load average is printed.

    .venv/bin/python bench/bench_store_queries.py
    .venv/bin/python bench/bench_store_queries.py --sizes 1000 16000 64000

Figures here, 2026-12-02 (2 cores, quiet: load 0.1–0.3), median ms, ratio = now / raw:
     1000 rows  audit unsealed  before  12.07  now 1.21  raw 1.20  (now/raw 1.01; before/raw  10.1)
     1000 rows  outbox free     before  11.64  now 1.43  raw 1.21  (1.19;  9.7)
    16000 rows  audit unsealed  before 181.68  now 1.32  raw 1.27  (1.04; 143.0)
    16000 rows  outbox free     before 178.96  now 1.50  raw 1.22  (1.23; 146.5)
  So `before` grew with the collection (a full scan) and `now` does not.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.processes import Stack, free_port, start_embedded_store  # noqa: E402
from shared.audit_chain import UNSEALED  # noqa: E402
from shared.bus.outbox import free_rows  # noqa: E402
from shared.db import AUDIT, OUTBOX, Store  # noqa: E402

WAITING = 20
RUNS = 7
BEFORE_UNSEALED = {"seq": {"$exists": False}}


def before_free_rows(now: dt.datetime) -> dict:
    return {"state": "pending", "$or": [{"lease_until": {"$exists": False}}, {"lease_until": {"$lt": now}}]}


async def fill(store: Store, n: int, now: dt.datetime) -> None:
    audit, outbox = store.db[AUDIT], store.db[OUTBOX]
    for start in range(0, n, 2000):
        rows = range(start, min(start + 2000, n))
        await audit.insert_many([{"_id": f"a{i}", "seq": i + 1, "subject_id": f"s{i % 500}", "action": "x", "at": now}
                                 for i in rows])
        await outbox.insert_many([{"_id": f"o{i}", "state": "sent", "urgent": False, "created_at": now, "sent_at": now}
                                  for i in rows])
    await audit.insert_many([{"_id": f"u{i}", "subject_id": "s", "action": "x", "at": now} for i in range(WAITING)])
    past, future = now - dt.timedelta(minutes=5), now + dt.timedelta(minutes=5)
    waiting = []
    for i in range(WAITING + 5):
        row = {"_id": f"p{i}", "state": "pending", "urgent": i % 3 == 0, "created_at": now}
        if i % 4 == 1:
            row["lease_until"] = past  # a lapsed lease: free again
        if i >= WAITING:
            row["lease_until"] = future  # held by a live replica: not free
        waiting.append(row)
    await outbox.insert_many(waiting)


async def median_ms(query) -> tuple[float, set]:
    times, found = [], set()
    for _ in range(RUNS):
        started = time.perf_counter()
        rows = await query()
        times.append((time.perf_counter() - started) * 1000)
        found = {row["_id"] for row in rows}
    return statistics.median(times), found


async def measure(url: str, n: int) -> dict:
    store = Store(url, f"benchq{n}", app_name="bench")
    await store.ensure_indexes()
    now = dt.datetime.now(dt.UTC)
    await fill(store, n, now)
    audit, outbox = store.db[AUDIT], store.db[OUTBOX]
    order = [("urgent", -1), ("created_at", 1)]
    result = {}
    cases = {
        "audit unsealed": (lambda f: audit.find(f).sort([("at", 1), ("_id", 1)]).to_list(), BEFORE_UNSEALED, UNSEALED),
        "outbox free": (lambda f: outbox.find(f, sort=order, limit=100).to_list(), before_free_rows(now), free_rows(now)),
    }
    for name, (run, before, current) in cases.items():
        before_ms, before_rows = await median_ms(lambda: run(before))
        now_ms, now_rows = await median_ms(lambda: run(current))
        ids = sorted(now_rows)
        raw_ms, raw_rows = await median_ms(lambda: (audit if name.startswith("audit") else outbox).find({"_id": {"$in": ids}}).to_list())
        assert before_rows == now_rows == raw_rows and len(now_rows) == WAITING, (name, len(before_rows), len(now_rows))
        result[name] = (before_ms, now_ms, raw_ms)
    await store.client.drop_database(f"benchq{n}")
    await store.close()
    return result


async def main(sizes: list[int]) -> None:
    var = Path(tempfile.mkdtemp(prefix="benchq-"))
    stack = Stack(var, dict(os.environ))
    port = free_port()
    proc = start_embedded_store(stack, port, var / "data")
    try:
        for n in sizes:
            figures = await measure(f"mongodb://127.0.0.1:{port}/", n)
            load = os.getloadavg()[0]
            for name, (before, now, raw) in figures.items():
                print(f"{n:>7} rows  {name:<15} before {before:8.2f} ms  now {now:7.2f} ms  raw {raw:6.2f} ms  "
                      f"now/raw {now / raw:5.2f}  before/raw {before / raw:7.1f}  (load {load:.1f})")
    finally:
        proc.stop()
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 16000])
    asyncio.run(main(parser.parse_args().sizes))
