"""Two replicas relaying one outbox (issue 7 item 7; R-13): every replica of a service runs a
relay over the same `outbox` collection. Each message is published once, not once per replica
(the consumers would ignore the copy, but only after the work: intake verified a package twice),
and a lease a dead replica left behind is taken over. Real RabbitMQ, real store."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter

import aio_pika
import pytest

from shared.bus import topology
from shared.bus.outbox import OutboxRelay
from shared.bus.publisher import ConfirmedPublisher
from shared.clock import utcnow
from shared.contracts.base import Message
from shared.db import OUTBOX, Store


class ReplicaProbe(Message):
    type_name = "test.ReplicaProbe.v1"
    routing_key = "test.replica-probe"

    n: int


PROBE = topology.QueueSpec("test.replica-probe", "test", ("test.replica-probe",))
N = 300


@pytest.fixture
async def two_relays(settings):
    connection = await aio_pika.connect_robust(settings.amqp_url)
    async with connection.channel() as channel:
        await topology.declare(channel, topology.Topology((PROBE,)))
        for name, _ in PROBE.lanes:
            await (await channel.get_queue(name)).purge()
    name = settings.database_name("relays")
    stores = [Store(settings.mongodb_url, name), Store(settings.mongodb_url, name)]  # two processes
    await stores[0].ensure_indexes()
    relays = [OutboxRelay(s, ConfirmedPublisher(connection, window=64, timeout=5), idle_poll_seconds=0.05) for s in stores]
    yield stores, relays, connection
    await connection.close()
    await stores[0].client.drop_database(name)
    for store in stores:
        await store.close()


async def _received(connection, expected: int, timeout: float = 60.0) -> Counter:
    channel = await connection.channel()
    queue = await channel.get_queue(PROBE.name)
    seen: Counter = Counter()
    deadline = asyncio.get_running_loop().time() + timeout
    while sum(seen.values()) < expected and asyncio.get_running_loop().time() < deadline:
        message = await queue.get(fail=False)
        if message is None:
            await asyncio.sleep(0.05)
            continue
        await message.ack()
        seen[message.message_id] += 1
    # Anything more (a second copy) would arrive now.
    await asyncio.sleep(1.0)
    while (message := await queue.get(fail=False)) is not None:
        await message.ack()
        seen[message.message_id] += 1
    await channel.close()
    return seen


async def test_two_relays_publish_each_message_once(two_relays):
    stores, relays, connection = two_relays
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        for start in range(0, N, 30):  # commits on both "replicas", as their handlers would
            async def work(uow, start=start):
                for n in range(start, start + 30):
                    uow.publish(ReplicaProbe(n=n))
            await stores[(start // 30) % 2].transaction(work)
        seen = await _received(connection, N)
    finally:
        for relay in relays:
            relay.stop()
        await asyncio.gather(*tasks)
    assert len(seen) == N, f"{N - len(seen)} messages not published"
    assert set(seen.values()) == {1}, f"published twice: {[m for m, c in seen.items() if c > 1][:5]}"
    assert await stores[0].db[OUTBOX].count_documents({"state": "sent"}) == N


async def test_a_lease_left_by_a_dead_replica_is_taken_over(two_relays):
    stores, relays, connection = two_relays

    async def work(uow):
        uow.publish(ReplicaProbe(n=1))

    await stores[0].transaction(work)
    # The first replica took the row and died before publishing it.
    await stores[0].db[OUTBOX].update_many({}, {"$set": {"lease_owner": "dead", "lease_until": utcnow() + dt.timedelta(seconds=1)}})
    assert await relays[1].relay_once() == 0  # still leased
    await asyncio.sleep(1.2)
    assert await relays[1].relay_once() == 1  # lapsed: taken over and published
    assert sum((await _received(connection, 1, timeout=10)).values()) == 1
