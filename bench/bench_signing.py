"""Signatures per second through the signing service (bus → custody check → token → pyHanko →
store → confirmed publish) against pyHanko signing with the same SoftHSM2 token directly, in the
same run (issue 4). Both make the same visible leader signature on the same PDF; the stack runs
without a time-stamping server so both are PAdES B-B (with --tsa the service adds B-T and the
raw side uses the same local TSA).

    .venv/bin/python bench/bench_signing.py -n 200

The raw side runs while the stack is down, so the two do not compete for the two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.stack import StackOptions, start_stack  # noqa: E402
from shared.blobs import BlobStore  # noqa: E402
from shared.bus.publisher import ConfirmedPublisher  # noqa: E402
from shared.contracts.messages import SignatureRequested  # noqa: E402
from shared.db import Store  # noqa: E402
from shared.pdfdocs import render_document  # noqa: E402


async def through_the_service(env: dict, n: int) -> tuple[float, list[float]]:
    """Publishes n leader-signature requests at once; seconds from the first publish to the
    last signature recorded, and each request's time in the service."""
    store = Store(env["MONGODB_URL"], f"{env['DATABASE_PREFIX']}_signing")
    blob = await BlobStore(store, "signing").put(render_document().pdf, media_type="application/pdf", name="bench.pdf")
    connection = await aio_pika.connect_robust(env["AMQP_URL"])
    publisher = ConfirmedPublisher(connection)
    requests = [SignatureRequested(request_id=uuid.uuid4().hex, document_key=f"bench-{i}", role="leader", key_label="chairman",
                                   pdf=blob, requested_by_user="chutich", reason="Đo hiệu năng") for i in range(n)]
    started = time.time()
    await asyncio.gather(*(publisher.publish(m.model_dump_json().encode(), routing_key=m.full_routing_key(),
                                             message_id=m.message_id, message_type=m.type_name) for m in requests))
    while await store.db["signatures"].count_documents({"outcome": "signed"}) < n:
        await asyncio.sleep(0.2)
    rows = await store.db["signatures"].find({}, projection={"at": 1}).to_list()
    finished = max(r["at"].timestamp() for r in rows)
    await connection.close()
    await store.close()
    per_request = sorted(r["at"].timestamp() - started for r in rows)
    return finished - started, per_request


async def raw_pyhanko(token_dir: Path, n: int, tsa_url: str | None) -> float:
    """The same signature with pyHanko and the same token key, no service: seconds in all."""
    from pyhanko.sign.timestamps.requests_client import HTTPTimeStamper

    from services.signing.adapters.flows import sign_as_leader
    from services.signing.adapters.token import TokenKeyRing
    from services.signing.adapters.token_setup import DEV_USER_PIN

    ring = TokenKeyRing(token_label="vanthu", user_pin=DEV_USER_PIN, module_path="/usr/lib/softhsm/libsofthsm2.so",
                        chain=[token_dir / "pki" / "ca.crt.pem"], softhsm_conf=token_dir / "softhsm2.conf")
    await ring.open(["chairman"])
    signature_png = (token_dir / "images" / "chairman-signature.png").read_bytes()
    pdf = render_document().pdf
    extra = {"timestamper": HTTPTimeStamper(tsa_url)} if tsa_url else {}
    started = time.perf_counter()
    for _ in range(n):
        await sign_as_leader(pdf, key=ring.key("chairman"), signature_png=signature_png, reason="Đo hiệu năng", **extra)
    elapsed = time.perf_counter() - started
    await ring.aclose()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--tsa", action="store_true", help="B-T on both sides, with the local time-stamping server")
    args = parser.parse_args()
    var = Path(tempfile.mkdtemp(prefix="vanthu-bench-signing-"))
    vhost = f"vanthu-bench-{uuid.uuid4().hex[:6]}"
    amqp_url = None
    if shutil.which("rabbitmqctl") and subprocess.run(["rabbitmqctl", "add_vhost", vhost], capture_output=True).returncode == 0:
        subprocess.run(["rabbitmqctl", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], capture_output=True)
        amqp_url = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    stack = start_stack(StackOptions.isolated(var, amqp_url=amqp_url, with_tsa=args.tsa, axis_poll_interval=3600))
    try:
        wall, per_request = asyncio.run(through_the_service(stack.env, args.n))
        tsa_url = stack.env.get("TSA_URL") if args.tsa else None
        if not tsa_url:
            stack.stop_all()
        # The token is SoftHSM2 files: the same key, read by this process once the service let go.
        import os

        os.environ["SOFTHSM2_CONF"] = str(var / "token" / "softhsm2.conf")
        raw = asyncio.run(raw_pyhanko(var / "token", args.n, tsa_url))
    finally:
        stack.stop_all()
        if amqp_url:
            subprocess.run(["rabbitmqctl", "delete_vhost", vhost], capture_output=True)
        shutil.rmtree(var, ignore_errors=True)
    service_rate, raw_rate = args.n / wall, args.n / raw
    level = "PAdES B-T" if args.tsa else "PAdES B-B"
    print(f"\n{args.n} visible leader signatures ({level}), SoftHSM2 token, same PDF")
    print(f"  through the signing service: {service_rate:6.1f} signatures/s  ({wall:.1f} s; "
          f"median request done after {statistics.median(per_request):.1f} s of a burst of {args.n})")
    print(f"  pyHanko with the token directly: {raw_rate:6.1f} signatures/s  ({raw:.1f} s)")
    print(f"  service / raw: {service_rate / raw_rate:.2f}")


if __name__ == "__main__":
    main()
