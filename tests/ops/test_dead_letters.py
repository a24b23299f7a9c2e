"""Dead letters kept, replayed and discarded by the operator (issue 7 item 3; R-13), against the
whole system as processes, the real broker and store.

A message no consumer can use lands in its queue's DLQ; the service moves it into its store
(`dead_letters`) with the reason, leaving the DLQ empty. The operator (and nobody else) reads it,
replays it with a reason — it reaches the consumer again; if it fails again it comes back as a new
entry while the first says who replayed it and why — or discards it with a required reason.
A message that failed because what it needed was missing is replayed once that is there, and
then succeeds. Every change is in the service's audit log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import re
import uuid

import aio_pika
import httpx
import pytest
from pymongo import MongoClient

from devstack.stack import StackOptions, start_stack
from shared.blobs import BlobStore
from shared.bus.topology import EVENTS_EXCHANGE
from shared.contracts.messages import BlobRef, PackageReceived
from shared.db import Store
from staff_http import http
from tests.e2e.test_round_trip import wait_until

pytestmark = pytest.mark.e2e
OPERATOR = "vanhanh"
PROVINCE_OFFICE = "000.01.00.H56"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, mongodb_url, amqp_url):
    # One retry before the DLQ (instead of five over ~13 minutes), so a missing dependency dead-letters quickly.
    started = start_stack(StackOptions.isolated(
        tmp_path_factory.mktemp("system"), amqp_url=amqp_url, mongodb_url=mongodb_url,
        database_prefix=f"ops{uuid.uuid4().hex[:8]}", axis_poll_interval=0.5, extra_env={"BUS_MAX_RETRIES": "1"}))
    http.use_keys(started.env["AUTH_KEYS_DIR"])
    yield started
    started.stop_all()


def publish(amqp_url: str, body: bytes, *, routing_key: str, message_type: str, message_id: str) -> None:
    async def send() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EVENTS_EXCHANGE)
            await exchange.publish(aio_pika.Message(body, message_id=message_id, type=message_type,
                                                    content_type="application/json",
                                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                                   routing_key=routing_key, mandatory=True)

    asyncio.run(send())


def queue_depth(amqp_url: str, queue: str) -> int:
    async def depth() -> int:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            return int(declared.declaration_result.message_count)

    return asyncio.run(depth())


def ops(base: str, path: str = "", *, method: str = "GET", as_: str = OPERATOR, **kwargs) -> httpx.Response:
    return http.request(method, f"{base}/ops/dead-letters{path}", as_=as_, timeout=30, **kwargs)


def open_entries(base: str, message_id: str) -> list[dict]:
    answer = ops(base, params={"state": "open"})
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json() if e["message_id"] == message_id]


def audit(stack, service: str, subject_id: str) -> list[dict]:
    with MongoClient(stack.env["MONGODB_URL"], tz_aware=True) as client:
        db = client[f"{stack.env['DATABASE_PREFIX']}_{service}"]
        return list(db["audit_log"].find({"subject_type": "dead_letter", "subject_id": subject_id}, sort=[("at", 1)]))


def test_an_undecodable_message_is_kept_replayed_comes_back_and_is_discarded_with_a_reason(stack):
    intake = stack.env["INTAKE_URL"]
    amqp_url = stack.env["AMQP_URL"]
    message_id = uuid.uuid4().hex
    body = b'{"package_id": "half a message'
    publish(amqp_url, body, routing_key="normal.gateway.package.received",
            message_type=PackageReceived.type_name, message_id=message_id)

    [first] = wait_until(lambda: open_entries(intake, message_id), bool, timeout=60, what="the dead letter kept")
    assert first["reason"].startswith("undecodable message")
    assert first["failed_queue"] == "intake.packages" and first["queue"] == "intake.packages"
    assert first["routing_key"] == "normal.gateway.package.received"
    assert first["message_type"] == PackageReceived.type_name and first["state"] == "open" and first["replays"] == 0
    # moved out of the queue: nothing waits in the DLQ itself
    assert wait_until(lambda: queue_depth(amqp_url, "intake.packages.dlq"), lambda n: n == 0, timeout=30) == 0

    detail = ops(intake, f"/{first['id']}")
    assert detail.status_code == 200
    shown = detail.json()
    assert shown["body"] == body.decode() and shown["body_encoding"] == "utf-8"
    assert shown["headers"]["x-failure-reason"] == first["reason"]
    assert shown["headers"]["x-failed-queue"] == "intake.packages"

    # operator only: the clerk, the chairman and a service are refused by the rule
    for who in ("vanthu", "chutich"):
        assert ops(intake, params={"state": "open"}, as_=who).status_code == 403
        assert ops(intake, f"/{first['id']}/replay", method="POST", json={"reason": "x"}, as_=who).status_code == 403
    service_call = httpx.get(f"{intake}/ops/dead-letters", timeout=30,
                             headers={"Authorization": f"Bearer {http.service_token('archive')}"})
    assert service_call.status_code == 403
    assert httpx.get(f"{intake}/ops/dead-letters", timeout=30).status_code == 401
    assert ops(intake, params={"state": "lost"}).status_code == 422

    # a replay names its reason
    assert ops(intake, f"/{first['id']}/replay", method="POST", json={"reason": "  "}).status_code == 422
    replayed = ops(intake, f"/{first['id']}/replay", method="POST", json={"reason": "Thử lại sau khi kiểm tra"})
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["state"] == "replayed" and replayed.json()["replayed_by"] == f"user:{OPERATOR}"
    assert ops(intake, f"/{first['id']}/replay", method="POST", json={"reason": "again"}).status_code == 409
    assert ops(intake, f"/{first['id']}/discard", method="POST", json={"reason": "x"}).status_code == 409

    # it reached the consumer again, failed again, and came back as a new entry
    [second] = wait_until(lambda: open_entries(intake, message_id), bool, timeout=60, what="the replay dead-lettered again")
    assert second["id"] != first["id"] and second["replays"] == 1 and second["reason"].startswith("undecodable message")
    assert second["retry_count"] == 0  # the replay started its retries again
    kept = ops(intake, f"/{first['id']}").json()
    assert kept["state"] == "replayed" and kept["replayed_reason"] == "Thử lại sau khi kiểm tra"
    assert [(h["action"], h["by"], h["reason"]) for h in kept["history"]] == [
        ("replayed", f"user:{OPERATOR}", "Thử lại sau khi kiểm tra")]
    assert ops(intake, f"/{second['id']}").json()["headers"]["x-replayed-by"] == f"user:{OPERATOR}"

    # discarding needs a reason too
    for missing in ({}, {"reason": ""}, {"reason": "   "}):
        assert ops(intake, f"/{second['id']}/discard", method="POST", json=missing).status_code == 422, missing
    discarded = ops(intake, f"/{second['id']}/discard", method="POST", json={"reason": "Gói tin hỏng, bên gửi sẽ gửi lại"})
    assert discarded.status_code == 200 and discarded.json()["state"] == "discarded"
    assert discarded.json()["discarded_by"] == f"user:{OPERATOR}"
    assert not open_entries(intake, message_id)
    listed = {e["id"]: e["state"] for e in ops(intake).json()}
    assert listed[first["id"]] == "replayed" and listed[second["id"]] == "discarded"

    # every change in intake's audit log, as who did it
    assert [(a["action"], a["actor"]) for a in audit(stack, "intake", first["id"])] == [
        ("dead_letter.received", "system:intake"), ("dead_letter.replayed", f"user:{OPERATOR}")]
    trail = audit(stack, "intake", second["id"])
    assert [(a["action"], a["actor"]) for a in trail] == [
        ("dead_letter.received", "system:intake"), ("dead_letter.discarded", f"user:{OPERATOR}")]
    assert trail[-1]["details"]["reason"] == "Gói tin hỏng, bên gửi sẽ gửi lại"

    # the operator's figures: the status says how many are open per queue, and so does /metrics
    status = http.get(f"{intake}/ops/status", as_=OPERATOR, timeout=30).json()
    assert status["service"] == "intake" and status["ready"]["store"] is True
    assert status["dead_letters_open"].get("intake.packages", 0) == 0
    assert any(e.get("event") == "message dead-lettered" for e in status["recent_errors"])

    def gauge() -> float | None:
        text = httpx.get(f"{intake}/metrics", timeout=30).text
        found = re.search(r'^vanthu_dead_letters_open\{queue="intake\.packages"\} (\S+)$', text, re.M)
        return float(found.group(1)) if found else None

    assert wait_until(gauge, lambda v: v == 0.0, timeout=40, interval=2, what="the gauge") == 0.0


def test_a_message_that_failed_for_a_missing_package_succeeds_when_replayed_after_the_repair(stack):
    intake, amqp_url = stack.env["INTAKE_URL"], stack.env["AMQP_URL"]
    tag = uuid.uuid4().hex[:8]
    raw = f"<edXML>not a readable package {tag}</edXML>".encode()
    ref = BlobRef(sha256=hashlib.sha256(raw).hexdigest(), size=len(raw), media_type="application/xml",
                  name=f"{tag}.edxml", service="gateway")
    message = PackageReceived(package_id=f"ops-{tag}", axis_doc_id=f"axis-{tag}", axis_sender=PROVINCE_OFFICE,
                              sender_organ_id=PROVINCE_OFFICE, document_id=f"doc-{tag}", business_doc_type=0,
                              package=ref, received_at=dt.datetime.now(dt.UTC))
    publish(amqp_url, message.model_dump_json().encode(), routing_key=message.full_routing_key(),
            message_type=message.message_type(), message_id=message.message_id)

    # the gateway has no such package: retried once, then kept as a dead letter with the last error
    [entry] = wait_until(lambda: open_entries(intake, message.message_id), bool, timeout=90, what="the dead letter")
    assert entry["reason"].startswith("gave up after 2 attempts: package not fetched from the gateway"), entry["reason"]
    assert entry["retry_count"] == 1 and entry["failed_queue"] == "intake.packages"
    by_package = f"{intake}/documents/by-package/{message.package_id}"
    assert http.get(by_package, timeout=30).status_code == 404  # nothing of it in intake

    # the repair: the package is in the gateway's store now (as if its copy had been restored)
    async def restore() -> None:
        store = Store(stack.env["MONGODB_URL"], f"{stack.env['DATABASE_PREFIX']}_gateway")
        try:
            assert await BlobStore(store, "gateway").put(raw, media_type=ref.media_type, name=ref.name) == ref
        finally:
            await store.close()

    asyncio.run(restore())
    replayed = ops(intake, f"/{entry['id']}/replay", method="POST", json={"reason": "Đã khôi phục gói tin ở cổng kết nối"})
    assert replayed.status_code == 200, replayed.text

    # handled this time: the arrival is recorded and, unreadable, refused with its report
    document = wait_until(lambda: http.get(by_package, timeout=30), lambda r: r.status_code == 200
                          and r.json().get("state") == "refused", timeout=90, what="the replayed package handled").json()
    assert document["package_id"] == message.package_id
    assert not open_entries(intake, message.message_id)  # it did not fail again
    assert ops(intake, f"/{entry['id']}").json()["state"] == "replayed"
