"""Pushes N signed envelopes through the running system and prints documents/s and p50/p99
latency from the gateway's receipt to registration — and, in the same run, the raw cost of
the parts (pyHanko validation alone, one confirmed publish alone, one store insert alone), so
the ratio to that limit is visible. Figures are machine-noisy: read the ratios.

    .venv/bin/python bench/bench_pipeline.py -n 200

It starts its own isolated stack (free ports, its own RabbitMQ vhost when rabbitmqctl is at
hand, an embedded store), with the gateway's poll interval long so that the whole batch waits
at the axis and is taken in one go when the benchmark says "poll".
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.stack import StackOptions, start_stack  # noqa: E402
from shared.auth import PORTAL_ISSUER, TokenIssuer  # noqa: E402
from shared.db import Store  # noqa: E402

SENDER = "000.01.00.H56"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def parse_time(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


async def raw_validation(pdf: bytes, trust_pem: Path, repeat: int) -> float:
    """pyHanko validation of the same signed PDF, no service around it: seconds per document."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext
    from asn1crypto import pem, x509 as asn1_x509

    roots = [asn1_x509.Certificate.load(der) for _, _, der in pem.unarmor(trust_pem.read_bytes(), multiple=True)]
    started = time.perf_counter()
    for _ in range(repeat):
        reader = PdfFileReader(io.BytesIO(pdf))
        for signature in reader.embedded_signatures:
            await async_validate_pdf_signature(signature, ValidationContext(trust_roots=roots, allow_fetching=False))
    return (time.perf_counter() - started) / repeat


async def raw_publish(amqp_url: str, repeat: int) -> tuple[float, float]:
    """A confirmed, persistent 1 KiB publish: seconds per message waiting for each confirm,
    and with the bounded window (256 in flight)."""
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    queue = await channel.declare_queue(f"bench.{uuid.uuid4().hex}", durable=True, arguments={"x-queue-type": "quorum"})
    body = b"x" * 1024
    confirm_channel = await connection.channel(publisher_confirms=True)

    async def one(i):
        # Straight to the queue through the default exchange: no routing cost in the figure.
        message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=str(i))
        await confirm_channel.default_exchange.publish(message, routing_key=queue.name)

    started = time.perf_counter()
    for i in range(repeat):
        await one(i)
    sequential = (time.perf_counter() - started) / repeat
    window = asyncio.Semaphore(256)

    async def windowed(i):
        async with window:
            await one(i)

    started = time.perf_counter()
    await asyncio.gather(*(windowed(i) for i in range(repeat)))
    pipelined = (time.perf_counter() - started) / repeat
    await queue.delete(if_unused=False, if_empty=False)  # quorum queues refuse if-unused
    await connection.close()
    return sequential, pipelined


async def raw_insert(mongodb_url: str, repeat: int) -> tuple[float, float]:
    """One insert_one alone, and one transaction with two inserts (what a unit of work does)."""
    store = Store(mongodb_url, f"bench_{uuid.uuid4().hex[:8]}")
    started = time.perf_counter()
    for i in range(repeat):
        await store.db.raw.insert_one({"i": i, "payload": "x" * 512})
    insert = (time.perf_counter() - started) / repeat

    async def work(uow):
        await uow.db.tx.insert_one({"payload": "x" * 512}, session=uow.session)
        await uow.db.tx_outbox.insert_one({"payload": "y" * 256}, session=uow.session)

    started = time.perf_counter()
    for _ in range(repeat):
        await store.transaction(work)
    transaction = (time.perf_counter() - started) / repeat
    await store.client.drop_database(store.db.name)
    await store.close()
    return insert, transaction


def as_clerk(keys_dir: str) -> dict[str, str]:
    """A fresh short-lived token for the clerk, as the portal mints per call (R-15.5)."""
    return TokenIssuer(keys_dir, PORTAL_ISSUER).headers("vanthu", "clerk", "Trần Thị Mai")


