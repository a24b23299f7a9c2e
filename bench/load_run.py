"""A steady load on the whole system for --minutes, with each document's end-to-end latency over
time (issue 7, "how it is shown": no periodic stalls; R-13).

    .venv/bin/python bench/load_run.py --minutes 10 --rate 1 --outgoing-every 10

It starts its own isolated stack (free ports, its own RabbitMQ vhost, an embedded store; with
--replicas 2 two processes of every service), then keeps up:
- incoming: `--rate` documents per second from the simulated agencies (round robin), each timed
  from the moment the axis holds it (the agency's send returned) to its `registered_at` in intake.
  The agencies' signed packages are made before the timed phase (with their keys from the axis's
  PKI directory) and sent through the axis as each agency's system would (VXP sendEdoc): the local
  axis only relays them. --sim-send has the axis make and sign each one when it is sent instead
  (then, on a busy machine, the axis itself is the bottleneck: see "local axis /healthz");
- outgoing: one document every `--outgoing-every` seconds handed in by the clerk (POST /outgoing) and
  approved by the chairman (POST /outgoing/{id}/approve),
  timed from the POST to the axis accepting it (`transport_at` of its delivery), which includes
  both signatures on the token and the time-stamping server.
Every second it samples what was sent, what completed and what is in flight. Afterwards, in the
same run and on the same broker and store, the raw libraries do the same number of operations:
aio-pika publish → consume round trips (persistent, confirmed, one quorum queue) and pymongo
insert_one calls; the pipeline's latencies are printed as a ratio to those, with the absolute
figures beside. Figures are machine-noisy (read the ratios and the shape over time).

Writes into bench/results/ (ignored by git; `git add -f` a real run's PNG):
  load-<stamp>-documents.csv  one row per document (kind, id, sent, done, latency)
  load-<stamp>-seconds.csv    one row per second (sent, completed, in flight, load average)
  load-<stamp>-probes.csv     every --probe-every s: axis polls, store transactions, outbox (from /metrics)
  load-<stamp>.png            p50/p95 per window over time, and the throughput
A stall is a window whose p95 exceeds 3× the run's median window p95, or a window in which
nothing completed while documents were in flight; each is printed with its time.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.stack import StackOptions, start_stack  # noqa: E402
from shared.auth import PORTAL_ISSUER, TokenIssuer  # noqa: E402

SENDERS = ("000.00.00.H56", "000.01.00.H56", "000.12.00.H56", "000.25.26.H56")
RECIPIENT = "000.01.00.H56"
COMMUNE = "000.24.26.H56"  # the system under test
RESULTS = Path(__file__).resolve().parent / "results"
STALL_FACTOR = 3.0


@dataclass
class Doc:
    kind: str  # "incoming" | "outgoing"
    key: str  # DocumentId at the agency (incoming) or dispatch's record id (outgoing)
    sent: float  # epoch seconds
    done: float | None = None
    submit: float = 0.0  # how long the agency's send (incoming) or the clerk's POST (outgoing) took

    @property
    def latency(self) -> float | None:
        return None if self.done is None else self.done - self.sent


@dataclass
class Run:
    started: float
    docs: dict[tuple[str, str], Doc] = field(default_factory=dict)
    seconds: list[dict] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)  # metrics read from the processes
    errors: list[str] = field(default_factory=list)

    def pending(self, kind: str) -> list[Doc]:
        return [d for d in self.docs.values() if d.kind == kind and d.done is None]


def epoch(value: str) -> float:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def metric_sum(text: str, name: str) -> float:
    """Sum of one metric's samples (every label set) in a /metrics page."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# What the probe reads from each process every few seconds: is the axis poller running, how long
# do the store's transactions take (retries included), how far behind is the outbox.
PROBES = {
    "gateway": ("vanthu_axis_polls_total", "vanthu_store_transaction_seconds_sum", "vanthu_store_transaction_seconds_count"),
    "intake": ("vanthu_store_transaction_seconds_sum", "vanthu_store_transaction_seconds_count", "vanthu_outbox_pending"),
}


