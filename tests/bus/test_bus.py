"""Bus guarantees against the real RabbitMQ and the real store (issue 2, point 3).

Outbox → relay → confirmed publish → consumer → ack after the commit; idempotent consumers;
retry with back-off through the delay tiers; dead letters with the reason; the delivery limit;
the urgent lane overtaking a backlog (R-4.2c).
"""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import pytest

from shared.bus import topology
from shared.bus.consumer import Delivery, QueueConsumer, Reject, Retry
from shared.bus.outbox import OutboxRelay
from shared.bus.publisher import ConfirmedPublisher, PublishFailed
from shared.contracts.base import Message
from shared.db import OUTBOX, Store


class BusProbe(Message):
    type_name = "test.BusProbe.v1"
    routing_key = "test.probe"

    n: int


PROBE = topology.QueueSpec("test.probe", "test", ("test.probe",))
TEST_TOPOLOGY = topology.Topology((PROBE,))


@pytest.fixture
async def bus(settings):
    connection = await aio_pika.connect_robust(settings.amqp_url)
    async with connection.channel() as channel:
        await topology.declare(channel, TEST_TOPOLOGY)
        for name, _ in PROBE.lanes:
            await (await channel.get_queue(name)).purge()
        await (await channel.get_queue(PROBE.dead_letter_queue)).purge()
    store = Store(settings.mongodb_url, settings.database_name("bus"))
    await store.ensure_indexes()
    publisher = ConfirmedPublisher(connection, window=64, timeout=5)
    relay = OutboxRelay(store, publisher, idle_poll_seconds=0.2)
    relay_task = asyncio.create_task(relay.run())
    consumers: list[QueueConsumer] = []

    async def consume(handler, prefetch=8, max_retries=3):
        consumer = QueueConsumer(connection, publisher, PROBE, handler, prefetch=prefetch, max_retries=max_retries)
        await consumer.start()
        consumers.append(consumer)
        return consumer

    yield store, consume, connection, relay
    for consumer in consumers:
        await consumer.stop()
    relay.stop()
    await relay_task
    await connection.close()
    await store.client.drop_database(settings.database_name("bus"))
    await store.close()


async def _publish_via_outbox(store: Store, *messages: Message) -> None:
    async def work(uow):
        for message in messages:
            uow.publish(message)

    await store.transaction(work)


async def _wait_for(predicate, timeout=20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


async def _is_sent(store: Store, message_id: str) -> bool:
    row = await store.db[OUTBOX].find_one({"_id": message_id})
    return bool(row and row["state"] == "sent")


async def _dead_letters(connection, expected: int, timeout=20.0) -> list[aio_pika.abc.AbstractIncomingMessage]:
    channel = await connection.channel()
    queue = await channel.get_queue(PROBE.dead_letter_queue)
    found = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(found) < expected and asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False)
        if message is None:
            await asyncio.sleep(0.1)
            continue
        await message.ack()
        found.append(message)
    return found


async def test_outbox_message_is_delivered_once_and_marked_sent(bus):
    store, consume, _, _ = bus
    seen: list[int] = []

    async def handler(delivery: Delivery):
        seen.append(delivery.message.n)

    await consume(handler)
    await _publish_via_outbox(store, BusProbe(n=1), BusProbe(n=2))
    await _wait_for(lambda: sorted(seen) == [1, 2])
    await asyncio.sleep(0.5)  # the relay marks rows after the confirms
    rows = await store.db[OUTBOX].find({}).to_list()
    assert {row["state"] for row in rows} == {"sent"}


async def test_rolled_back_transaction_publishes_nothing(bus):
    store, consume, _, relay = bus
    seen: list[int] = []

    async def handler(delivery):
        seen.append(delivery.message.n)

    await consume(handler)

    async def failing(uow):
        uow.publish(BusProbe(n=99))
        await uow.db["things"].insert_one({"x": 1}, session=uow.session)
        raise ValueError("business rule broken")

    with pytest.raises(ValueError):
        await store.transaction(failing)
    await _publish_via_outbox(store, BusProbe(n=100))
    await _wait_for(lambda: seen == [100])
    assert await store.db[OUTBOX].count_documents({}) == 1
    assert await store.db["things"].count_documents({}) == 0


async def test_redelivered_message_changes_nothing_twice(bus):
    """Idempotent consumer: the relay re-publishes a message (crash between confirm and mark);
    the consumer's dedup mark in the same transaction makes the second delivery a no-op."""
    store, consume, _, relay = bus
    applied: list[str] = []

    async def handler(delivery: Delivery):
        async def work(uow):
            await uow.claim("probe", delivery.message_id)
            await uow.db["effects"].insert_one({"n": delivery.message.n}, session=uow.session)

        await store.transaction(work)
        applied.append(delivery.message_id)

    await consume(handler)
    message = BusProbe(n=7)
    await _publish_via_outbox(store, message)
    await _wait_for(lambda: len(applied) == 1)
    await store.db[OUTBOX].update_one({"_id": message.message_id}, {"$set": {"state": "pending"}})
    relay.wake()
    await _wait_for(lambda: _is_sent(store, message.message_id))
    await asyncio.sleep(1.0)  # time for a second delivery to be handled, had it been applied
    assert await store.db["effects"].count_documents({"n": 7}) == 1
    assert applied == [message.message_id]
    assert (await store.db[OUTBOX].find_one({"_id": message.message_id}))["state"] == "sent"