def as_service(keys_dir: str, service: str = "intake") -> dict[str, str]:
    """A service's own token: blobs by hash are for services only."""
    return {"Authorization": f"Bearer {TokenIssuer(keys_dir, service).service_token()}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=200, help="envelopes to push")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()

    var = Path(tempfile.mkdtemp(prefix="vanthu-bench-"))
    vhost = f"vanthu-bench-{uuid.uuid4().hex[:6]}"
    amqp_url = None
    if shutil.which("rabbitmqctl") and subprocess.run(["rabbitmqctl", "add_vhost", vhost], capture_output=True).returncode == 0:
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], capture_output=True)
        amqp_url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    print(f"starting an isolated stack in {var} …", flush=True)
    stack = start_stack(StackOptions.isolated(var, amqp_url=amqp_url, axis_poll_interval=3600))
    try:
        urls = {k: stack.env[f"{k.upper()}_URL"] for k in ("gateway", "intake", "axis")}
        keys = stack.env["AUTH_KEYS_DIR"]
        print(f"loading {args.n} signed envelopes at the axis …", flush=True)
        loaded = 0
        while loaded < args.n:
            batch = min(50, args.n - loaded)
            r = httpx.post(f"{urls['axis']}/_sim/agencies/{SENDER}/send", json={"count": batch, "subject": "Văn bản đo hiệu năng"}, timeout=600)
            r.raise_for_status()
            loaded += batch
        print("poll → verify → register …", flush=True)
        started = time.perf_counter()
        httpx.post(f"{urls['gateway']}/poll", headers=as_clerk(keys), timeout=10).raise_for_status()
        deadline = time.monotonic() + 1800
        while True:
            response = httpx.get(f"{urls['intake']}/documents?state=registered&limit=500", headers=as_clerk(keys), timeout=30)
            response.raise_for_status()
            docs = response.json()
            if len(docs) >= args.n:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(docs)} of {args.n} registered in time")
            time.sleep(0.5)
        wall = time.perf_counter() - started
        docs = docs[: args.n]
        latencies = [(parse_time(d["registered_at"]) - parse_time(d["arrived_at"])).total_seconds() for d in docs]
        first = min(parse_time(d["arrived_at"]) for d in docs)
        last = max(parse_time(d["registered_at"]) for d in docs)
        throughput = args.n / (last - first).total_seconds()

        # Raw parts, same machine, same moment.
        sample = docs[0]
        package_sha = httpx.get(f"{urls['gateway']}/packages/{sample['package_id']}", headers=as_clerk(keys)).json()["package"]["sha256"]
        from shared.edxml import parse_edoc

        blob = httpx.get(f"{urls['gateway']}/blobs/{package_sha}", headers=as_service(keys))
        blob.raise_for_status()
        pdf = parse_edoc(blob.content).attachments[0].content
        trust = var / "axis" / "pki" / "trust-roots.pem"
        validation = asyncio.run(raw_validation(pdf, trust, 50))
        publish_seq, publish_window = asyncio.run(raw_publish(stack.env["AMQP_URL"], 2000))
        insert, transaction = asyncio.run(raw_insert(stack.env["MONGODB_URL"], 500))
    finally:
        stack.stop_all()
        if amqp_url:
            subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)
        if not args.keep:
            shutil.rmtree(var, ignore_errors=True)

    per_doc = 1 / throughput
    print()
    print(f"pipeline: {args.n} documents, gateway receipt → registration (verified, numbered, 01+03 queued)")
    print(f"  throughput           {throughput:8.1f} documents/s   ({per_doc * 1000:.1f} ms per document; wall {wall:.1f} s)")
    print(f"  latency p50 / p99    {statistics.median(latencies) * 1000:8.0f} / {percentile(latencies, 99) * 1000:.0f} ms  (queueing included: the whole batch arrives at once)")
    print("raw parts, alone, same run:")
    print(f"  pyHanko validation   {validation * 1000:8.1f} ms per document (2 signatures)  → pipeline/raw = {per_doc / validation:.2f}×")
    print(f"  confirmed publish    {publish_seq * 1000:8.2f} ms waiting each confirm, {publish_window * 1000:.3f} ms with 256 in flight")
    print(f"  store insert_one     {insert * 1000:8.2f} ms;  transaction (2 inserts) {transaction * 1000:.2f} ms")
    print("  (a document costs intake ~1 validation + 3 transactions + ~4 publishes, over 2 cores shared by 7 processes)")


if __name__ == "__main__":
    main()