class Clerk:
    """Calls as the clerk with a fresh short-lived token each time (R-15.5)."""

    def __init__(self, keys_dir: str) -> None:
        self.issuer = TokenIssuer(keys_dir, PORTAL_ISSUER)

    def headers(self) -> dict[str, str]:
        return self.issuer.headers("vanthu", "clerk", "Trần Thị Mai")

    def chairman_headers(self) -> dict[str, str]:
        """The chairman approves what the clerk hands in, himself (R-7.1, R-8.2)."""
        return self.issuer.headers("chutich", "chairman", "Lê Văn Thành")


def outgoing_pdfs(count: int) -> list[tuple[str, bytes]]:
    from shared.pdfdocs import DocumentText, render_document

    pdfs = []
    for i in range(count):
        subject = f"Thông báo đo tải số {i + 1}"
        pdfs.append((subject, render_document(DocumentText(type_name="THÔNG BÁO", subject=subject,
                                                           number_notation="Số:      /TB-UBND"), number_fields=True).pdf))
    return pdfs


@dataclass
class Prepared:
    """An agency's signed package made before the timed phase, sent through the axis as that
    agency's own system would (VXP sendEdoc with its SystemId and secret)."""

    sender: str
    document_id: str
    data: bytes


def _prepare_chunk(var: str, axis_url: str, indices: list[int]) -> list[Prepared]:
    from devstack.stack import AGENCIES_FILE
    from localaxis.agencies import load_agencies
    from localaxis.pki import AxisPki
    from localaxis.simulator import Simulator

    agencies = load_agencies(AGENCIES_FILE)
    pki = AxisPki(Path(var) / "axis" / "pki", axis_url, agencies.simulated())
    pki.ensure()  # loads the keys the axis made at its start
    sim = Simulator(pki, None, agencies)  # the store only numbers; each number is given here
    prepared = []
    for i in indices:
        agency = agencies.by_code(SENDERS[i % len(SENDERS)])
        package, data = sim.issue(agency, to=COMMUNE, subject=f"Văn bản đo tải số {i + 1}", type_name="Công văn",
                                  code_notation=None, urgency=0, due_date=None, fault=None,
                                  code_number=i // len(SENDERS) + 1)  # each agency's own numbers, from 1
        prepared.append(Prepared(agency.code, package.document_id, data))
    return prepared


def prepare_incoming(var: Path, axis_url: str, count: int) -> list[Prepared]:
    """The simulated agencies' documents, made and signed here (one process per core) with their
    keys from the axis's PKI directory: the local axis then only relays them, as the national
    axis would, instead of also rendering and signing a PDF per document in the process that
    answers the gateway."""
    from concurrent.futures import ProcessPoolExecutor

    workers = max(1, min(os.cpu_count() or 1, count))
    chunks = [list(range(count))[w::workers] for w in range(workers)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = list(pool.map(_prepare_chunk, [str(var)] * workers, [axis_url] * workers, chunks))
    by_index = {i: doc for chunk, part in zip(chunks, parts) for i, doc in zip(chunk, part)}
    return [by_index[i] for i in range(count)]


async def deliver_prepared(axis: dict, run: Run, doc: Prepared) -> None:
    started = time.time()
    try:
        await axis[doc.sender].send(doc.sender, [COMMUNE], "edoc", doc.data)
    except Exception as exc:  # noqa: BLE001 - counted and reported, the run goes on
        run.errors.append(f"incoming {doc.document_id}: {exc!r}")
        return
    at = time.time()  # the axis holds it now
    run.docs[("incoming", doc.document_id)] = Doc("incoming", doc.document_id, at, submit=at - started)


async def send_incoming(client: httpx.AsyncClient, urls: dict, run: Run, i: int) -> None:
    sender = SENDERS[i % len(SENDERS)]
    started = time.time()
    try:
        response = await client.post(f"{urls['axis']}/_sim/agencies/{sender}/send",
                                     json={"subject": f"Văn bản đo tải số {i + 1}"}, timeout=120)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        run.errors.append(f"incoming {i}: {exc!r}")
        return
    at = time.time()  # the axis holds it now
    for doc in response.json()["documents"]:
        run.docs[("incoming", doc["document_id"])] = Doc("incoming", doc["document_id"], at, submit=at - started)


async def issue_outgoing(client: httpx.AsyncClient, urls: dict, clerk: Clerk, run: Run, subject: str, pdf: bytes) -> None:
    at = time.time()
    try:
        response = await client.post(f"{urls['dispatch']}/outgoing", headers=clerk.headers(), timeout=120,
                                     files={"file": ("thong-bao.pdf", pdf, "application/pdf")},
                                     data={"type_name": "Thông báo", "subject": subject, "recipients": RECIPIENT,
                                           "signer_full_name": "Lê Văn Minh"})
        response.raise_for_status()
        key = response.json()["id"]
        approved = await client.post(f"{urls['dispatch']}/outgoing/{key}/approve", headers=clerk.chairman_headers(),
                                     json={}, timeout=120)
        approved.raise_for_status()
    except httpx.HTTPError as exc:
        run.errors.append(f"outgoing {subject}: {exc!r}")
        return
    run.docs[("outgoing", key)] = Doc("outgoing", key, at, submit=time.time() - at)


async def collect(client: httpx.AsyncClient, urls: dict, clerk: Clerk, run: Run) -> None:
    """Marks what completed: registrations from intake's newest documents, acceptances from each
    pending outgoing record."""
    if pending := run.pending("incoming"):
        # Newest first: the oldest pending one is within the documents sent since it (a small
        # page, so the probe itself does not load intake).
        oldest = min(d.sent for d in pending)
        limit = min(500, sum(d.kind == "incoming" and d.sent >= oldest for d in run.docs.values()) + 20)
        response = await client.get(f"{urls['intake']}/documents?state=registered&limit={limit}", headers=clerk.headers(), timeout=60)
        response.raise_for_status()
        for row in response.json():
            doc = run.docs.get(("incoming", (row.get("response_for") or {}).get("document_id")))
            if doc is not None and doc.done is None and row.get("registered_at"):
                doc.done = epoch(row["registered_at"])
    for doc in run.pending("outgoing"):
        response = await client.get(f"{urls['dispatch']}/outgoing/{doc.key}", headers=clerk.headers(), timeout=60)
        if response.status_code != 200:
            continue
        deliveries = response.json().get("deliveries") or []
        if deliveries and all(d.get("transport_state") == "accepted" and d.get("transport_at") for d in deliveries):
            doc.done = max(epoch(d["transport_at"]) for d in deliveries)


async def drive(urls: dict, keys_dir: str, args: argparse.Namespace, prepared: list[Prepared]) -> Run:
    from devstack.stack import AGENCIES_FILE
    from localaxis.agencies import load_agencies
    from services.gateway.adapters.vxp_axis import VxpAxisClient

    clerk = Clerk(keys_dir)
    agencies = load_agencies(AGENCIES_FILE)
    axis = {code: VxpAxisClient(urls["axis"], agencies.by_code(code).systemid, agencies.by_code(code).secret, timeout=120)
            for code in SENDERS}
    pdfs = outgoing_pdfs(min(50, max(1, int(args.minutes * 60 / args.outgoing_every) + 1)) if args.outgoing_every > 0 else 1)
    run = Run(started=time.time())
    tasks: set[asyncio.Task] = set()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
    async with httpx.AsyncClient(limits=limits) as client:

        def spawn(coro) -> None:
            task = asyncio.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        async def collector(stop: asyncio.Event) -> None:
            while not stop.is_set():
                try:
                    await collect(client, urls, clerk, run)
                except httpx.HTTPError as exc:
                    run.errors.append(f"collect: {exc!r}")
                try:
                    await asyncio.wait_for(stop.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass

        async def sampler(stop: asyncio.Event) -> None:
            last_done = 0
            while not stop.is_set():
                done = sum(d.done is not None for d in run.docs.values())
                run.seconds.append({"t": round(time.time() - run.started, 1), "sent": len(run.docs), "completed": done,
                                    "completed_in_second": done - last_done,
                                    "in_flight": len(run.docs) - done, "load1": os.getloadavg()[0]})
                last_done = done
                try:
                    await asyncio.wait_for(stop.wait(), 1.0)
                except asyncio.TimeoutError:
                    pass

        async def probe(stop: asyncio.Event) -> None:
            while not stop.is_set():
                row = {"t": round(time.time() - run.started, 1)}
                # The local axis shares its process with the simulated agencies making and signing
                # their documents: when it is slow to answer, the gateway's polls wait on it.
                began = time.perf_counter()
                try:
                    await client.get(f"{urls['axis']}/healthz", timeout=30)
                    row["axis:healthz_ms"] = round((time.perf_counter() - began) * 1000, 1)
                except httpx.HTTPError:
                    row["axis:healthz_ms"] = None
                for service, names in PROBES.items():
                    try:
                        text = (await client.get(f"{urls[service]}/metrics", timeout=10)).text
                    except httpx.HTTPError:
                        continue
                    for name in names:
                        row[f"{service}:{name}"] = metric_sum(text, name)
                run.probes.append(row)
                try:
                    await asyncio.wait_for(stop.wait(), args.probe_every)
                except asyncio.TimeoutError:
                    pass

        stop = asyncio.Event()
        background = [asyncio.create_task(collector(stop)), asyncio.create_task(sampler(stop)),
                      asyncio.create_task(probe(stop))]
        duration = args.minutes * 60
        incoming_period = 1 / args.rate if args.rate > 0 else None
        next_in, next_out, i, o = run.started, run.started + 2, 0, 0
        while (now := time.time()) < run.started + duration:
            if incoming_period and now >= next_in:
                if args.sim_send:
                    spawn(send_incoming(client, urls, run, i))
                elif i < len(prepared):
                    spawn(deliver_prepared(axis, run, prepared[i]))
                i += 1
                next_in += incoming_period
            if args.outgoing_every > 0 and now >= next_out:
                subject, pdf = pdfs[o % len(pdfs)]
                spawn(issue_outgoing(client, urls, clerk, run, f"{subject} ({o + 1})", pdf))
                o += 1
                next_out += args.outgoing_every
            await asyncio.sleep(max(0.01, min(next_in if incoming_period else now + 1, next_out) - time.time()))
        print(f"load phase over: {i} incoming and {o} outgoing started; draining …", flush=True)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        deadline = time.time() + args.drain
        while time.time() < deadline and (run.pending("incoming") or run.pending("outgoing")):
            await asyncio.sleep(1)
        stop.set()
        await asyncio.gather(*background, return_exceptions=True)
        await collect(client, urls, clerk, run)
    for client_of_agency in axis.values():
        await client_of_agency.close()
    return run


RAW_SECONDS = 60.0  # at most this long per raw library (a 10-minute run's raw phase once hung past its timeout)


async def raw_amqp_round_trips(amqp_url: str, n: int) -> list[float]:
    """aio-pika alone: persistent publish with confirm → consumed, one at a time, on a quorum
    queue of the same broker; seconds per round trip."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    queue = await channel.declare_queue(f"bench.load.{uuid.uuid4().hex}", durable=True, arguments={"x-queue-type": "quorum"})
    arrived: asyncio.Queue = asyncio.Queue()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await message.ack()
        arrived.put_nowait(time.perf_counter())

    tag = await queue.consume(on_message)
    body = b"x" * 1024
    latencies = []
    budget = time.perf_counter() + RAW_SECONDS
    for i in range(n):
        if latencies and time.perf_counter() > budget:
            break  # a busy machine: enough samples for a median, and the results still get written
        started = time.perf_counter()
        await channel.default_exchange.publish(aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                                                                message_id=str(i)), routing_key=queue.name)
        latencies.append(await asyncio.wait_for(arrived.get(), 30) - started)
    await queue.cancel(tag)
    await queue.delete(if_unused=False, if_empty=False)
    await connection.close()
    return latencies


async def raw_inserts(mongodb_url: str, n: int) -> list[float]:
    """pymongo alone: insert_one (majority write concern, as the services write) on the same store."""
    from pymongo import AsyncMongoClient
    from pymongo.write_concern import WriteConcern

    client = AsyncMongoClient(mongodb_url, socketTimeoutMS=30000)
    db = client[f"bench_load_{uuid.uuid4().hex[:8]}"]
    collection = db.get_collection("raw", write_concern=WriteConcern("majority"))
    latencies = []
    budget = time.perf_counter() + RAW_SECONDS
    for i in range(n):
        if latencies and time.perf_counter() > budget:
            break
        started = time.perf_counter()
        await collection.insert_one({"i": i, "payload": "x" * 512})
        latencies.append(time.perf_counter() - started)
    await client.drop_database(db.name)
    await client.close()
    return latencies


def windows(run: Run, kind: str, width: float) -> list[dict]:
    """Per window of `width` seconds (by completion time): count, p50, p95 of latency."""
    done = [d for d in run.docs.values() if d.kind == kind and d.done is not None]
    if not done:
        return []
    last = max(d.done for d in done) - run.started
    rows = []
    for k in range(int(last // width) + 1):
        inside = [d.latency for d in done if k * width <= d.done - run.started < (k + 1) * width]
        rows.append({"start": k * width, "count": len(inside),
                     "p50": statistics.median(inside) if inside else None,
                     "p95": percentile(inside, 95) if inside else None})
    return rows


def stalls(run: Run, kind: str, rows: list[dict], width: float) -> list[str]:
    found = []
    p95s = [r["p95"] for r in rows if r["p95"] is not None]
    if len(p95s) >= 3:
        typical = statistics.median(p95s)
        found += [f"{kind} {r['start']:.0f}–{r['start'] + width:.0f} s: p95 {r['p95']:.2f} s > {STALL_FACTOR:.0f}× median {typical:.2f} s"
                  for r in rows if r["p95"] is not None and r["p95"] > STALL_FACTOR * typical]
    # Nothing completed in a window while documents of this kind had been waiting a whole window.
    for r in rows:
        waiting = [d for d in run.docs.values() if d.kind == kind and d.sent - run.started < r["start"] - width
                   and (d.done is None or d.done - run.started >= r["start"] + width)]
        if r["count"] == 0 and waiting:
            found.append(f"{kind} {r['start']:.0f}–{r['start'] + width:.0f} s: nothing completed, {len(waiting)} waiting")
    return found


def probe_window(probes: list[dict], start: float, end: float) -> str:
    """Differences of the probed counters over [start, end] (nearest samples)."""
    before = [p for p in probes if p["t"] <= start] or probes[:1]
    after = [p for p in probes if p["t"] >= end] or probes[-1:]
    a, b = before[-1], after[0]

    def delta(key: str) -> float:
        return b.get(key, 0.0) - a.get(key, 0.0)

    parts = [f"{delta('gateway:vanthu_axis_polls_total'):.0f} polls"]
    for service in PROBES:
        count = delta(f"{service}:vanthu_store_transaction_seconds_count")
        total = delta(f"{service}:vanthu_store_transaction_seconds_sum")
        parts.append(f"{service} {count:.0f} tx, mean {total / count * 1000:.0f} ms" if count else f"{service} 0 tx")
    parts.append(f"intake outbox pending {b.get('intake:vanthu_outbox_pending', 0):.0f}")
    axis = [p["axis:healthz_ms"] for p in probes if start <= p["t"] <= end and p.get("axis:healthz_ms") is not None]
    if axis:
        parts.append(f"axis /healthz {max(axis):.0f} ms at worst")
    return f"{a['t']:.0f}–{b['t']:.0f} s: " + "; ".join(parts)


def plot(run: Run, path: Path, width: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7), sharex=True, height_ratios=(3, 2))
    for kind, colour in (("incoming", "tab:blue"), ("outgoing", "tab:orange")):
        rows = [r for r in windows(run, kind, width) if r["p50"] is not None]
        if not rows:
            continue
        xs = [r["start"] + width / 2 for r in rows]
        top.plot(xs, [r["p50"] for r in rows], color=colour, label=f"{kind} p50")
        top.plot(xs, [r["p95"] for r in rows], color=colour, linestyle="--", label=f"{kind} p95")
    top.set_ylabel("end-to-end latency (s)")
    top.set_ylim(bottom=0)
    top.grid(alpha=0.3)
    top.legend(loc="upper left", fontsize=8)
    top.set_title(title, fontsize=10)
    for kind, colour in (("incoming", "tab:blue"), ("outgoing", "tab:orange")):
        rows = windows(run, kind, width)
        if rows:
            bottom.bar([r["start"] + width / 2 for r in rows], [r["count"] / width for r in rows], width=width * 0.9,
                       color=colour, alpha=0.5, label=f"{kind} completed/s")
    in_flight = bottom.twinx()
    in_flight.plot([s["t"] for s in run.seconds], [s["in_flight"] for s in run.seconds], color="black", linewidth=0.8, label="in flight")
    in_flight.set_ylabel("in flight")
    in_flight.set_ylim(bottom=0)
    bottom.set_ylabel("documents/s")
    bottom.set_xlabel(f"seconds since start (windows of {width:.0f} s, by completion)")
    bottom.grid(alpha=0.3)
    bottom.legend(loc="upper left", fontsize=8)
    in_flight.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def summary_line(name: str, values: list[float]) -> str:
    if not values:
        return f"  {name:<34} (none)"
    return (f"  {name:<34} n={len(values):<5} p50 {statistics.median(values) * 1000:9.1f} ms   p95 {percentile(values, 95) * 1000:9.1f} ms"
            f"   p99 {percentile(values, 99) * 1000:9.1f} ms   max {max(values) * 1000:9.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10, help="length of the load phase")
    parser.add_argument("--rate", type=float, default=1.0, help="incoming documents per second")
    parser.add_argument("--outgoing-every", type=float, default=10.0, help="seconds between outgoing documents (0: none)")
    parser.add_argument("--replicas", type=int, default=1, help="processes per service")
    parser.add_argument("--poll-interval", type=float, default=2.0, help="the gateway's axis poll interval (s)")
    parser.add_argument("--window", type=float, default=10.0, help="window for p50/p95 and stalls (s)")
    parser.add_argument("--sim-send", action="store_true",
                        help="have the local axis make and sign each incoming document when it is sent (/_sim/…/send) "
                             "instead of preparing them before the timed phase")
    parser.add_argument("--probe-every", type=float, default=5.0, help="seconds between reads of the processes' /metrics")
    parser.add_argument("--drain", type=float, default=180.0, help="seconds to wait for the last documents")
    parser.add_argument("--raw-max", type=int, default=2000, help="cap on raw operations per library")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--keep", action="store_true", help="keep the stack's temporary directory")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="vanthu-load-"))
    vhost = f"vanthu-load-{uuid.uuid4().hex[:6]}"
    amqp_url = None
    if shutil.which("rabbitmqctl") and subprocess.run(["rabbitmqctl", "add_vhost", vhost], capture_output=True).returncode == 0:
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], capture_output=True)
        amqp_url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    print(f"starting an isolated stack in {var} (replicas {args.replicas}, vhost {vhost if amqp_url else '/'}) …", flush=True)
    stack = start_stack(StackOptions.isolated(var, amqp_url=amqp_url, replicas=args.replicas, axis_poll_interval=args.poll_interval))
    load_before = os.getloadavg()
    try:
        urls = {k: stack.env[f"{k.upper()}_URL"] for k in ("gateway", "intake", "dispatch")}
        urls["axis"] = stack.env["AXIS_URL"]
        prepared = []
        if not args.sim_send:
            count = int(args.rate * args.minutes * 60) + 1
            print(f"preparing {count} signed packages of the simulated agencies …", flush=True)
            prepared = prepare_incoming(var, urls["axis"], count)
        print(f"load: {args.rate} incoming/s, one outgoing every {args.outgoing_every} s, for {args.minutes} min …", flush=True)
        run = asyncio.run(drive(urls, stack.env["AUTH_KEYS_DIR"], args, prepared))
        load_during = os.getloadavg()
        n_raw = max(1, min(args.raw_max, len(run.docs)))
        print(f"raw libraries, same broker and store, {n_raw} operations each …", flush=True)
        raw_amqp = asyncio.run(raw_amqp_round_trips(stack.env["AMQP_URL"], n_raw))
        raw_store = asyncio.run(raw_inserts(stack.env["MONGODB_URL"], n_raw))
    finally:
        stack.stop_all()
        if amqp_url:
            subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)
        if not args.keep:
            shutil.rmtree(var, ignore_errors=True)

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    docs_csv, seconds_csv, png = (args.out / f"load-{stamp}-documents.csv", args.out / f"load-{stamp}-seconds.csv",
                                  args.out / f"load-{stamp}.png")
    with docs_csv.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["kind", "id", "submit_s", "sent_s", "done_s", "latency_s"])
        for d in sorted(run.docs.values(), key=lambda d: d.sent):
            writer.writerow([d.kind, d.key, f"{d.submit:.3f}", f"{d.sent - run.started:.3f}",
                             "" if d.done is None else f"{d.done - run.started:.3f}",
                             "" if d.latency is None else f"{d.latency:.3f}"])
    with seconds_csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["t", "sent", "completed", "completed_in_second", "in_flight", "load1"])
        writer.writeheader()
        writer.writerows(run.seconds)
    probes_csv = args.out / f"load-{stamp}-probes.csv"
    if run.probes:
        with probes_csv.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=sorted({k for row in run.probes for k in row}, key=lambda k: (k != "t", k)))
            writer.writeheader()
            writer.writerows(run.probes)
    title = (f"vanthu load run {stamp}: {args.rate}/s incoming, 1 outgoing per {args.outgoing_every:.0f} s, "
             f"{args.minutes:g} min, replicas {args.replicas}, poll {args.poll_interval:g} s, load1 {load_during[0]:.1f}")
    plot(run, png, args.window, title)

    incoming = [d.latency for d in run.docs.values() if d.kind == "incoming" and d.latency is not None]
    outgoing = [d.latency for d in run.docs.values() if d.kind == "outgoing" and d.latency is not None]
    lost = {k: len(run.pending(k)) for k in ("incoming", "outgoing")}
    print()
    print(f"load run: {args.minutes:g} min, {args.rate}/s incoming, one outgoing every {args.outgoing_every:g} s, "
          f"replicas {args.replicas}, gateway poll every {args.poll_interval:g} s")
    print(f"  load average before {load_before[0]:.2f}, at the end {load_during[0]:.2f} (2 cores shared)")
    for kind, values in (("incoming", incoming), ("outgoing", outgoing)):
        sent = sum(d.kind == kind for d in run.docs.values())
        print(f"  {kind:<9} sent {sent:5}  completed {len(values):5}  not completed after {args.drain:.0f} s drain: {lost[kind]}")
    if run.errors:
        print(f"  client errors: {len(run.errors)} (first: {run.errors[0]})")
    print("end-to-end latency:")
    print(summary_line("incoming: axis → registered", incoming))
    print(summary_line("outgoing: POST → accepted by axis", outgoing))
    print("the load generator itself (not part of the latency above):")
    print(summary_line("agency's send to the local axis", [d.submit for d in run.docs.values() if d.kind == "incoming"]))
    print(summary_line("clerk's POST /outgoing", [d.submit for d in run.docs.values() if d.kind == "outgoing"]))
    axis_ms = [p["axis:healthz_ms"] / 1000 for p in run.probes if p.get("axis:healthz_ms") is not None]
    print(summary_line("local axis /healthz", axis_ms))
    print(f"raw libraries, same run, up to {n_raw} operations each (at most {RAW_SECONDS:.0f} s each):")
    print(summary_line("aio-pika publish→consume", raw_amqp))
    print(summary_line("pymongo insert_one (w=majority)", raw_store))
    if incoming:
        print(f"  incoming p50 / raw AMQP round trip p50 = {statistics.median(incoming) / statistics.median(raw_amqp):8.1f}×;"
              f"  / raw insert p50 = {statistics.median(incoming) / statistics.median(raw_store):8.1f}×")
    if outgoing:
        print(f"  outgoing p50 / raw AMQP round trip p50 = {statistics.median(outgoing) / statistics.median(raw_amqp):8.1f}×;"
              f"  / raw insert p50 = {statistics.median(outgoing) / statistics.median(raw_store):8.1f}×")
    found = []
    for kind in ("incoming", "outgoing"):
        rows = windows(run, kind, args.window)
        found += stalls(run, kind, rows, args.window)
        p95s = [r["p95"] for r in rows if r["p95"] is not None]
        if p95s:
            print(f"  {kind}: {len(rows)} windows of {args.window:g} s, window p95 median {statistics.median(p95s):.2f} s, "
                  f"max {max(p95s):.2f} s")
    print(f"stalls (window p95 > {STALL_FACTOR:g}× the median window p95, or nothing completed while documents waited): "
          f"{len(found) or 'none'}")
    for line in found:
        print(f"  {line}")
    if found and run.probes:
        print("  what the processes said, per window flagged (axis polls done; store transactions: count, mean):")
        for line in found:
            start = float(line.split()[1].split("–")[0])
            print(f"    {line.split(':')[0]}: {probe_window(run.probes, start, start + args.window)}")
    print(f"written: {docs_csv}\n         {seconds_csv}\n         {probes_csv}\n         {png}")
    if lost["incoming"] or lost["outgoing"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