async def test_transient_failure_is_retried_with_backoff(bus):
    store, consume, _, _ = bus
    attempts: list[int] = []

    async def handler(delivery: Delivery):
        attempts.append(delivery.attempt)
        if delivery.attempt < 3:
            raise Retry("peer service away")

    await consume(handler)
    await _publish_via_outbox(store, BusProbe(n=1))
    await _wait_for(lambda: attempts == [1, 2, 3], timeout=30)


async def test_rejected_message_reaches_dead_letter_queue_with_reason(bus):
    store, consume, connection, _ = bus

    async def handler(delivery):
        raise Reject("contract says no")

    await consume(handler)
    await _publish_via_outbox(store, BusProbe(n=5))
    [dead] = await _dead_letters(connection, 1)
    assert dead.headers[topology.FAILURE_REASON_HEADER] == "contract says no"
    assert dead.headers["x-failed-queue"] == "test.probe"


async def test_retries_exhausted_go_to_dead_letter_queue_with_last_error(bus):
    store, consume, connection, _ = bus
    attempts: list[int] = []

    async def handler(delivery):
        attempts.append(delivery.attempt)
        raise RuntimeError("disk on fire")

    await consume(handler, max_retries=1)
    await _publish_via_outbox(store, BusProbe(n=5))
    [dead] = await _dead_letters(connection, 1, timeout=30)
    assert attempts == [1, 2]
    assert "disk on fire" in dead.headers[topology.FAILURE_REASON_HEADER]
    assert "gave up after 2 attempts" in dead.headers[topology.FAILURE_REASON_HEADER]


async def test_undecodable_message_is_dead_lettered_not_crashing(bus, settings):
    store, consume, connection, _ = bus
    seen = []

    async def handler(delivery):
        seen.append(delivery.message.n)

    await consume(handler)
    publisher = ConfirmedPublisher(connection)
    await publisher.publish(b"{not json", routing_key="normal.test.probe", message_id="x1", message_type=BusProbe.type_name)
    await publisher.publish(b"{}", routing_key="normal.test.probe", message_id="x2", message_type="nobody.Knows.v1")
    dead = await _dead_letters(connection, 2)
    reasons = sorted(m.headers[topology.FAILURE_REASON_HEADER] for m in dead)
    assert reasons[0].startswith("undecodable message") and reasons[1].startswith("undecodable message")
    await _publish_via_outbox(store, BusProbe(n=3))  # the consumer still works
    await _wait_for(lambda: seen == [3])


async def test_delivery_limit_dead_letters_a_message_that_keeps_failing_its_consumer(bus):
    """A message whose consumer dies every time (simulated by nack-requeue) ends in the DLQ."""
    store, _, connection, _ = bus
    await _publish_via_outbox(store, BusProbe(n=9))
    channel = await connection.channel()
    queue = await channel.get_queue("test.probe")
    requeues = 0
    deadline = asyncio.get_running_loop().time() + 30
    while asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False)
        if message is None:
            if requeues > topology.DELIVERY_LIMIT:
                break
            await asyncio.sleep(0.05)
            continue
        requeues += 1
        await message.nack(requeue=True)
    [dead] = await _dead_letters(connection, 1)
    assert dead.headers["x-death"][0]["reason"] == "delivery_limit"
    assert requeues == topology.DELIVERY_LIMIT + 1


async def test_urgent_lane_overtakes_a_backlog(bus):
    """R-4.2c: an urgent message published after 60 normal ones is handled before most of them."""
    store, consume, _, _ = bus
    order: list[int] = []

    async def handler(delivery: Delivery):
        await asyncio.sleep(0.05)  # a slow consumer, so a backlog builds
        order.append(delivery.message.n)

    await _publish_via_outbox(store, *[BusProbe(n=i) for i in range(60)])
    await _publish_via_outbox(store, BusProbe(n=999, urgent=True))
    await asyncio.sleep(1.0)  # all are queued before anyone consumes
    await consume(handler, prefetch=1)
    await _wait_for(lambda: len(order) == 61, timeout=30)
    assert order.index(999) <= 2


async def test_publish_to_an_unreachable_broker_fails_fast_and_keeps_the_outbox_row(settings):
    store = Store(settings.mongodb_url, settings.database_name("bus2"))
    await store.ensure_indexes()
    try:
        connection = await aio_pika.connect_robust(settings.amqp_url)
        publisher = ConfirmedPublisher(connection, timeout=1)
        relay = OutboxRelay(store, publisher)
        await _publish_via_outbox(store, BusProbe(n=1))
        await connection.close()  # the broker goes away
        with pytest.raises(PublishFailed):
            await relay.relay_once()
        row = await store.db[OUTBOX].find_one({})
        assert row["state"] == "pending" and row["attempts"] == 1
    finally:
        await store.client.drop_database(settings.database_name("bus2"))
        await store.close()


async def test_unroutable_message_is_an_error_not_a_silent_drop(bus):
    _, _, connection, _ = bus
    publisher = ConfirmedPublisher(connection, timeout=5)
    with pytest.raises(PublishFailed):
        await publisher.publish(b"{}", routing_key=f"normal.nobody.listens.{uuid.uuid4().hex}", message_id="m", message_type="x")
